import Hummingbird

/// The FHIR R4 routes: metadata, SMART discovery and token, search with stable paging, read, vread,
/// create (conditional with `If-None-Exist` where the profile offers it), update (with `If-Match`,
/// where the profile offers PUT) and JSON Patch (with `If-Match`, required by `certified`).
struct FHIRRoutes: Sendable {
    let world: SandboxWorld
    var emr: EMRStore { world.emr }
    var base: String { world.fhirBaseURL }

    static func router(world: SandboxWorld) -> Router<SandboxRequestContext> {
        let router = Router(context: SandboxRequestContext.self)
        router.add(middleware: FHIREnvelope(world: world))
        let routes = FHIRRoutes(world: world)
        let smart = SMARTAuth(world: world)
        router.get("/fhir/metadata") { _, _ in
            HTTPReply.json(
                FHIRCapability.statement(base: world.fhirBaseURL, profile: world.configuration.emrProfile),
                contentType: FHIREnvelope.contentType)
        }
        router.get("/fhir/.well-known/smart-configuration") { _, _ in smart.configuration() }
        router.post("/fhir/auth/token") { request, context in try await smart.token(request, context: context) }
        BulkExportRoutes(world: world).register(on: router)
        router.get("/fhir") { request, context in try routes.nextPage(request, context: context) }
        router.post("/fhir") { request, context in try await routes.batch(request, context: context) }
        router.get("/fhir/:type") { request, context in try routes.search(request, context: context) }
        router.post("/fhir/:type") { request, context in try await routes.create(request, context: context) }
        router.get("/fhir/:type/_history") { request, context in try routes.history(request, context: context) }
        router.get("/fhir/:type/:id") { request, context in try routes.read(request, context: context) }
        router.get("/fhir/:type/:id/_history") { request, context in try routes.instanceHistory(request, context: context) }
        router.delete("/fhir/:type/:id") { _, context in try routes.delete(context) }
        router.get("/fhir/:type/:id/_history/:version") { request, context in
            try routes.read(request, context: context)
        }
        router.put("/fhir/:type/:id") { request, context in try await routes.update(request, context: context) }
        router.patch("/fhir/:type/:id") { request, context in try await routes.patch(request, context: context) }
        InspectionRoutes(world: world).register(on: router)
        return router
    }

    func type(_ context: SandboxRequestContext, access: Character) throws(FHIRError) -> String {
        try type(context.parameters.get("type") ?? "", scopes: context.scopes, access: access)
    }

    /// A resource type the sandbox knows and the token's scopes allow `access` (`r`, `s`, `c`, `u`) on.
    func type(_ type: String, scopes: [String], access: Character) throws(FHIRError) -> String {
        guard EMRStore.resourceTypes.contains(type) else {
            throw FHIRError(status: 404, code: "not-supported", diagnostics: "Unknown resource type \"\(type)\"")
        }
        guard SMARTAuth.allows(scopes, access, on: type) else {
            throw .forbidden("\(access == "r" || access == "s" ? "reading" : "writing") \(type)")
        }
        return type
    }

    private func resourceBody(_ request: Request, context: SandboxRequestContext) async throws -> WireObject {
        guard let object = try WireJSON.parse(try await HTTPReply.body(of: request, context: context)).objectValue else {
            throw FHIRError(status: 400, code: "structure", diagnostics: "The body must be a JSON resource")
        }
        return object
    }

    // MARK: - Search

    func search(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let type = try type(context, access: "s")
        let parameters = HTTPReply.query(of: request)
        let profile = world.configuration.emrProfile
        let handling = profile.unknownParameters(prefer: request.headers[.prefer])
        let search = try FHIRSearch(type: type, parameters: parameters, profile: profile, ignoringUnknown: handling.ignored)
        let page = emr.search(search)
        // The self link says what the search applied (FHIR R4 search §3.1.1.1.3), so that a client
        // sees a parameter the server ignored.
        let applied = search.applied.map { "\(FormEncoding.escape($0.0))=\(FormEncoding.escape($0.1))" }.joined(separator: "&")
        let selfURL = "\(base)/\(type)" + (applied.isEmpty ? "" : "?" + applied)
        var response = bundle(page, selfURL: selfURL, count: search.count, elements: search.elements, context: context)
        if let preference = handling.applied { response.headers[.preferenceApplied] = preference }
        return response
    }

