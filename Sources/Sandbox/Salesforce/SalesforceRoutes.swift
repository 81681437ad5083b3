import Hummingbird

/// The Salesforce REST API routes: versions, limits, query, describe, sObject rows and upserts, collections.
struct SalesforceRoutes: Sendable {
    let world: SandboxWorld
    private var org: SalesforceOrg { world.salesforce }

    /// The router of the Salesforce simulator, inspection routes included.
    /// The generic login host (login.salesforce.com): the token endpoint and nothing else.
    static func loginRouter(world: SandboxWorld) -> Router<SandboxRequestContext> {
        let router = Router(context: SandboxRequestContext.self)
        router.add(middleware: SalesforceEnvelope(world: world))
        let auth = SalesforceAuth(world: world, host: .login)
        router.post("/services/oauth2/token") { request, context in try await auth.token(request, context: context) }
        return router
    }

    /// The org's My Domain: OAuth, identity, the REST API and the inspection endpoints.
    static func router(world: SandboxWorld) -> Router<SandboxRequestContext> {
        let router = Router(context: SandboxRequestContext.self)
        router.add(middleware: SalesforceEnvelope(world: world))
        let routes = SalesforceRoutes(world: world)
        let auth = SalesforceAuth(world: world)
        router.post("/services/oauth2/token") { request, context in try await auth.token(request, context: context) }
        router.get("/id/:org/:user") { request, context in try auth.identity(request, context: context) }
        router.get("/services/data") { _, _ in routes.versions() }
        let data = router.group("/services/data/:version")
        data.get("/limits") { _, _ in routes.limits() }
        data.get("/query") { request, context in try routes.query(request, context: context) }
        data.get("/queryAll") { request, context in try routes.query(request, context: context, includingDeleted: true) }
        data.get("/query/:locator") { _, context in
            HTTPReply.json(try routes.org.queryMore(context.parameters.require("locator"), apiVersion: routes.version(context)))
        }
        data.get("/sobjects") { _, context in routes.describeGlobal(version: routes.version(context)) }
        data.get("/sobjects/:object/describe") { _, context in try routes.describe(context) }
        data.post("/sobjects/:object") { request, context in try await routes.create(request, context: context) }
        data.get("/sobjects/:object/deleted") { request, context in try routes.deleted(request, context: context) }
        data.get("/sobjects/:object/:id") { request, context in try routes.get(request, context: context) }
        data.delete("/sobjects/:object/:id") { _, context in
            try routes.org.delete(
                try context.parameters.require("object"), id: try context.parameters.require("id"), actor: context.actor)
            return HTTPReply.empty(status: .noContent)
        }
        data.patch("/sobjects/:object/:id") { request, context in try await routes.update(request, context: context) }
        data.get("/sobjects/:object/:id/:value") { request, context in
            try routes.getByExternalID(request, context: context)
        }
        data.patch("/sobjects/:object/:id/:value") { request, context in
            try await routes.upsert(request, context: context)
        }
        data.patch("/composite/sobjects/:object/:field") { request, context in
            try await routes.collectionsUpsert(request, context: context)
        }
        data.patch("/composite/sobjects") { request, context in
            try await routes.collectionsUpdate(request, context: context)
        }
        routes.registerBulkIngest(on: data)
        InspectionRoutes(world: world).register(on: router)
        return router
    }

    private func version(_ context: SandboxRequestContext) -> String {
        context.parameters.get("version") ?? "v60.0"
    }

    private func body(_ request: Request, context: SandboxRequestContext) async throws -> WireJSON {
        try WireJSON.parse(try await HTTPReply.body(of: request, context: context))
    }

    private func objectBody(_ request: Request, context: SandboxRequestContext) async throws -> WireObject {
        guard let object = try await body(request, context: context).objectValue else {
            throw SalesforceAPIError(
                status: 400, [SalesforceError(code: "JSON_PARSER_ERROR", message: "The request body must be an object")])
        }
        return object
    }

    func versions() -> Response {
        HTTPReply.json([["label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"]])
    }

    func limits() -> Response {
        let limit = org.dailyLimit
        return HTTPReply.json(["DailyApiRequests": ["Max": .int(limit), "Remaining": .int(max(0, limit - org.apiUsage))]])
    }

