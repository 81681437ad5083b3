import Hummingbird

/// What every FHIR call goes through: counting, fault injection, the bearer token and its scopes,
/// and errors as `OperationOutcome` with `application/fhir+json`.
struct FHIREnvelope: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let world: SandboxWorld

    static let contentType = "application/fhir+json;charset=utf-8"

    static func endpoint(method: HTTPRequest.Method, path: String) -> SandboxEndpoint? {
        let parts = path.split(separator: "/")
        guard parts.first == "fhir" else { return nil }
        if parts.count == 3, parts[1] == "auth", parts[2] == "token" { return .fhirToken }
        if parts.last == "$export" { return .fhirExport }
        if parts.count >= 3, parts[1] == "_bulk" { return parts[2] == "files" ? .fhirExportFile : .fhirExportStatus }
        guard parts.count >= 2, !["metadata", ".well-known", "auth"].contains(parts[1]) else {
            guard parts.count == 1 else { return nil }
            return method == .get ? .fhirSearch : method == .post ? .fhirBatch : nil
        }
        switch (method, parts.count) {
        case (.get, 2): return .fhirSearch
        case (.get, 3) where parts[2] == "_history": return .fhirSearch
        case (.get, _): return .fhirRead
        case (.post, 2): return .fhirCreate
        case (.put, _): return .fhirUpdate
        case (.patch, _): return .fhirPatch
        case (.delete, 3): return .fhirDelete
        default: return nil
        }
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        let endpoint = Self.endpoint(method: request.method, path: path)
        if let endpoint {
            world.ledger.countCall(endpoint, prefer: request.headers[.prefer])
            try await world.configuration.latency.wait(.fhir)
            if !endpoint.isToken, let wait = world.emrRate?.admit() {
                return Self.outcome(
                    FHIRError(
                        status: 429, code: "throttled", diagnostics: "Rate limit of \(world.emrRate!.rate) exceeded",
                        headers: [(.retryAfter, String(wait))]))
            }
        }
        let fault = endpoint.flatMap(world.faults.decide)
        if let fault, !fault.kind.servesRequest { return Self.faultResponse(fault) }
        var context = context
        context.fault = fault
        let response: Response
        do {
            if let endpoint, !endpoint.isToken {
                guard let token = request.headers[.authorization].flatMap(Self.bearer),
                    let session = world.emr.session(token: token)
                else { throw FHIRError.unauthorized }
                context.actor = session.clientID
                context.scopes = session.scopes
            }
            response = try await next(request, context)
        } catch let error as FHIRError {
            response = Self.outcome(error)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            response = Self.outcome(
                FHIRError(status: Int(error.status.code), code: "not-supported", diagnostics: "Unknown path or operation"))
        } catch let error as JSONSyntaxError {
            response = Self.outcome(FHIRError(status: 400, code: "structure", diagnostics: "Failed to parse the body: \(error)"))
        }
        return try await ResponseFaults.apply(fault, to: response, defaultDelay: world.configuration.slowResponseDelay)
    }

    static func bearer(_ header: String) -> String? {
        header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)) : nil
    }

    static func outcome(_ error: FHIRError) -> Response {
        HTTPReply.json(error.outcome, status: .init(code: error.status), contentType: contentType, headers: error.headers)
    }

    static func faultResponse(_ rule: FaultRule) -> Response { outcome(faultError(rule)) }

    /// The OperationOutcome a fault that answers instead of the server (5xx, 429, an expired token) gives.
    static func faultError(_ rule: FaultRule) -> FHIRError {
        let retry: [(HeaderField.Name, String)] = [(.retryAfter, String(rule.retryAfterSeconds))]
        switch rule.kind {
        case .serviceUnavailable:
            return FHIRError(status: 503, code: "transient", diagnostics: "Service unavailable", headers: retry)
        case .tooManyRequests:
            return FHIRError(status: 429, code: "throttled", diagnostics: "Too many requests", headers: retry)
        case .expiredToken:
            return FHIRError(
                status: 401, code: "expired", diagnostics: "The access token has expired",
                headers: [(.wwwAuthenticate, "Bearer realm=\"fhir\", error=\"invalid_token\"")])
        default:
            return FHIRError(status: 500, code: "exception", diagnostics: "Internal server error")
        }
    }
}
