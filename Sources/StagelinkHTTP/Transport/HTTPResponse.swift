/// A complete HTTP answer: status, headers and the body's bytes exactly as received.
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
