import Foundation

/// A FHIR server that Stagelink writes into: create (conditional, or a search by identifier then
/// a plain create), versioned update (PUT or JSON Patch), read.
public protocol ResourceWriter: Sendable {
    var meter: APIMeter { get }

    /// How this server takes creates and updates of `resourceType`: as configured
    /// (`emr.writes`), else as its CapabilityStatement says.
    func writeModes(for resourceType: String) async throws(RemoteCallError) -> EMRWriteModes

    /// `POST` without a condition. Never sent twice on its own: when its outcome is unknown the
    /// row fails transiently and the next attempt searches by identifier first.
    func create(resourceType: String, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError>

    /// The ids of the resources carrying `identifier` (a search by `identifier=system|value`).
    func search(resourceType: String, identifier: ResourceIdentifier) async throws(RemoteCallError) -> [String]

    /// `PATCH` with these JSON Patch operations, only if the current version is `ifMatch`.
    func patch(resourceType: String, id: String, operations: [JSONPatchOperation], ifMatch: String) async throws(RemoteCallError)
        -> Result<WrittenResource, LinkError>

    /// Creates the resource unless one with `identifier` exists (`If-None-Exist`), so that a crash
    /// between the create and storing its id can never make a second one.
    func createIfNoneExist(resourceType: String, identifier: ResourceIdentifier, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError>

    /// Replaces the resource, only if its current version is `ifMatch` (when given).
    func update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError>

    /// The current resource with its exact bytes, or nil when there is none with that id.
    func read(resourceType: String, id: String) async throws(RemoteCallError) -> IncomingRecord?

    /// The most writes one `batch` Bundle carries: `emr.batchSize` where the server's
    /// CapabilityStatement offers the `batch` interaction, else 1 (one interaction at a time).
    func batchLimit() async throws(RemoteCallError) -> Int

    /// Sends `writes` as the entries of one `batch` Bundle (FHIR R4 http.html#transaction): one
    /// result per write, in the same order, each entry refused or written on its own. A Bundle
    /// refused or lost as a whole (a 5xx, a timeout) is thrown: none of its writes is known to
    /// have happened, and each is safe to send again (conditional creates, versioned updates).
    func batch(_ writes: [BatchWrite]) async throws(RemoteCallError) -> [Result<WrittenResource, LinkError>]
}

extension ResourceWriter {
    /// One interaction at a time: a server without `batch`.
    public func batchLimit() async throws(RemoteCallError) -> Int { 1 }

    /// Each write on its own, in order.
    public func batch(_ writes: [BatchWrite]) async throws(RemoteCallError) -> [Result<WrittenResource, LinkError>] {
        var results: [Result<WrittenResource, LinkError>] = []
        for write in writes {
            switch write {
            case .createIfNoneExist(let resourceType, let identifier, let resource):
                results.append(try await createIfNoneExist(resourceType: resourceType, identifier: identifier, resource: resource))
            case .update(let resourceType, let id, let resource, let ifMatch):
                results.append(try await update(resourceType: resourceType, id: id, resource: resource, ifMatch: ifMatch))
            }
        }
        return results
    }
}

/// One write of a `batch` Bundle: only writes that are safe to send again when a Bundle's outcome
/// is unknown, so that a lost Bundle is retried whole without making anything twice.
public enum BatchWrite: Sendable, Hashable {
    /// `POST [type]` with `request.ifNoneExist: identifier=system|value` (conditional create).
    case createIfNoneExist(resourceType: String, identifier: ResourceIdentifier, resource: [UInt8])
    /// `PUT [type]/[id]`, with `request.ifMatch` when a version is given.
    case update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?)
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

/// `emr.writes.create`: how a resource is created without ever making a second one.
public enum EMRCreateMode: String, Sendable, Hashable, CaseIterable {
    /// `POST` with `If-None-Exist: identifier=…` (FHIR conditional create): the server finds what
    /// an earlier attempt made.
    case conditional
    /// A search by identifier, then a plain `POST`, with a create intent recorded in the store
    /// before it: for servers without conditional create (Oracle Health, Epic).
    case searchThenCreate = "search-then-create"
}

/// `emr.writes.update`: how changes are sent to a resource that exists.
public enum EMRUpdateMode: String, Sendable, Hashable, CaseIterable {
    /// `PUT` of the whole resource with `If-Match`.
    case put
    /// `PATCH` with only the changed elements as JSON Patch operations, with `If-Match`.
    case patch
}

/// How one EMR takes creates and updates.
public struct EMRWriteModes: Sendable, Hashable, CustomStringConvertible {
    public var create: EMRCreateMode
    public var update: EMRUpdateMode

    public init(create: EMRCreateMode, update: EMRUpdateMode) {
        self.create = create
        self.update = update
    }

    /// What a server offers, read from its CapabilityStatement's entry for a resource type: its
    /// `interaction` codes and its `conditionalCreate`. Conditional create when offered, else
    /// search-then-create; PUT when `update` is offered, else JSON Patch when `patch` is.
    public init(interactions: Set<String>, conditionalCreate: Bool) {
        create = conditionalCreate ? .conditional : .searchThenCreate
        update = interactions.contains("update") || !interactions.contains("patch") ? .put : .patch
    }

    public var description: String { "create: \(create.rawValue), update: \(update.rawValue)" }
}

extension LinkError {
    /// Several resources carry the identifier a create is keyed on: a lasting failure a person
    /// settles in the EMR, naming how many and which (when known).
    public static func multipleMatches(_ resourceType: String, _ identifier: ResourceIdentifier, ids: [String]) -> LinkError {
        let count = ids.isEmpty ? "Several" : String(ids.count)
        return LinkError(
            .multipleMatches,
            message: "\(count) \(resourceType) resources in the EMR carry the identifier \(identifier)"
                + (ids.isEmpty ? "" : " (\(ids.map { "\(resourceType)/\($0)" }.joined(separator: ", ")))")
                + ": a duplicate a person must settle in the EMR before this record can be sent")
    }
}
