/// A complete HTTP answer: status, headers and the body's bytes exactly as received.
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

    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as text, for `LinkError.remoteBody`; invalid UTF-8 is replaced, never dropped.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
