import Hummingbird

/// `DELETE [type]/[id]` and `GET [type]/_history` (FHIR R4 http.html#delete and #history; see
/// `EMRStore` deletion for the behaviour each follows).
extension FHIRRoutes {

    func delete(_ context: SandboxRequestContext) throws -> Response {
        let type = try type(context, access: "d")
        let id = try context.parameters.require("id")
        guard emr.delete(type, id: id, actor: context.actor) != nil else { throw FHIRError.notFound(type, id) }
        return HTTPReply.empty(status: .noContent)
    }

    /// `GET [type]/_history?_since=…&_count=…`: the first page of the type's versions, newest first.
    /// The certified profile refuses it for patient-data types as it refuses population searches.
    func history(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let type = try type(context, access: "s")
        let profile = world.configuration.emrProfile
        if profile.refusesPopulationSearch, EMRProfile.patientScopedTypes.contains(type) { throw EMRProfile.tooCostly(type) }
        var since: SandboxInstant?
        var count = FHIRSearch.defaultCount
        for (name, value) in HTTPReply.query(of: request) {
            switch name {
            case "_since":
                guard let instant = SandboxInstant(iso8601: value) else { throw FHIRError.invalid("_since", "is not a FHIR instant") }
                since = instant
            case "_count":
                guard let number = Int(value), number >= 0 else { throw FHIRError.invalid("_count", "must be a whole number") }
                count = min(number, profile.maximumPageSize)
            default:
                if !profile.ignoresUnknownParameters {
                    throw FHIRError(status: 400, code: "not-supported", diagnostics: "The history parameter \(name) is not supported")
                }
            }
        }
        let token = emr.keepHistory(emr.history(type, since: since))
        return try historyPage(token: token, parameters: ["_getpagesoffset": "0", "_count": String(count)], context: context)
    }

    /// `GET [type]/[id]/_history?_count=…`: the versions of one resource, newest first (R4
    /// http.html#history: "the history of a particular resource"). It names a patient, so the
    /// certified profile serves it as it serves a read; an id never known answers 404.
    func instanceHistory(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let type = try type(context, access: "r")
        let id = try context.parameters.require("id")
        var count = FHIRSearch.defaultCount
        for (name, value) in HTTPReply.query(of: request) {
            switch name {
            case "_count":
                guard let number = Int(value), number >= 0 else { throw FHIRError.invalid("_count", "must be a whole number") }
                count = min(number, world.configuration.emrProfile.maximumPageSize)
            default:
                if !world.configuration.emrProfile.ignoresUnknownParameters {
                    throw FHIRError(status: 400, code: "not-supported", diagnostics: "The history parameter \(name) is not supported")
                }
            }
        }
        let items = emr.history(type, id: id, since: nil)
        guard !items.isEmpty else { throw FHIRError.notFound(type, id) }
        return try historyPage(token: emr.keepHistory(items), parameters: ["_getpagesoffset": "0", "_count": String(count)], context: context)
    }

    /// One page of a kept history listing.
    func historyPage(token: String, parameters: [String: String], context: SandboxRequestContext) throws -> Response {
        guard let offset = Int(parameters["_getpagesoffset"] ?? "0"), offset >= 0,
            let requested = Int(parameters["_count"] ?? String(FHIRSearch.defaultCount)), requested >= 0
        else {
            throw FHIRError(status: 400, code: "invalid", diagnostics: "_getpagesoffset and _count must be whole numbers, 0 or more")
        }
        guard let items = emr.keptHistory(token) else {
            throw FHIRError(status: 410, code: "not-found", diagnostics: "History \(token) does not exist and may have expired")
        }
        if let type = items.first?.type { guard SMARTAuth.allows(context.scopes, "s", on: type) else { throw FHIRError.forbidden("reading \(type)") } }
        let count = min(requested, world.configuration.emrProfile.maximumPageSize)
        let page = items.dropFirst(offset).prefix(count)
        var links: [WireJSON] = [
            ["relation": "self", "url": .string("\(base)?_getpages=\(token)&_getpagesoffset=\(offset)&_count=\(count)")]
        ]
        if offset + page.count < items.count {
            links.append([
                "relation": "next",
                "url": .string("\(base)?_getpages=\(token)&_getpagesoffset=\(offset + count)&_count=\(count)&_bundletype=history"),
            ])
        }
        let head: WireJSON = [
            "resourceType": "Bundle", "id": .string(token), "type": "history", "total": .int(items.count),
            "link": .array(links),
        ]
        var bytes = head.serialized()
        bytes.removeLast()
        if !page.isEmpty {
            bytes.append(contentsOf: #","entry":["#.utf8)
            for (index, item) in page.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: #"{"fullUrl":"#.utf8)
                WireJSON.writeString("\(base)/\(item.type)/\(item.id)", to: &bytes)
                if let encoded = item.encoded {
                    bytes.append(contentsOf: #","resource":"#.utf8)
                    bytes.append(contentsOf: encoded)
                }
                let method = item.deleted ? "DELETE" : item.version == 1 ? "POST" : "PUT"
                let request: WireJSON = [
                    "method": .string(method), "url": .string(item.version == 1 && !item.deleted ? item.type : "\(item.type)/\(item.id)"),
                ]
                let response: WireJSON = [
                    "status": .string(item.deleted ? "204" : item.version == 1 ? "201" : "200"),
                    "etag": .string("W/\"\(item.version)\""), "lastModified": .string(item.lastUpdated.fhirInstant),
                ]
                bytes.append(contentsOf: #","request":"#.utf8)
                bytes.append(contentsOf: request.serialized())
                bytes.append(contentsOf: #","response":"#.utf8)
                bytes.append(contentsOf: response.serialized())
                bytes.append(UInt8(ascii: "}"))
            }
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "}"))
        return HTTPReply.bytes(bytes, status: .ok, contentType: FHIREnvelope.contentType)
    }
}
