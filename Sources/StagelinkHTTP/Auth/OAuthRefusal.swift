import StagelinkEngine

/// A token endpoint's refusal (RFC 6749 §5.2: `{"error","error_description"}`) as the error that
/// stops the job: the code is OAuth's (`invalid_grant`, `invalid_client`), the answer is kept.
///
/// For example:
///
/// ```swift
/// guard response.isSuccess else { throw OAuthRefusal.error(response) }
/// ```
public enum OAuthRefusal {
    public static func error(_ response: HTTPResponse) -> RemoteCallError {
        let body = try? JSONValue(parsing: response.body)
        let code = body?["error"]?.stringValue ?? ErrorCode.httpStatus(response.status)
        let message = body?["error_description"]?.stringValue ?? "the token endpoint answered \(response.status)"
        return RemoteCallError(.unauthorized, LinkError(code: code, message: message, remoteBody: response.bodyText))
    }
}