    /// `GET /fhir?_getpages=…&_getpagesoffset=…&_count=…`: a later page of a snapshot.
    func nextPage(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let parameters = FormEncoding.dictionary(request.uri.query ?? "")
        guard let token = parameters["_getpages"] else {
            throw FHIRError(status: 400, code: "not-supported", diagnostics: "System-level search is not supported")
        }
        if token.hasPrefix("history-") { return try historyPage(token: token, parameters: parameters, context: context) }
        // An unreadable or negative offset or count is refused as a search error (FHIR R4 search,
        // "Handling Errors": 400 with an OperationOutcome), never used to slice the snapshot.
        guard let offset = Int(parameters["_getpagesoffset"] ?? "0"), offset >= 0,
            let requested = Int(parameters["_count"] ?? "50"), requested >= 0
        else {
            throw FHIRError(status: 400, code: "invalid", diagnostics: "_getpagesoffset and _count must be whole numbers, 0 or more")
        }
        let count = min(requested, world.configuration.emrProfile.maximumPageSize)
        guard let type = emr.snapshotType(token), SMARTAuth.allows(context.scopes, "s", on: type),
            let page = emr.page(token: token, offset: offset, count: count)
        else {
            throw FHIRError(
                status: 410, code: "not-found", diagnostics: "Search \(token) does not exist and may have expired")
        }
        // `_elements` travels in the next link, as the search's other parameters stay with its snapshot.
        let elements = parameters["_elements"].map { $0.split(separator: ",").map(String.init) }
        return bundle(page, selfURL: "\(base)?\(request.uri.query ?? "")", count: count, elements: elements, context: context)
    }

