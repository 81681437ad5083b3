import StagelinkEngine

extension HTTPClient {
    /// Sends a request built for the held token with `Authorization: Bearer …`; when the service
    /// refuses the token (`isStaleToken`), renews it once and sends the request once more.
    ///
    /// `build` gets the credential because some services name the host in it (Salesforce's
    /// `instance_url`). A second refusal is thrown as `.unauthorized`.
    ///
    /// For example:
    ///
    /// ```swift
    /// let page = try await http.send(authorizedBy: tokens) { session in
    ///     HTTPRequest(.get, url: session.instanceURL.appending(path: path), retry: .idempotent)
    /// } decode: { response throws(RemoteCallError) in try QueryPage(response) }
    /// ```
    public func send<Credential, Value>(
        authorizedBy tokens: BearerTokenHolder<Credential>,
        isStaleToken: (HTTPResponse) -> Bool = { $0.status == 401 },
        _ build: (Credential) throws(RemoteCallError) -> HTTPRequest,
        decode: (HTTPResponse) throws(RemoteCallError) -> Value
    ) async throws(RemoteCallError) -> Value {
        var credential = try await tokens.credential()
        var renewed = false
        while true {
            var request = try build(credential)
            request.headers["Authorization"] = "Bearer " + credential.accessToken.reveal()
            let outcome = try await send(request) { (response) throws(RemoteCallError) -> Outcome<Value> in
                isStaleToken(response) ? .refused(response) : .answered(try decode(response))
            }
            switch outcome {
            case .answered(let value):
                return value
            case .refused where !renewed:
                logger.info("access token refused; renewing it once", metadata: ["http.path": "\(request.loggablePath)"])
                credential = try await tokens.renew(replacing: credential)
                renewed = true
            case .refused(let response):
                throw RemoteCallError(
                    .unauthorized,
                    LinkError(.unauthorized, message: "the service refused a freshly issued token", remoteBody: response.bodyText))
            }
        }
    }

    private enum Outcome<Value> {
        case answered(Value)
        case refused(HTTPResponse)
    }
}
