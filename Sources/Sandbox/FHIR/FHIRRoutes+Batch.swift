import Hummingbird

/// `POST [base]` with a `batch` Bundle, as FHIR R4 defines it (hl7.org/fhir/R4/http.html#transaction):
///
/// - The Bundle must be of type `batch`; a `transaction` is refused (the CapabilityStatement offers
///   `batch` only), and so is any batch where the profile offers none (`certified`: 405).
/// - Each entry is its own interaction, processed independently ("there SHALL be no
///   interdependencies between the different entries"): the same scope check, validation,
///   conditional create (`request.ifNoneExist`), version check (`request.ifMatch`) and faults as the
///   same call on its own. One entry refused does not stop the others.
/// - The answer is a Bundle of type `batch-response` with one entry per request entry, in the same
///   order, each with `response.status` (`201 Created`), `response.location`, `response.etag` and
///   `response.lastModified` when it wrote or read a resource, the resource itself unless
///   `Prefer: return=minimal`, and `response.outcome` (an OperationOutcome) when it failed.
///
/// The latency of the sandbox delays the Bundle once, as it does one call: a batch is one HTTP
/// request. A fault that answers instead of the server (5xx, 429) injected on an entry's own group
/// (`fhir.create`, `fhir.update`, `fhir.read`) fails that entry alone with its status and outcome; a
/// fault on the connection (slow answer, dropped connection, truncated body) drawn by an entry acts
/// on the whole answer, as one connection carries it, and so does an expired token (the request's,
/// answered 401). Faults on `fhir.batch` act on the whole Bundle.
///
/// Entries the sandbox takes: `POST [type]` (create), `PUT [type]/[id]` (update), `GET [type]/[id]`
/// (read). Others (search, delete, patch in a batch) answer `400 not-supported` for that entry.
extension FHIRRoutes {
    func batch(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        guard world.configuration.emrProfile.offersBatch else {
            throw FHIRError(
                status: 405, code: "not-supported",
                diagnostics: "batch is not supported (the CapabilityStatement lists no batch interaction): send each interaction on its own")
        }
        guard let bundle = try WireJSON.parse(try await HTTPReply.body(of: request, context: context)).objectValue,
            bundle["resourceType"]?.stringValue == "Bundle"
        else {
            throw FHIRError(status: 400, code: "structure", diagnostics: "POST [base] takes a Bundle of type batch")
        }
        switch bundle["type"]?.stringValue {
        case "batch": break
        case "transaction":
            throw FHIRError(status: 400, code: "not-supported", diagnostics: "transaction is not supported: the server offers batch")
        default:
            throw FHIRError(status: 400, code: "invalid", diagnostics: "Bundle.type must be batch", expression: ["Bundle.type"])
        }
        let minimal = request.headers[.prefer]?.contains("return=minimal") == true
        var connectionFault: FaultRule?
        var answers: [WireJSON] = []
        for entry in bundle["entry"]?.arrayValue ?? [] {
            let answer = batchEntry(entry.objectValue ?? WireObject(), context: context)
            if let fault = answer.connectionFault, connectionFault == nil { connectionFault = fault }
            answers.append(answer.entry(base: base, minimal: minimal))
        }
        // A token found expired is the request's, not an entry's: the whole Bundle is refused.
        if let connectionFault, !connectionFault.kind.servesRequest { return FHIREnvelope.faultResponse(connectionFault) }
        let response = HTTPReply.json(
            [
                "resourceType": "Bundle", "type": "batch-response",
                "meta": ["lastUpdated": .string(world.clock.now().fhirInstant)], "entry": .array(answers),
            ],
            contentType: FHIREnvelope.contentType)
        return try await ResponseFaults.apply(connectionFault, to: response, defaultDelay: world.configuration.slowResponseDelay)
    }

    /// What one entry did: the resource it wrote or read with its status, or its error.
    struct BatchAnswer {
        var result: Result<(entry: FHIRResourceEntry, type: String, status: Int), FHIRError>
        var connectionFault: FaultRule?

        func entry(base: String, minimal: Bool) -> WireJSON {
            switch result {
            case .success(let done):
                let id = done.entry.resource["id"]?.stringValue ?? ""
                let response = WireObject([
                    ("status", .string(BatchAnswer.statusLine(done.status))),
                    ("location", .string("\(done.type)/\(id)/_history/\(done.entry.versionID)")),
                    ("etag", .string("W/\"\(done.entry.versionID)\"")),
                    ("lastModified", .string(done.entry.lastUpdated.fhirInstant)),
                ])
                var entry = WireObject([("fullUrl", .string("\(base)/\(done.type)/\(id)"))])
                if !minimal { entry["resource"] = .object(done.entry.resource) }
                entry["response"] = .object(response)
                return .object(entry)
            case .failure(let error):
                return ["response": ["status": .string(BatchAnswer.statusLine(error.status)), "outcome": error.outcome]]
            }
        }

