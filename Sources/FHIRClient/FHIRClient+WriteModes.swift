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
        let modes = try await call(request) { (response) throws(RemoteCallError) -> [String: EMRWriteModes] in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            guard let statement = try? JSONValue(parsing: response.body), statement["resourceType"]?.stringValue == "CapabilityStatement" else {
                throw FHIRErrors.malformed("the EMR's metadata is not a CapabilityStatement")
            }
            return Self.writeModes(statement)
        }
        capabilityModes.withLock { $0 = modes }
        let summary = modes.keys.sorted().map { "\($0) (\(modes[$0]!))" }.joined(separator: ", ")
        logger.info("EMR writes as its CapabilityStatement offers them", metadata: ["emr.writes": "\(summary)"])
        return modes
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
