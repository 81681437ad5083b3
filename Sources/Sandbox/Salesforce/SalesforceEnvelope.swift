import Hummingbird

/// What every Salesforce call goes through: counting, fault injection, the session check, the daily API
/// limit, errors in Salesforce's shape, and `Sforce-Limit-Info` on every response.
struct SalesforceEnvelope: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let world: SandboxWorld

    static func endpoint(for path: String) -> SandboxEndpoint? {
        if path == "/services/oauth2/token" { return .salesforceToken }
        let parts = path.split(separator: "/")
        guard parts.count >= 4, parts[0] == "services", parts[1] == "data" else { return nil }
        switch parts[3] {
        case "query", "queryAll": return .salesforceQuery
        case "sobjects": return .salesforceSObjects
        case "composite" where parts.count >= 5 && parts[4] == "sobjects": return .salesforceCollections
        case "jobs" where parts.count >= 5 && parts[4] == "ingest": return .salesforceBulkIngest
        default: return nil
        }
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await respond(request, context: context, next: next)
        response.headers[.sforceLimitInfo] = world.salesforce.limitInfo
        return response
    }

    private func respond(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        let endpoint = Self.endpoint(for: path)
        if let endpoint {
            world.ledger.countCall(endpoint)
            // A request runs as long as the latency says; while too many have run too long, new ones are refused.
            guard let running = world.salesforceRequests.enter() else {
                try await world.configuration.latency.wait(.salesforce)
                return HTTPReply.json(.array([SalesforceError.concurrentLimitExceeded.restJSON]), status: .forbidden)
            }
            defer { world.salesforceRequests.leave(running) }
            try await world.configuration.latency.wait(.salesforce)
            return try await serve(request, endpoint: endpoint, context: context, next: next)
        }
        return try await serve(request, endpoint: nil, context: context, next: next)
    }

    private func serve(
        _ request: Request, endpoint: SandboxEndpoint?, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        let fault = endpoint.flatMap(world.faults.decide)
        if let fault, !fault.kind.servesRequest { return Self.faultResponse(fault) }
        var context = context
        context.fault = fault
        let parts = path.split(separator: "/")
        let isDataAPI = parts.count >= 3 && parts[0] == "services" && parts[1] == "data"
        if isDataAPI || parts.first == "id" {
            guard let session = bearerToken(request).flatMap(world.salesforce.session(token:)) else {
                return HTTPReply.json(.array([SalesforceError.sessionExpired.restJSON]), status: .unauthorized)
            }
            context.actor = session.userID
        }
        if isDataAPI {
            guard parts[2].wholeMatch(of: /v\d+\.\d/) != nil else {
                return HTTPReply.json(.array([SalesforceError.notFound.restJSON]), status: .notFound)
            }
            guard world.salesforce.countRequest() != nil else {
                return HTTPReply.json(.array([SalesforceError.limitExceeded.restJSON]), status: .forbidden)
            }
        }
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as SalesforceAPIError {
            response = HTTPReply.json(error.body, status: .init(code: error.status))
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            response = HTTPReply.json(
                .array([
                    SalesforceError(
                        code: error.status == .notFound ? "NOT_FOUND" : "METHOD_NOT_ALLOWED",
                        message: error.status == .notFound
                            ? "The requested resource does not exist"
                            : "HTTP Method '\(request.method.rawValue)' not allowed."
                    ).restJSON
                ]), status: error.status)
        } catch let error as JSONSyntaxError {
            response = HTTPReply.json(
                .array([SalesforceError(code: "JSON_PARSER_ERROR", message: error.description).restJSON]),
                status: .badRequest)
        }
        return try await ResponseFaults.apply(fault, to: response, defaultDelay: world.configuration.slowResponseDelay)
    }

    private func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        for scheme in ["Bearer ", "OAuth "] where header.hasPrefix(scheme) {
            return String(header.dropFirst(scheme.count))
        }
        return nil
    }

    /// The answer to a fault that stops the call before its handler.
    static func faultResponse(_ rule: FaultRule) -> Response {
        let retry: [(HeaderField.Name, String)] = [(.retryAfter, String(rule.retryAfterSeconds))]
        func errors(_ code: String, _ message: String) -> WireJSON {
            .array([SalesforceError(code: code, message: message).restJSON])
        }
        switch rule.kind {
        case .serviceUnavailable:
            return HTTPReply.json(
                errors("SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later."),
                status: .serviceUnavailable, headers: retry)
        case .tooManyRequests:
            return HTTPReply.json(
                errors("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
                status: .tooManyRequests, headers: retry)
        case .requestLimitExceeded:
            return HTTPReply.json(.array([SalesforceError.limitExceeded.restJSON]), status: .forbidden)
        case .concurrentRequestLimit:
            return HTTPReply.json(.array([SalesforceError.concurrentLimitExceeded.restJSON]), status: .forbidden)
        case .expiredToken:
            return HTTPReply.json(.array([SalesforceError.sessionExpired.restJSON]), status: .unauthorized)
        default:
            return HTTPReply.json(
                errors(
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you contact support: 1998432756-5817 (-1405318530)"),
                status: .internalServerError)
        }
    }
}
