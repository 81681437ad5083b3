import StagelinkEngine
import StagelinkHTTP

/// Salesforce's error bodies turned into the engine's errors.
///
/// A failed call answers `[{"errorCode","message","fields"}]`; a record of a collection answers
/// `{"success":false,"errors":[{"statusCode","message","fields"}]}`. Both keep the remote body.
enum SalesforceErrors {
    /// The error of a call Salesforce refused as a whole (a status other than 2xx).
    static func callError(_ response: HTTPResponse) -> RemoteCallError {
        let error = linkError(errorsIn: try? JSONValue(parsing: response.body), codeKey: "errorCode", remoteBody: response.bodyText)
            ?? LinkError(code: ErrorCode.httpStatus(response.status), message: "Salesforce answered \(response.status)", remoteBody: response.bodyText)
        let kind: RemoteCallError.Kind
        switch (response.status, error.catalogued) {
        // The limit on concurrent long requests passes as they finish; the daily limit stops the job.
        case (_, .requestLimitExceeded?): kind = SalesforceLimits.isConcurrencyLimit(error.message) ? .transient : .limitReached
        case (401, _): kind = .unauthorized
        default: kind = .rejected
        }
        return RemoteCallError(kind, error)
    }

    /// Whether a 401 says the session token expired or was revoked (and so is worth renewing).
    static func isExpiredSession(_ response: HTTPResponse) -> Bool {
        guard response.status == 401 else { return false }
        guard let code = (try? JSONValue(parsing: response.body))?[0]?["errorCode"]?.stringValue else { return true }
        return code == ErrorCode.invalidSessionID.rawValue
    }

    /// One `LinkError` from a list of Salesforce errors: the first code, every message, every field.
    static func linkError(errorsIn value: JSONValue?, codeKey: String, remoteBody: String) -> LinkError? {
        guard let errors = value?.arrayValue, let code = errors.first?[codeKey]?.stringValue else { return nil }
        let messages = errors.compactMap { $0["message"]?.stringValue }
        var fields: [String] = []
        for field in errors.flatMap({ $0["fields"]?.arrayValue ?? [] }).compactMap(\.stringValue) where !fields.contains(field) {
            fields.append(field)
        }
        return LinkError(code: code, message: messages.joined(separator: "; "), fields: fields, remoteBody: remoteBody)
    }

    static func malformed(_ what: String) -> RemoteCallError {
        RemoteCallError(.malformedResponse, LinkError(.malformedResponse, message: what))
    }
}
