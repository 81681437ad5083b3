import StagelinkEngine
import StagelinkHTTP

/// `OperationOutcome` answers turned into the engine's errors.
///
/// The code is the first issue's `code` (`invalid`, `conflict`, `not-found`), except for a 412,
/// whose meaning depends on the precondition that failed (FHIR R4 http.html): on a conditional
/// create (`If-None-Exist`) several resources matched — `MULTIPLE_MATCHES`, lasting, a duplicate a
/// person must settle; on an update with `If-Match` the version moved on — `VERSION_MOVED`,
/// transient, tried again after the next pull reads the new version (Oracle Health answers some
/// stale patches with 409, op-appointment-id-patch.html: the same meaning). The message is the issue's
/// `diagnostics` (or `details.text`); the fields come from `expression` (or the older `location`).
/// The whole answer is kept as the remote body.
enum FHIRErrors {
    /// The precondition a write carried, which decides what its 412 means.
    enum Precondition {
        case ifNoneExist
        case ifMatch
    }

    /// The per-record error of a write the server refused.
    static func linkError(_ response: HTTPResponse, precondition: Precondition? = nil) -> LinkError {
        let issue = (try? JSONValue(parsing: response.body)).flatMap { outcome -> JSONValue? in
            outcome["resourceType"]?.stringValue == "OperationOutcome" ? outcome["issue"]?[0] : nil
        }
        let code: String =
            switch (response.status, precondition) {
            case (412, .ifNoneExist?): ErrorCode.multipleMatches.rawValue
            case (412, .ifMatch?), (409, .ifMatch?): ErrorCode.versionMoved.rawValue
            default: issue?["code"]?.stringValue ?? ErrorCode.httpStatus(response.status)
            }
        let message = issue?["diagnostics"]?.stringValue ?? issue?["details"]?["text"]?.stringValue
            ?? "the EMR answered \(response.status)"
        let paths = issue?["expression"]?.arrayValue ?? issue?["location"]?.arrayValue ?? []
        return LinkError(code: code, message: message, fields: paths.compactMap(\.stringValue), remoteBody: response.bodyText)
    }

    /// The error of a call refused as a whole: 401/403 stop the job, other statuses reject it.
    static func callError(_ response: HTTPResponse) -> RemoteCallError {
        let kind: RemoteCallError.Kind = response.status == 401 || response.status == 403 ? .unauthorized : .rejected
        return RemoteCallError(kind, linkError(response))
    }

    static func malformed(_ what: String) -> RemoteCallError {
        RemoteCallError(.malformedResponse, LinkError(.malformedResponse, message: what))
    }
}
