import Foundation

/// A FHIR server that Stagelink writes into: conditional create, versioned update, read.
public protocol ResourceWriter: Sendable {
    var meter: APIMeter { get }

    /// Creates the resource unless one with `identifier` exists (`If-None-Exist`), so that a crash
    /// between the create and storing its id can never make a second one.
    func createIfNoneExist(resourceType: String, identifier: ResourceIdentifier, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError>

    /// Replaces the resource, only if its current version is `ifMatch` (when given).
    func update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError>

    /// The current resource with its exact bytes, or nil when there is none with that id.
    func read(resourceType: String, id: String) async throws(RemoteCallError) -> IncomingRecord?
}

/// A FHIR identifier, `system|value`.
public struct ResourceIdentifier: Sendable, Hashable, CustomStringConvertible {
    public var system: String
    public var value: String

    public init(system: String, value: String) {
        self.system = system
        self.value = value
    }

    public var description: String { "\(system)|\(value)" }
}

/// What the EMR answered to a write: the id and version it now has.
public struct WrittenResource: Sendable, Hashable {
    public var id: String
    public var versionID: String?
    public var lastUpdated: Date?
    /// False when a conditional create found the resource already there.
    public var created: Bool

    public init(id: String, versionID: String?, lastUpdated: Date?, created: Bool) {
        self.id = id
        self.versionID = versionID
        self.lastUpdated = lastUpdated
        self.created = created
    }
}
