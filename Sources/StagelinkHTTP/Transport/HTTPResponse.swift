/// An HTTP answer: status, headers and the body's bytes exactly as received (or, when the request
/// streams its body, the body still arriving).
///
/// For example:
///
/// ```swift
/// let response = try await http.send(request)
/// if response.status == 412 { return .failure(FHIRErrors.linkError(response)) }
/// let usage = response.headers["Sforce-Limit-Info"]
/// ```
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The body still arriving, for a 2xx answer to a request that ``HTTPRequest/streamsBody``
    /// (``body`` is then empty).
    public var bodyStream: HTTPBodyStream?

    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = [], bodyStream: HTTPBodyStream? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyStream = bodyStream
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as text, for `LinkError.remoteBody`; invalid UTF-8 is replaced, never dropped.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
