import Foundation

/// One HTTP call as the clients describe it: method, absolute URL, headers, body, and whether
/// repeating it is safe when its outcome is unknown.
///
/// For example:
///
/// ```swift
/// var request = HTTPRequest(.get, url: searchURL, retry: .idempotent)
/// request.headers["Accept"] = "application/fhir+json"
/// ```
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable, Hashable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case patch = "PATCH"
        case delete = "DELETE"
    }

    /// Whether a call may be sent again when it timed out or its connection dropped after it
    /// was sent, that is, when nobody knows whether the server acted on it.
    public enum RetrySafety: Sendable, Hashable {
        /// Sending it twice has the effect of sending it once (GET, PUT, an upsert by external id,
        /// a token request).
        case idempotent
        /// A create guarded by `If-None-Exist`: the second send finds what the first one made.
        case conditionalCreate
        /// Sending it twice may act twice: retried only when it surely never reached the server
        /// (the connection could not be made) or the server said it did not act (429, 503).
        case nonIdempotent

        public var allowsRetryWithUnknownOutcome: Bool { self != .nonIdempotent }
    }

    public var method: Method
    public var url: URL
    public var headers: HTTPHeaders
    public var body: [UInt8]?
    public var retry: RetrySafety
    /// How many records the call carries, for the log line.
    public var recordCount: Int?
    /// Replaces the configured whole-request deadline for this call.
    public var timeout: Duration?
    /// Whether a 2xx answer's body is handed on in pieces as it arrives
    /// (``HTTPResponse/bodyStream``) instead of collected; any other answer is collected as usual.
    public var streamsBody = false

    public init(
        _ method: Method, url: URL, headers: HTTPHeaders = [:], body: [UInt8]? = nil, retry: RetrySafety,
        recordCount: Int? = nil, timeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.retry = retry
        self.recordCount = recordCount
        self.timeout = timeout
    }

    /// The path without its query, as it may appear in a log line (query values can hold data).
    public var loggablePath: String {
        let path = url.path(percentEncoded: true)
        return path.isEmpty ? "/" : path
    }
}
