import StagelinkEngine
import StagelinkHTTP

/// `OperationOutcome` answers turned into the engine's errors.
///
/// The code is the first issue's `code` (`invalid`, `conflict`, `not-found`), except that every
/// 412 is `PRECONDITION_FAILED`, which the engine retries on a later cycle after reading the
/// current version; the message is the issue's `diagnostics` (or `details.text`); the fields come
/// from `expression` (or the older `location`). The whole answer is kept as the remote body.
enum FHIRErrors {
    /// The per-record error of a write the server refused.
    static func linkError(_ response: HTTPResponse) -> LinkError {
        let issue = (try? JSONValue(parsing: response.body)).flatMap { outcome -> JSONValue? in
            outcome["resourceType"]?.stringValue == "OperationOutcome" ? outcome["issue"]?[0] : nil
        }
        let code = response.status == 412 ? "PRECONDITION_FAILED" : issue?["code"]?.stringValue ?? "HTTP_\(response.status)"
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
        RemoteCallError(.malformedResponse, LinkError(code: "MALFORMED_RESPONSE", message: what))
    }
}
