import Hummingbird

/// Bulk Data Access IG v2 (hl7.org/fhir/uv/bulkdata/STU2/export.html) in the FHIR simulator: the
/// cohort Group, `$export` kick-off at system and Group level, status polling, the manifest, NDJSON
/// output files, cancellation and expiry.
///
/// - Kick-off needs `Prefer: respond-async` and answers 202 with an absolute `Content-Location`
///   (IG "Response - Success"); `_outputFormat`, `_since`, `_type` and `_elements` are read, any
///   other parameter is refused (400), an unknown type too.
/// - A status poll answers 202 with `X-Progress` and `Retry-After` while the export runs, then 200
///   with the manifest (`transactionTime`, `request`, `requiresAccessToken`, `output[type,url,count]`,
///   `error[]`) and `Expires`; after the file lifetime, or once cancelled, 404.
/// - `DELETE` on the status URL cancels: 202, then the status URL answers 404 (IG "Delete Request").
/// - Output files are `application/fhir+ndjson`, one resource a line, split every
///   `resourcesPerFile` resources, and need the bearer token of the client that kicked off
///   (`requiresAccessToken: true`).
/// - A second kick-off while the client's export runs is answered 429 with `Retry-After`: Oracle
///   Health Millennium documents that "only one bulk export request for a client application and
///   tenant combination may be in-progress at a single time" (docs.oracle.com, mfbda
///   op-group-group_id-export-get), and RFC 6585 is how a server says so.
/// - `_outputFormat` takes `application/fhir+ndjson`, `application/ndjson` and `ndjson`, as Oracle
///   Health's Group export documents; output files expire (Oracle Health: after 30 days).
/// - With `ignoresSince`, `_since` is accepted but every export is full: Epic's Bulk Data tutorial
///   (fhir.epic.com, fhir_bulk_data) says its bulk data requests "are not incremental".
struct BulkExportRoutes: Sendable {
    let world: SandboxWorld
    private var emr: EMRStore { world.emr }
    private var exports: BulkExports { world.exports }
    private var settings: BulkExportSettings { world.configuration.bulkExport }
    private var base: String { world.fhirBaseURL }

    func register(on router: Router<SandboxRequestContext>) {
        router.get("/fhir/Group") { _, context in try self.groups(context) }
        router.get("/fhir/Group/:id") { _, context in try self.group(context) }
        router.get("/fhir/$export") { request, context in try self.kickOff(request, context: context, group: nil) }
        router.get("/fhir/Group/:id/$export") { request, context in
            try self.kickOff(request, context: context, group: try context.parameters.require("id"))
        }
        router.get("/fhir/_bulk/status/:job") { _, context in try self.status(context) }
        router.delete("/fhir/_bulk/status/:job") { _, context in try self.cancel(context) }
        router.get("/fhir/_bulk/files/:job/:file") { _, context in try self.file(context) }
    }

    private func requireExport() throws(FHIRError) {
        guard world.configuration.emrProfile.offersBulkExport else {
            throw FHIRError(status: 404, code: "not-supported", diagnostics: "This server does not offer Bulk Data export")
        }
    }

    // MARK: - Group

    private func cohort() -> WireJSON {
        let members = emr.entries("Patient").compactMap { $0.resource["id"]?.stringValue }
        return [
            "resourceType": "Group", "id": .string(BulkExports.cohortGroupID), "type": "person", "actual": true,
            "name": "All patients", "quantity": .int(members.count),
            "member": .array(members.map { ["entity": ["reference": .string("Patient/\($0)")]] }),
        ]
    }

    func groups(_ context: SandboxRequestContext) throws -> Response {
        try requireExport()
        guard SMARTAuth.allows(context.scopes, "s", on: "Group") else { throw FHIRError.forbidden("reading Group") }
        let bundle: WireJSON = [
            "resourceType": "Bundle", "type": "searchset", "total": 1, "link": [["relation": "self", "url": .string(base + "/Group")]],
            "entry": [["fullUrl": .string("\(base)/Group/\(BulkExports.cohortGroupID)"), "resource": cohort(), "search": ["mode": "match"]]],
        ]
        return HTTPReply.json(bundle, contentType: FHIREnvelope.contentType)
    }

    func group(_ context: SandboxRequestContext) throws -> Response {
        try requireExport()
        let id = try context.parameters.require("id")
        guard SMARTAuth.allows(context.scopes, "r", on: "Group") else { throw FHIRError.forbidden("reading Group") }
        guard id == BulkExports.cohortGroupID else { throw FHIRError.notFound("Group", id) }
        return HTTPReply.json(cohort(), contentType: FHIREnvelope.contentType)
    }

    // MARK: - Kick-off