    private func bundle(_ page: EMRStore.Page, selfURL: String, count: Int, elements: [String]? = nil, context: SandboxRequestContext) -> Response {
        var links: [WireJSON] = [["relation": "self", "url": .string(selfURL)]]
        if page.hasMore {
            let profile = world.configuration.emrProfile
            let origin = profile.nextLinksOnAnotherOrigin ? EMRProfile.otherOrigin(of: base) : base
            let next = "\(origin)?_getpages=\(page.token)&_getpagesoffset=\(page.offset + count)&_count=\(count)"
                + "&_bundletype=searchset" + (elements.map { "&_elements=" + FormEncoding.escape($0.joined(separator: ",")) } ?? "")
            links.append(["relation": "next", "url": .string(next)])
        }
        let head: WireJSON = [
            "resourceType": "Bundle", "id": .string(page.token),
            "meta": ["lastUpdated": .string(world.clock.now().fhirInstant)], "type": "searchset",
            "total": .int(page.total), "link": .array(links),
        ]
        var bytes = head.serialized()
        bytes.removeLast()
        if !page.entries.isEmpty {
            bytes.append(contentsOf: #","entry":["#.utf8)
            let broken = context.fault?.kind == .schemaInvalidResource ? page.entries.count / 2 : -1
            for (index, entry) in page.entries.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                let type = entry.resource["resourceType"]?.stringValue ?? ""
                bytes.append(contentsOf: #"{"fullUrl":"#.utf8)
                WireJSON.writeString("\(base)/\(type)/\(entry.id)", to: &bytes)
                bytes.append(contentsOf: #","resource":"#.utf8)
                if index == broken {
                    bytes.append(contentsOf: SchemaBreaker.broken(entry.resource).serialized())
                } else if let elements {
                    bytes.append(contentsOf: WireJSON.object(FHIRSearch.subset(entry.resource, elements: elements)).serialized())
                } else {
                    bytes.append(contentsOf: entry.encoded)
                }
                bytes.append(contentsOf: #","search":{"mode":"match"}}"#.utf8)
            }
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "}"))
        return HTTPReply.bytes(bytes, status: .ok, contentType: FHIREnvelope.contentType)
    }

    // MARK: - Read and write

    func headers(_ entry: FHIRResourceEntry, type: String, id: String) -> [(HeaderField.Name, String)] {
        [
            (.eTag, "W/\"\(entry.versionID)\""),
            (.lastModified, entry.lastUpdated.date.formatted(.dateTime)),
            (.location, "\(base)/\(type)/\(id)/_history/\(entry.versionID)"),
        ]
    }

    func read(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let type = try type(context, access: "r")
        let id = try context.parameters.require("id")
        guard let entry = emr.entry(type, id) else { throw FHIRError.notFound(type, id) }
        let asked = context.parameters.get("version").flatMap { Int($0) } ?? entry.versionID
        if entry.deletedVersions.contains(asked) { throw FHIRError.gone(type, id) }
        if entry.isRaw && context.parameters.get("version") == nil && context.fault?.kind != .schemaInvalidResource {
            return HTTPReply.bytes(
                entry.encoded, status: .ok, contentType: FHIREnvelope.contentType, headers: [(.eTag, "W/\"\(entry.versionID)\"")])
        }
        var resource = entry.resource
        if let versionText = context.parameters.get("version") {
            guard let version = Int(versionText), version >= 1, version <= entry.versionID else {
                throw FHIRError(status: 404, code: "not-found", diagnostics: "Version \(versionText) of \(type)/\(id) is not known")
            }
            if version < entry.versionID { resource = entry.history[version - 1] }
        }
        if context.fault?.kind == .schemaInvalidResource { resource = SchemaBreaker.broken(resource).objectValue! }
        return HTTPReply.json(
            .object(resource), contentType: FHIREnvelope.contentType,
            headers: [(.eTag, "W/\"\(resource["meta"]?["versionId"]?.stringValue ?? "1")\"")])
    }

    func validator() -> FHIRValidator {
        let emr = self.emr
        return FHIRValidator(patientExists: { emr.liveEntry("Patient", $0) != nil })
    }

    private func written(_ entry: FHIRResourceEntry, status: HTTPResponse.Status, type: String, request: Request) -> Response {
        let id = entry.resource["id"]?.stringValue ?? ""
        if request.headers[.prefer]?.contains("return=minimal") == true {
            return HTTPReply.empty(status: status, headers: headers(entry, type: type, id: id))
        }
        return HTTPReply.json(
            .object(entry.resource), status: status, contentType: FHIREnvelope.contentType,
            headers: headers(entry, type: type, id: id))
    }

    func create(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let type = try type(context, access: "c")
        let ifNoneExist = request.headers[.ifNoneExist]
        try refuseUnofferedCondition(ifNoneExist)
        let resource = try await resourceBody(request, context: context)
        let (entry, created) = try create(resource, type: type, ifNoneExist: ifNoneExist, actor: context.actor)
        return written(entry, status: created ? .created : .ok, type: type, request: request)
    }

    /// A conditional create where the profile does not offer it is refused, never done unconditionally.
    func refuseUnofferedCondition(_ ifNoneExist: String?) throws(FHIRError) {
        if ifNoneExist != nil && !world.configuration.emrProfile.offersConditionalCreate {
            throw FHIRError(
                status: 400, code: "not-supported",
                diagnostics: "Conditional create (If-None-Exist) is not supported: search by identifier, then create")
        }
    }

    /// The create interaction once its type, condition and body are read: validated, then stored
    /// (or found by `ifNoneExist`). A batch entry's create goes through it too.
    func create(_ resource: WireObject, type: String, ifNoneExist: String?, actor: String) throws(FHIRError) -> (entry: FHIRResourceEntry, created: Bool) {
        try validator().validate(resource, type: type)
        return try emr.create(resource, type: type, ifNoneExist: ifNoneExist, actor: actor)
    }

    func update(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let type = try type(context, access: "u")
        try refuseUnofferedUpdate(type)
        let id = try context.parameters.require("id")
        let resource = try await resourceBody(request, context: context)
        let (entry, created) = try update(resource, type: type, id: id, ifMatch: request.headers[.ifMatch], actor: context.actor)
        return written(entry, status: created ? .created : .ok, type: type, request: request)
    }

    /// PUT where the profile does not offer it: 405 naming what is allowed.
    func refuseUnofferedUpdate(_ type: String) throws(FHIRError) {
        guard world.configuration.emrProfile.offersPutUpdate else {
            throw FHIRError(
                status: 405, code: "not-supported", diagnostics: "\(type) update (PUT) is not supported: use PATCH with a JSON Patch",
                headers: [(.allow, "GET, PATCH")])
        }
    }

    /// The update interaction once its type, id and body are read. A batch entry's update goes through it too.
    func update(_ resource: WireObject, type: String, id: String, ifMatch: String?, actor: String) throws(FHIRError) -> (entry: FHIRResourceEntry, created: Bool) {
        guard resource["id"]?.stringValue == id else {
            throw FHIRError(status: 400, code: "invalid", diagnostics: "The resource id must match the id of the URL")
        }
        try validator().validate(resource, type: type)
        return try emr.update(resource, type: type, id: id, ifMatch: ifMatch, actor: actor)
    }

    /// `PATCH [base]/[type]/[id]` with an RFC 6902 JSON Patch (FHIR R4 http.html#patch). Another
    /// media type is a 415 (RFC 5789 §2.2, "unsupported patch document"); a patch without `If-Match`
    /// is a 412 where the profile requires it, as Oracle Health documents.
    func patch(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let type = try type(context, access: "u")
        let id = try context.parameters.require("id")
        let mediaType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard mediaType == JSONPatch.mediaType else {
            throw FHIRError(
                status: 415, code: "not-supported", diagnostics: "A patch must be a JSON Patch document (Content-Type: \(JSONPatch.mediaType))",
                headers: [(.acceptPatch, JSONPatch.mediaType)])
        }
        let ifMatch = request.headers[.ifMatch]
        if ifMatch == nil && world.configuration.emrProfile.patchRequiresIfMatch {
            throw FHIRError(status: 412, code: "conflict", diagnostics: "If-Match is required: name the version the patch applies to")
        }
        let document = try JSONPatch(parsing: try WireJSON.parse(try await HTTPReply.body(of: request, context: context)))
        let validator = validator()
        let entry = try emr.patch(document, type: type, id: id, ifMatch: ifMatch, actor: context.actor) { (resource) throws(FHIRError) in
            try validator.validate(resource, type: type)
        }
        return written(entry, status: .ok, type: type, request: request)
    }
}
