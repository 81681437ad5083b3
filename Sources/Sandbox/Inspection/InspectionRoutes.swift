import Hummingbird

/// `/_sandbox/...`: the inspection and control API, served by both simulators over the same state.
///
/// - `GET /_sandbox/counts`, `GET /_sandbox/truth`, `GET /_sandbox/history/{system}/{type}/{id}`, `GET /_sandbox/users`
/// - `POST /_sandbox/reset`
/// - `GET|POST /_sandbox/permissions` (POST body: `{"object","field","access": "read"|"edit"}`): field-level
///   security of the integration users' permission set
/// - `GET|POST|DELETE /_sandbox/faults` (POST body: `{"endpoint","kind","rate"|"nextCalls","delayMilliseconds",
///   "retryAfterSeconds","affectedShare"}`)
/// - `POST /_sandbox/mutations/start?intervalMilliseconds=N`, `/stop`, `/step?count=N`
/// - `POST /_sandbox/clock/advance?seconds=N`
/// - `GET /_sandbox/records/{fhir|salesforce}/{type}/{id}`: a record as it is now, without a token
/// - `PUT /_sandbox/edit/fhir/{type}/{id}` (body: the resource) and `PATCH /_sandbox/edit/salesforce/{object}/{id}`
///   (body: the fields): a person's edit at the source, as the EMR's clinician or the org's human user
/// - `PUT /_sandbox/raw/fhir/{type}/{id}` (body: any bytes): served verbatim as that resource's current version,
///   unvalidated, for hostile-input tests
/// - `GET /_sandbox/records/salesforce/{object}` and `GET /_sandbox/records/fhir/{type}`: every record as it is now
/// - `GET /_sandbox/tokens`: every access token issued, for checking that none reaches a log
/// - `GET /_sandbox/removals`: every record deleted or merged away at its source, oldest first
///   (`{system, type, id, kind: deletion|merge, survivor, at}`, and a Salesforce record's fields as
///   it lies in the Recycle Bin under `record`)
/// - `/_sandbox/webhooks/...`: the alert webhook receiver (``WebhookReceiver``)
struct InspectionRoutes: Sendable {
    let world: SandboxWorld

    private var inspection: SandboxInspection { SandboxInspection(world: world) }