        /// `201 Created`: the status code with its reason phrase, as `Bundle.entry.response.status` carries it.
        static func statusLine(_ status: Int) -> String {
            let known: [HTTPResponse.Status] = [
                .ok, .created, .badRequest, .unauthorized, .forbidden, .notFound, .methodNotAllowed, .conflict, .gone, .preconditionFailed,
                .unsupportedMediaType, .unprocessableContent, .tooManyRequests, .internalServerError, .serviceUnavailable,
            ]
            guard let reason = known.first(where: { $0.code == status })?.reasonPhrase else { return String(status) }
            return "\(status) \(reason)"
        }
    }

    /// One entry, as its own interaction.
    private func batchEntry(_ entry: WireObject, context: SandboxRequestContext) -> BatchAnswer {
        let request = entry["request"]?.objectValue ?? WireObject()
        guard let method = request["method"]?.stringValue, let url = request["url"]?.stringValue else {
            return BatchAnswer(
                result: .failure(FHIRError(status: 400, code: "required", diagnostics: "A batch entry needs request.method and request.url", expression: ["Bundle.entry.request"])))
        }
        // request.url is relative to the base; an absolute one must be on this server.
        var path = url.hasPrefix(base + "/") ? String(url.dropFirst(base.count + 1)) : url
        if path.contains("?") || path.hasPrefix("http") {
            path = ""
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let endpoint: SandboxEndpoint?
        switch (method, parts.count) {
        case ("POST", 1): endpoint = .fhirCreate
        case ("PUT", 2): endpoint = .fhirUpdate
        case ("GET", 2): endpoint = .fhirRead
        default: endpoint = nil
        }
        guard let endpoint, !parts[0].isEmpty else {
            return BatchAnswer(
                result: .failure(
                    FHIRError(
                        status: 400, code: "not-supported",
                        diagnostics: "This server takes POST [type], PUT [type]/[id] and GET [type]/[id] in a batch", expression: ["Bundle.entry.request"])))
        }
        var connectionFault: FaultRule?
        if let fault = world.faults.decide(endpoint) {
            if fault.kind == .expiredToken {
                return BatchAnswer(result: .failure(FHIREnvelope.faultError(fault)), connectionFault: fault)
            }
            if !fault.kind.servesRequest { return BatchAnswer(result: .failure(FHIREnvelope.faultError(fault))) }
            connectionFault = fault
        }
        do throws(FHIRError) {
            let done: (FHIRResourceEntry, String, Int)
            switch endpoint {
            case .fhirCreate:
                let type = try type(parts[0], scopes: context.scopes, access: "c")
                let ifNoneExist = request["ifNoneExist"]?.stringValue
                try refuseUnofferedCondition(ifNoneExist)
                guard let resource = entry["resource"]?.objectValue else { throw Self.missingResource }
                let (written, created) = try create(resource, type: type, ifNoneExist: ifNoneExist, actor: context.actor)
                done = (written, type, created ? 201 : 200)
            case .fhirUpdate:
                let type = try type(parts[0], scopes: context.scopes, access: "u")
                try refuseUnofferedUpdate(type)
                guard let resource = entry["resource"]?.objectValue else { throw Self.missingResource }
                let (written, created) = try update(resource, type: type, id: parts[1], ifMatch: request["ifMatch"]?.stringValue, actor: context.actor)
                done = (written, type, created ? 201 : 200)
            default:
                let type = try type(parts[0], scopes: context.scopes, access: "r")
                guard let found = emr.entry(type, parts[1]) else { throw FHIRError.notFound(type, parts[1]) }
                if found.isDeleted { throw FHIRError.gone(type, parts[1]) }
                done = (found, type, 200)
            }
            return BatchAnswer(result: .success(done), connectionFault: connectionFault)
        } catch {
            return BatchAnswer(result: .failure(error), connectionFault: connectionFault)
        }
    }

    private static let missingResource = FHIRError(
        status: 400, code: "required", diagnostics: "A create or update entry needs its resource", expression: ["Bundle.entry.resource"])
}