    /// `GET /sobjects/{Object}/deleted/?start=…&end=…`.
    func deleted(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let parameters = HTTPReply.query(of: request)
        return HTTPReply.json(
            try org.deleted(
                try context.parameters.require("object"), start: parameters.first { $0.0 == "start" }?.1,
                end: parameters.first { $0.0 == "end" }?.1))
    }

    /// `GET /query?q=…`, or with `includingDeleted` `GET /queryAll?q=…`.
    func query(_ request: Request, context: SandboxRequestContext, includingDeleted: Bool = false) throws -> Response {
        guard let soql = HTTPReply.query(of: request).first(where: { $0.0 == "q" })?.1 else {
            throw SalesforceAPIError(
                status: 400, [SalesforceError(code: "MALFORMED_QUERY", message: "A query string has to be specified")])
        }
        let batchSize = request.headers[.sforceQueryOptions].flatMap { header in
            header.split(separator: "=").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        return HTTPReply.json(
            try org.query(soql, apiVersion: version(context), pageSize: batchSize, includingDeleted: includingDeleted))
    }

    func describeGlobal(version: String) -> Response {
        let objects = org.schema.objects.values.sorted { $0.name < $1.name }.map { object -> WireJSON in
            [
                "name": .string(object.name), "label": .string(object.label), "keyPrefix": .string(object.keyPrefix),
                "custom": .bool(object.custom), "queryable": true, "createable": .bool(object.name != "User"),
                "updateable": .bool(object.name != "User"),
                "urls": ["sobject": .string("/services/data/\(version)/sobjects/\(object.name)")],
            ]
        }
        return HTTPReply.json(["encoding": "UTF-8", "maxBatchSize": 200, "sobjects": .array(objects)])
    }

    func describe(_ context: SandboxRequestContext) throws -> Response {
        let object = try org.describe(try context.parameters.require("object"), for: context.actor)
        return HTTPReply.json(SalesforceDescribe.object(object, version: version(context)))
    }

    func create(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let object = try context.parameters.require("object")
        let id = try org.create(object, body: try await objectBody(request, context: context), actor: context.actor)
        return HTTPReply.json(["id": .string(id), "success": true, "errors": []], status: .created)
    }

    func get(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let fields = HTTPReply.query(of: request).first { $0.0 == "fields" }.map {
            $0.1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return HTTPReply.json(
            try org.record(
                try context.parameters.require("object"), id: try context.parameters.require("id"), fields: fields,
                apiVersion: version(context)))
    }

    func update(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        try org.update(
            try context.parameters.require("object"), id: try context.parameters.require("id"),
            body: try await objectBody(request, context: context), actor: context.actor)
        return HTTPReply.empty(status: .noContent)
    }

    func getByExternalID(_ request: Request, context: SandboxRequestContext) throws -> Response {
        HTTPReply.json(
            try org.record(
                try context.parameters.require("object"), field: try context.parameters.require("id"),
                value: FormEncoding.unescape(try context.parameters.require("value")), fields: nil,
                apiVersion: version(context)))
    }

    func upsert(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let result = try org.upsert(
            try context.parameters.require("object"), field: try context.parameters.require("id"),
            value: FormEncoding.unescape(try context.parameters.require("value")),
            body: try await objectBody(request, context: context), actor: context.actor, apiVersion: version(context))
        return HTTPReply.json(
            ["id": .string(result.id), "success": true, "errors": [], "created": .bool(result.created)],
            status: result.created ? .created : .ok)
    }

    private func lockedRows(_ count: Int, context: SandboxRequestContext) -> Set<Int> {
        guard let fault = context.fault, fault.kind == .rowLock else { return [] }
        return world.faults.lockedRows(count: count, share: fault.affectedShare)
    }

    func collectionsUpsert(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let (records, allOrNone) = try org.collectionRecords(try await body(request, context: context))
        let outcomes = try org.collectionsUpsert(
            try context.parameters.require("object"), field: try context.parameters.require("field"), records: records,
            allOrNone: allOrNone, lockedRows: lockedRows(records.count, context: context), actor: context.actor)
        return HTTPReply.json(.array(outcomes.map { $0.collectionJSON(includeCreated: true) }))
    }

    func collectionsUpdate(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let (records, allOrNone) = try org.collectionRecords(try await body(request, context: context))
        let outcomes = org.collectionsUpdate(
            records: records, allOrNone: allOrNone, lockedRows: lockedRows(records.count, context: context),
            actor: context.actor)
        return HTTPReply.json(.array(outcomes.map { $0.collectionJSON(includeCreated: false) }))
    }
}
