import Hummingbird

/// The request context of both simulators: the fault the envelope decided and who is calling.
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The fault the envelope middleware decided for this call, for the handler to act on.
    var fault: FaultRule?
    /// The Salesforce user id or FHIR client id of the caller, once authenticated.
    var actor = ""
    /// The FHIR scopes of the caller's token.
    var scopes: [String] = []

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    var maxUploadSize: Int { 64 * 1024 * 1024 }
}

/// A header field (HTTPTypes' `HTTPField`, reached through the `HTTPFields` that Hummingbird exports).
typealias HeaderField = HTTPFields.Element

/// Building responses and reading bodies, shared by both simulators.
enum HTTPReply {
    static func json(
        _ value: WireJSON, status: HTTPResponse.Status = .ok, contentType: String = "application/json;charset=UTF-8",
        headers: [(HeaderField.Name, String)] = []
    ) -> Response {
        bytes(value.serialized(), status: status, contentType: contentType, headers: headers)
    }

    static func bytes(
        _ bytes: [UInt8], status: HTTPResponse.Status, contentType: String, headers: [(HeaderField.Name, String)] = []
    ) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        for (name, value) in headers { fields.append(HeaderField(name: name, value: value)) }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func empty(status: HTTPResponse.Status, headers: [(HeaderField.Name, String)] = []) -> Response {
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HeaderField(name: name, value: value)) }
        return Response(status: status, headers: fields, body: ResponseBody())
    }

    /// The whole request body.
    static func body(of request: Request, context: SandboxRequestContext) async throws -> [UInt8] {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        return Array(buffer.readableBytesView)
    }

    /// The query string's parameters, `+` and `%XX` decoded, in order.
    static func query(of request: Request) -> [(String, String)] {
        FormEncoding.decode(request.uri.query ?? "")
    }
}

extension HeaderField.Name {
    static let retryAfter = HeaderField.Name("Retry-After")!
    static let sforceLimitInfo = HeaderField.Name("Sforce-Limit-Info")!
    static let wwwAuthenticate = HeaderField.Name("WWW-Authenticate")!
    static let ifNoneExist = HeaderField.Name("If-None-Exist")!
    static let acceptPatch = HeaderField.Name("Accept-Patch")!
    static let prefer = HeaderField.Name("Prefer")!
    /// RFC 7240 §3: the preferences a server honoured.
    static let preferenceApplied = HeaderField.Name("Preference-Applied")!
    static let sforceQueryOptions = HeaderField.Name("Sforce-Query-Options")!
}
