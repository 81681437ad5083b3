import Foundation
import StagelinkEngine
import StagelinkHTTP

extension FHIRClient {
    /// How the server takes creates and updates of `resourceType`: `emr.writes.create` and
    /// `emr.writes.update` when configured; what is not is read once from the server's
    /// CapabilityStatement (`GET <base>/metadata`): `conditionalCreate` and the `update` and `patch`
    /// interactions of that resource type (FHIR R4 capabilitystatement.html).
    public func writeModes(for resourceType: String) async throws(RemoteCallError) -> EMRWriteModes {
        if let create = configuration.writes.create, let update = configuration.writes.update {
            return EMRWriteModes(create: create, update: update)
        }
        let offered = try await capabilityWriteModes()
        var modes = offered[resourceType] ?? EMRWriteModes(interactions: [], conditionalCreate: false)
        if let create = configuration.writes.create { modes.create = create }
        if let update = configuration.writes.update { modes.update = update }
        return modes
    }

    /// The write modes the CapabilityStatement offers per resource type, read once.
    private func capabilityWriteModes() async throws(RemoteCallError) -> [String: EMRWriteModes] {
        if let known = capabilityModes.withLock({ $0 }) { return known }
        let request = HTTPRequest(.get, url: try resourceURL(["metadata"]), headers: ["Accept": Self.fhirJSON], retry: .idempotent)
        let (modes, batch) = try await call(request) { (response) throws(RemoteCallError) -> ([String: EMRWriteModes], Bool) in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            guard let statement = try? JSONValue(parsing: response.body), statement["resourceType"]?.stringValue == "CapabilityStatement" else {
                throw FHIRErrors.malformed("the EMR's metadata is not a CapabilityStatement")
            }
            return (Self.writeModes(statement), Self.offersBatch(statement))
        }
        capabilityBatch.withLock { $0 = batch }
        capabilityModes.withLock { $0 = modes }
        let summary = modes.keys.sorted().map { "\($0) (\(modes[$0]!))" }.joined(separator: ", ")
        logger.info("EMR writes as its CapabilityStatement offers them", metadata: ["emr.writes": "\(summary)"])
        return modes
    }

    /// Whether `POST [base]` takes a `batch` Bundle: the server part's system-level `interaction`
    /// lists `batch` (FHIR R4 CapabilityStatement.rest.interaction, SystemRestfulInteraction).
    static func offersBatch(_ statement: JSONValue) -> Bool {
        (statement["rest"]?.arrayValue ?? []).contains { rest in
            rest["mode"]?.stringValue == "server" && (rest["interaction"]?.arrayValue ?? []).contains { $0["code"]?.stringValue == "batch" }
        }
    }

    /// `emr.batchSize` where the CapabilityStatement offers `batch`, else 1 (read once, with the write modes).
    public func batchLimit() async throws(RemoteCallError) -> Int {
        guard configuration.batchSize > 1 else { return 1 }
        if capabilityBatch.withLock({ $0 }) == nil { _ = try await capabilityWriteModes() }
        return capabilityBatch.withLock({ $0 }) == true ? configuration.batchSize : 1
    }

    /// Each server resource's write modes, from a CapabilityStatement.
    static func writeModes(_ statement: JSONValue) -> [String: EMRWriteModes] {
        var modes: [String: EMRWriteModes] = [:]
        for rest in statement["rest"]?.arrayValue ?? [] where rest["mode"]?.stringValue == "server" {
            for resource in rest["resource"]?.arrayValue ?? [] {
                guard let type = resource["type"]?.stringValue else { continue }
                let interactions = Set((resource["interaction"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue })
                modes[type] = EMRWriteModes(interactions: interactions, conditionalCreate: resource["conditionalCreate"] == .bool(true))
            }
        }
        return modes
    }
}