    func register(on router: Router<SandboxRequestContext>) {
        let group = router.group("/_sandbox")
        group.get("/counts") { _, _ in HTTPReply.json(countsJSON()) }
        group.get("/truth") { _, _ in HTTPReply.json(.array(inspection.truth().map(Self.json))) }
        group.get("/history/:system/:type/:id") { _, context in
            guard let system = SandboxSystem(rawValue: context.parameters.get("system") ?? "") else {
                return HTTPReply.json(["error": "system is salesforce or fhir"], status: .badRequest)
            }
            let writes = inspection.history(
                system, try context.parameters.require("type"), try context.parameters.require("id"))
            return HTTPReply.json(.array(writes.map(Self.json)))
        }
        group.get("/users") { _, _ in
            var users = WireObject()
            for user in world.configuration.salesforceUsers {
                users[user.username] = .string(orNull: inspection.userID(user.username))
            }
            return HTTPReply.json(["integration": .object(users), "human": .string(inspection.humanUserID)])
        }
        group.post("/reset") { _, _ in
            world.mutations.stop()
            inspection.reset()
            return HTTPReply.empty(status: .noContent)
        }
        group.get("/permissions") { _, _ in HTTPReply.json(["readOnlyFields": .array(inspection.readOnlyFields.map(WireJSON.string))]) }
        group.post("/permissions") { request, context in
            let body = try WireJSON.parse(try await HTTPReply.body(of: request, context: context))
            guard let object = body["object"]?.stringValue, let field = body["field"]?.stringValue,
                let access = body["access"]?.stringValue, ["read", "edit"].contains(access)
            else {
                return HTTPReply.json(["error": "the body is {\"object\", \"field\", \"access\": \"read\" or \"edit\"}"], status: .badRequest)
            }
            do {
                try inspection.setFieldEditable(object, field: field, editable: access == "edit")
            } catch {
                return HTTPReply.json(["error": .string("\(error)")], status: .notFound)
            }
            return HTTPReply.json(["readOnlyFields": .array(inspection.readOnlyFields.map(WireJSON.string))])
        }
        group.get("/faults") { _, _ in HTTPReply.json(.array(world.faults.rules.map(Self.json))) }
        group.post("/faults") { request, context in
            let body = try WireJSON.parse(try await HTTPReply.body(of: request, context: context))
            do {
                try world.faults.inject(try Self.rule(body))
            } catch let error as SandboxError {
                return HTTPReply.json(["error": .string(error.description)], status: .badRequest)
            }
            return HTTPReply.json(.array(world.faults.rules.map(Self.json)), status: .created)
        }
        group.delete("/faults") { request, _ in
            let endpoint = FormEncoding.dictionary(request.uri.query ?? "")["endpoint"].flatMap(SandboxEndpoint.init(rawValue:))
            world.faults.clear(endpoint)
            return HTTPReply.empty(status: .noContent)
        }
        group.post("/mutations/start") { request, _ in
            let milliseconds = Int(FormEncoding.dictionary(request.uri.query ?? "")["intervalMilliseconds"] ?? "") ?? 1000
            world.mutations.start(every: .milliseconds(min(max(10, milliseconds), 86_400_000)))
            return HTTPReply.empty(status: .noContent)
        }
        group.post("/mutations/stop") { _, _ in
            world.mutations.stop()
            return HTTPReply.empty(status: .noContent)
        }
        group.post("/mutations/step") { request, _ in
            let count = Int(FormEncoding.dictionary(request.uri.query ?? "")["count"] ?? "") ?? 1
            let made = world.mutations.step(count: min(max(1, count), 10_000))
            return HTTPReply.json(
                .array(
                    made.map {
                        ["kind": .string($0.kind.rawValue), "system": .string($0.system.rawValue), "type": .string($0.type), "id": .string($0.id)]
                    }))
        }
        group.get("/records/:system/:type/:id") { _, context in
            let type = try context.parameters.require("type")
            let id = try context.parameters.require("id")
            let record: WireJSON? =
                switch context.parameters.get("system") {
                case "fhir": inspection.fhirResource(type, id: id)
                case "salesforce": inspection.salesforceRecord(type, id: id)
                default: nil
                }
            guard let record else { return HTTPReply.json(["error": "no such record"], status: .notFound) }
            return HTTPReply.json(record)
        }
        group.put("/edit/fhir/:type/:id") { request, context in
            let body = try WireJSON.parse(try await HTTPReply.body(of: request, context: context))
            do {
                try inspection.editFHIRResource(try context.parameters.require("type"), id: try context.parameters.require("id"), resource: body)
            } catch let error as SandboxError {
                return HTTPReply.json(["error": .string(error.description)], status: .badRequest)
            }
            return HTTPReply.empty(status: .noContent)
        }
        group.patch("/edit/salesforce/:object/:id") { request, context in
            let body = try WireJSON.parse(try await HTTPReply.body(of: request, context: context))
            guard let fields = body.objectValue else { return HTTPReply.json(["error": "the body must be an object of fields"], status: .badRequest) }
            do {
                try inspection.editSalesforceRecord(try context.parameters.require("object"), id: try context.parameters.require("id"), fields: fields)
            } catch let error as SandboxError {
                return HTTPReply.json(["error": .string(error.description)], status: .badRequest)
            }
            return HTTPReply.empty(status: .noContent)
        }
        group.put("/raw/fhir/:type/:id") { request, context in
            let body = try await HTTPReply.body(of: request, context: context)
            inspection.plantRawFHIRResource(try context.parameters.require("type"), id: try context.parameters.require("id"), body: body)
            return HTTPReply.empty(status: .noContent)
        }
        group.get("/records/salesforce/:object") { _, context in
            HTTPReply.json(.array(inspection.salesforceRecords(try context.parameters.require("object"))))
        }
        group.get("/records/fhir/:type") { _, context in
            HTTPReply.json(.array(inspection.fhirResources(try context.parameters.require("type"))))
        }
        world.webhooks.register(on: group)
        group.get("/removals") { _, _ in
            HTTPReply.json(
                .array(
                    inspection.removals().map { removal in
                        var object = WireObject([
                            ("system", .string(removal.system.rawValue)), ("type", .string(removal.type)), ("id", .string(removal.id)),
                            ("kind", .string(removal.survivor == nil ? "deletion" : "merge")), ("survivor", .string(orNull: removal.survivor)),
                            ("at", .string(removal.at.fhirInstant)),
                        ])
                        if removal.system == .salesforce, let record = inspection.recycledSalesforceRecord(removal.type, id: removal.id) {
                            object["record"] = record
                        }
                        return .object(object)
                    }))
        }
        group.get("/tokens") { _, _ in HTTPReply.json(.array(inspection.issuedTokens().map(WireJSON.string))) }
        group.post("/clock/advance") { request, _ in
            let seconds = Double(FormEncoding.dictionary(request.uri.query ?? "")["seconds"] ?? "") ?? 0
            // Bounded before the conversion to whole milliseconds, which would trap on 1e17 or inf.
            guard seconds.isFinite, abs(seconds) <= 366 * 86_400 else {
                return HTTPReply.json(["error": "seconds must be a number within a year either way"], status: .badRequest)
            }
            world.clock.advance(by: .milliseconds(Int64(seconds * 1000)))
            return HTTPReply.json(["now": .string(world.clock.now().fhirInstant)])
        }
    }