    func kickOff(_ request: Request, context: SandboxRequestContext, group: String?) throws -> Response {
        try requireExport()
        if let group, group != BulkExports.cohortGroupID { throw FHIRError.notFound("Group", group) }
        guard request.headers[.prefer]?.contains("respond-async") == true else {
            throw FHIRError.processing("A Bulk Data kick-off needs the header Prefer: respond-async")
        }
        var since: SandboxInstant?
        var elements: [String]?
        var types = group == nil ? EMRStore.resourceTypes : BulkExports.groupTypes
        for (name, value) in HTTPReply.query(of: request) {
            switch name {
            case "_outputFormat":
                guard BulkExports.outputFormats.contains(value) else {
                    throw FHIRError.invalid("_outputFormat", "supports application/fhir+ndjson only")
                }
            case "_since":
                guard let instant = SandboxInstant(iso8601: value) else { throw FHIRError.invalid("_since", "is not a FHIR instant") }
                since = instant
            case "_type":
                types = value.split(separator: ",").map(String.init)
                if let unknown = types.first(where: { !EMRStore.resourceTypes.contains($0) }) {
                    throw FHIRError(status: 400, code: "not-supported", diagnostics: "_type: \(unknown) cannot be exported")
                }
            case "_elements":
                // Bulk Data IG v2 kick-off `_elements` (0..*, "string of comma-delimited FHIR Elements"): the
                // server "SHOULD omit unlisted, non-mandatory elements", elements being `[type].[element]` or
                // `[element]`, "only root elements in a resource are permitted", and it SHOULD mark the
                // resources with the tag SUBSETTED (FHIRSearch.subset, shared with search's `_elements`).
                var names = elements ?? []
                for element in value.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    let parts = element.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                    // A resource type starts upper case, an element lower case: `name.family` is no root element.
                    guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber } }),
                        parts.last!.first!.isLowercase, parts.count == 1 || parts[0].first!.isUppercase
                    else {
                        throw FHIRError.invalid("_elements", "lists root elements, as element or Type.element, separated by commas")
                    }
                    names.append(element)
                }
                elements = names
            default:
                throw FHIRError(status: 400, code: "not-supported", diagnostics: "The export parameter \(name) is not supported")
            }
        }
        let now = world.clock.now()
        if let running = exports.running(clientID: context.actor, at: now) {
            let wait = max(1, (running.readyAt.milliseconds - now.milliseconds + 999) / 1000)
            throw FHIRError(
                status: 429, code: "throttled", diagnostics: "An export of this client is already in progress",
                headers: [(.retryAfter, String(wait))])
        }
        let allowed = types.filter { SMARTAuth.allows(context.scopes, "r", on: $0) }
        let refused = types.filter { !allowed.contains($0) }
        let snapshot = emr.exportLines(types: allowed, since: settings.ignoresSince ? nil : since)
        var errors = refused.map { Self.errorLine("forbidden", "The token's scopes do not allow exporting \($0)") }
        var files: [BulkExportJob.File] = []
        for type in allowed {
            // A resource whose bytes hold a line break cannot be one NDJSON line: it is reported, not sent.
            let lines = (snapshot[type] ?? []).filter { line in
                guard line.bytes.contains(UInt8(ascii: "\n")) else { return true }
                errors.append(Self.errorLine("structure", "\(type)/\(line.id) cannot be written as one NDJSON line"))
                return false
            }.map { line in elements.map { Self.subset(line.bytes, type: type, elements: $0) } ?? line.bytes }
            let size = max(1, settings.resourcesPerFile)
            for start in stride(from: 0, to: lines.count, by: size) {
                let chunk = Array(lines[start..<min(start + size, lines.count)])
                files.append(BulkExportJob.File(type: type, name: "\(type)-\(start / size + 1).ndjson", lines: chunk))
            }
        }
        var deletedFiles: [BulkExportJob.File] = []
        if let since, !settings.ignoresSince {
            let lines = emr.deletions(types: allowed, since: since).map(Self.deletionLine)
            let size = max(1, settings.resourcesPerFile)
            for start in stride(from: 0, to: lines.count, by: size) {
                let chunk = Array(lines[start..<min(start + size, lines.count)])
                deletedFiles.append(BulkExportJob.File(type: "Bundle", name: "deleted-\(start / size + 1).ndjson", lines: chunk))
            }
        }
        let requestURL = base + request.uri.path.dropFirst("/fhir".count) + (request.uri.query.map { "?\($0)" } ?? "")
        let job = exports.add { id in
            BulkExportJob(
                id: id, clientID: context.actor, request: requestURL, transactionTime: now,
                readyAt: now.adding(seconds: Double(settings.duration.components.seconds)
                    + Double(settings.duration.components.attoseconds) / 1e18),
                files: files, deletedFiles: deletedFiles, errors: errors)
        }
        return HTTPReply.empty(status: .accepted, headers: [(.contentLocation, "\(base)/_bulk/status/\(job.id)")])
    }

    /// One line of a `deleted` file (Bulk Data IG v2, "Response - Complete Status": a `transaction`
    /// Bundle whose entries have `request.method = DELETE` and `request.url`; the IG's example carries
    /// `meta.lastUpdated`, here the deletion's time).
    static func deletionLine(_ deletion: EMRStore.Deletion) -> [UInt8] {
        let bundle: WireJSON = [
            "resourceType": "Bundle", "meta": ["lastUpdated": .string(deletion.at.fhirInstant)], "type": "transaction",
            "entry": [["request": ["method": "DELETE", "url": .string("\(deletion.type)/\(deletion.id)")]]],
        ]
        return bundle.serialized()
    }

    /// One exported resource cut down to the kick-off's `_elements`: those naming its type
    /// (`Patient.id`) or no type (`id`), plus the mandatory `resourceType`, `id` and `meta`.
    static func subset(_ bytes: [UInt8], type: String, elements: [String]) -> [UInt8] {
        guard let resource = (try? WireJSON.parse(bytes))?.objectValue else { return bytes }
        let names = elements.compactMap { element -> String? in
            let parts = element.split(separator: ".").map(String.init)
            return parts.count == 1 ? parts[0] : parts[0] == type ? parts[1] : nil
        }
        return WireJSON.object(FHIRSearch.subset(resource, elements: names)).serialized()
    }

    static func errorLine(_ code: String, _ diagnostics: String) -> [UInt8] {
        let outcome: WireJSON = [
            "resourceType": "OperationOutcome", "issue": [["severity": "error", "code": .string(code), "diagnostics": .string(diagnostics)]],
        ]
        return outcome.serialized()
    }

    // MARK: - Status, cancel, files

    private func job(_ context: SandboxRequestContext) throws -> BulkExportJob {
        let id = try context.parameters.require("job")
        guard let job = exports.job(id, clientID: context.actor, at: world.clock.now(), lifetime: settings.fileLifetime) else {
            throw FHIRError(status: 404, code: "not-found", diagnostics: "Export \(id) is not known: it was cancelled or has expired")
        }
        return job
    }

    func status(_ context: SandboxRequestContext) throws -> Response {
        let job = try job(context)
        let now = world.clock.now()
        if now < job.readyAt {
            let total = max(1, job.readyAt.milliseconds - job.transactionTime.milliseconds)
            let share = Int((now.milliseconds - job.transactionTime.milliseconds) * 100 / total)
            let wait = max(1, (job.readyAt.milliseconds - now.milliseconds + 999) / 1000)
            return HTTPReply.empty(
                status: .accepted,
                headers: [(.xProgress, "\(share)% of \(job.resourceCount) resources written"), (.retryAfter, String(wait))])
        }
        let output: [WireJSON] = job.files.map { file in
            ["type": .string(file.type), "url": .string(fileURL(job, file.name)), "count": .int(file.lines.count)]
        }
        let errors: [WireJSON] = job.errors.isEmpty ? [] : [["type": "OperationOutcome", "url": .string(fileURL(job, Self.errorFile))]]
        var manifest: WireJSON = [
            "transactionTime": .string(job.transactionTime.fhirInstant), "request": .string(job.request),
            "requiresAccessToken": true, "output": .array(output), "error": .array(errors),
        ]
        if !job.deletedFiles.isEmpty {
            manifest["deleted"] = .array(
                job.deletedFiles.map { file in
                    ["type": "Bundle", "url": .string(fileURL(job, file.name)), "count": .int(file.lines.count)]
                })
        }
        let expires = job.readyAt.adding(seconds: Double(settings.fileLifetime.components.seconds))
        return HTTPReply.json(manifest, headers: [(.expires, expires.date.formatted(.dateTime))])
    }

    func cancel(_ context: SandboxRequestContext) throws -> Response {
        let id = try context.parameters.require("job")
        guard exports.cancel(id, clientID: context.actor) else {
            throw FHIRError(status: 404, code: "not-found", diagnostics: "Export \(id) is not known: it was cancelled or has expired")
        }
        let outcome: WireJSON = [
            "resourceType": "OperationOutcome",
            "issue": [["severity": "information", "code": "informational", "diagnostics": .string("Export \(id) was cancelled")]],
        ]
        return HTTPReply.json(outcome, status: .accepted, contentType: FHIREnvelope.contentType)
    }

    static let errorFile = "OperationOutcome-errors.ndjson"
    static let ndjson = "application/fhir+ndjson"

    private func fileURL(_ job: BulkExportJob, _ name: String) -> String { "\(base)/_bulk/files/\(job.id)/\(name)" }

    func file(_ context: SandboxRequestContext) throws -> Response {
        let job = try job(context)
        let name = try context.parameters.require("file")
        let ready = world.clock.now() >= job.readyAt
        let lines: [[UInt8]]
        if ready, name == Self.errorFile, !job.errors.isEmpty {
            lines = job.errors
        } else if ready, let file = (job.files + job.deletedFiles).first(where: { $0.name == name }) {
            lines = file.lines
        } else {
            throw FHIRError(status: 404, code: "not-found", diagnostics: "Export file \(name) is not known")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for line in lines {
            bytes.append(contentsOf: line)
            bytes.append(UInt8(ascii: "\n"))
        }
        return HTTPReply.bytes(bytes, status: .ok, contentType: Self.ndjson)
    }
}

extension HeaderField.Name {
    static let xProgress = HeaderField.Name("X-Progress")!
}