    private func countsJSON() -> WireJSON {
        let counts = inspection.counts()
        func byEndpoint(_ values: [SandboxEndpoint: Int]) -> WireJSON {
            .object(WireObject(SandboxEndpoint.allCases.map { ($0.rawValue, .int(values[$0, default: 0])) }))
        }
        return [
            "calls": byEndpoint(counts.calls), "writes": byEndpoint(counts.writes), "faults": byEndpoint(counts.faults),
            "mutationWrites": .int(counts.mutationWrites), "apiUsage": .int(counts.apiUsage),
            "salesforceRecords": .object(WireObject(counts.salesforceRecords.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            "fhirResources": .object(WireObject(counts.fhirResources.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
        ]
    }

    static func json(_ record: SeededRecord) -> WireJSON {
        var object = WireObject([
            ("system", .string(record.system.rawValue)), ("type", .string(record.type)), ("id", .string(record.id)),
            ("good", .bool(record.isGood)),
        ])
        if let label = record.withheldBy { object["withheldBy"] = .string(label) }
        if let fault = record.fault {
            object["fault"] = [
                "kind": .string(fault.kind.rawValue), "field": .string(fault.field), "element": .string(fault.element),
            ]
        }
        return .object(object)
    }

    static func json(_ write: WriteRecord) -> WireJSON {
        [
            "at": .string(write.at.fhirInstant), "system": .string(write.system.rawValue), "type": .string(write.type),
            "id": .string(write.id), "operation": .string(write.operation), "actor": .string(write.actor),
            "endpoint": .string(orNull: write.endpoint?.rawValue), "changes": .object(write.changes),
        ]
    }

    static func json(_ rule: FaultRule) -> WireJSON {
        var object = WireObject([("endpoint", .string(rule.endpoint.rawValue)), ("kind", .string(rule.kind.rawValue))])
        switch rule.trigger {
        case .rate(let share): object["rate"] = .double(share)
        case .nextCalls(let count): object["nextCalls"] = .int(count)
        }
        return .object(object)
    }

    static func rule(_ body: WireJSON) throws -> FaultRule {
        guard let endpoint = body["endpoint"]?.stringValue.flatMap(SandboxEndpoint.init(rawValue:)) else {
            throw SandboxError.invalidSetting("endpoint is one of \(SandboxEndpoint.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let kind = body["kind"]?.stringValue.flatMap(FaultKind.init(rawValue:)) else {
            throw SandboxError.invalidSetting("kind is one of \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let trigger: FaultRule.Trigger
        if let rate = body["rate"]?.doubleValue {
            trigger = .rate(rate)
        } else if let count = body["nextCalls"]?.intValue {
            trigger = .nextCalls(count)
        } else {
            throw SandboxError.invalidSetting("a fault needs rate or nextCalls")
        }
        return FaultRule(
            kind, on: endpoint, trigger: trigger,
            delay: body["delayMilliseconds"]?.intValue.map { .milliseconds($0) },
            retryAfterSeconds: body["retryAfterSeconds"]?.intValue ?? 2,
            affectedShare: body["affectedShare"]?.doubleValue ?? 0.3)
    }
}
