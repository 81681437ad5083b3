import Foundation
import StagelinkEngine
import Synchronization

/// A `ResourceWriter` that keeps FHIR resources in memory, for tests and benchmarks: kept out of
/// the engine library, only the tests and `stagelink bench` link it.
///
/// Conditional create finds an existing resource by identifier (so a second create returns the
/// first), a plain create always makes one, updates and patches check `If-Match` against the
/// current version, and every write bumps `meta.versionId` and `meta.lastUpdated` as a FHIR server
/// does. `modes` is what it says it offers (`writeModes(for:)`).
public final class InMemoryResourceWriter: ResourceWriter {
    public let meter = APIMeter()

    private struct Stored {
        var resource: JSONValue
        var version: Int
        var lastUpdated: Date
    }

    private struct State {
        var resources: [String: [String: Stored]] = [:]
        var nextID = 1
        var writes = 0
        var failNextWrite: LinkError?
        var loseNextCreateAnswer = false
    }

    private let state = Mutex(State())
    /// How this writer says it takes creates and updates (as a server's CapabilityStatement would).
    public let modes: EMRWriteModes

    public init(modes: EMRWriteModes = EMRWriteModes(create: .conditional, update: .put)) {
        self.modes = modes
    }

    public func writeModes(for resourceType: String) async throws(RemoteCallError) -> EMRWriteModes { modes }

    /// Puts a resource in place with a new id, as a person entering it in the EMR would.
    @discardableResult
    public func insert(_ resourceType: String, resource: JSONValue) -> String {
        state.withLock { state in
            let written = Self.insertNew(&state, resourceType, resource: resource)
            state.writes -= 1
            return written.id
        }
    }

    public func create(resourceType: String, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        meter.recordCall()
        guard let parsed = try? JSONValue(parsing: resource) else {
            return .failure(LinkError(.fhirInvalid, message: "the resource is not valid JSON"))
        }
        let (result, lost) = state.withLock { state -> (Result<WrittenResource, LinkError>, Bool) in
            if let error = state.failNextWrite {
                state.failNextWrite = nil
                return (.failure(error), false)
            }
            defer { state.loseNextCreateAnswer = false }
            return (.success(Self.insertNew(&state, resourceType, resource: parsed)), state.loseNextCreateAnswer)
        }
        if lost { throw RemoteCallError(.transient, LinkError(.connectionFailed, message: "the connection dropped before the answer came")) }
        return result
    }

    public func search(resourceType: String, identifier: ResourceIdentifier) async throws(RemoteCallError) -> [String] {
        meter.recordCall()
        return state.withLock { state in Self.matches(state, resourceType, identifier).map(\.key).sorted() }
    }

    public func patch(resourceType: String, id: String, operations: [JSONPatchOperation], ifMatch: String) async throws(RemoteCallError)
        -> Result<WrittenResource, LinkError>
    {
        meter.recordCall()
        return state.withLock { state in
            let stored: Stored
            switch Self.existing(&state, resourceType, id: id) {
            case .success(let found): stored = found
            case .failure(let error): return .failure(error)
            }
            guard ifMatch == String(stored.version) else {
                return .failure(LinkError(.versionMoved, message: "version \(ifMatch) is not the current version \(stored.version)"))
            }
            guard let patched = JSONPatchOperation.applying(operations, to: stored.resource) else {
                return .failure(LinkError(.fhirProcessing, message: "the patch names a path \(resourceType)/\(id) does not have"))
            }
            return .success(Self.newVersion(&state, resourceType, id: id, resource: patched, after: stored))
        }
    }

    /// The stored resource an update or patch changes; the failure it gets instead when one was
    /// asked for (`failNextWrite`) or there is none.
    private static func existing(_ state: inout State, _ resourceType: String, id: String) -> Result<Stored, LinkError> {
        if let error = state.failNextWrite {
            state.failNextWrite = nil
            return .failure(error)
        }
        guard let stored = state.resources[resourceType]?[id] else {
            return .failure(LinkError(.fhirNotFound, message: "\(resourceType)/\(id) does not exist"))
        }
        return .success(stored)
    }

    /// Stores `resource` as a new resource with the next id, version 1.
    private static func insertNew(_ state: inout State, _ resourceType: String, resource: JSONValue) -> WrittenResource {
        let id = "mem\(state.nextID)"
        state.nextID += 1
        let now = Date()
        state.resources[resourceType, default: [:]][id] = Stored(resource: stamped(resource, id: id, version: 1, at: now), version: 1, lastUpdated: now)
        state.writes += 1
        return WrittenResource(id: id, versionID: "1", lastUpdated: now, created: true)
    }

    /// Stores `resource` as the version after `stored`.
    private static func newVersion(_ state: inout State, _ resourceType: String, id: String, resource: JSONValue, after stored: Stored) -> WrittenResource {
        let now = Date()
        let version = stored.version + 1
        state.resources[resourceType]![id] = Stored(resource: stamped(resource, id: id, version: version, at: now), version: version, lastUpdated: now)
        state.writes += 1
        return WrittenResource(id: id, versionID: String(version), lastUpdated: now, created: false)
    }

    private static func matches(_ state: State, _ resourceType: String, _ identifier: ResourceIdentifier) -> [String: Stored] {
        (state.resources[resourceType] ?? [:]).filter { _, stored in
            stored.resource["identifier"]?.arrayValue?.contains {
                $0["system"]?.stringValue == identifier.system && $0["value"]?.stringValue == identifier.value
            } ?? false
        }
    }

    /// How many creates and updates changed something.
    public var writeCount: Int { state.withLock { $0.writes } }

    /// Makes the next create or update fail with this error.
    public func failNextWrite(with error: LinkError) {
        state.withLock { $0.failNextWrite = error }
    }

    /// Makes the next plain create land but its answer be lost, as a connection that drops after
    /// the server acted: the call throws a transient `CONNECTION_FAILED`.
    public func loseNextCreateAnswer() {
        state.withLock { $0.loseNextCreateAnswer = true }
    }

    /// Puts a resource in place as if it had always been there (version 1).
    public func seed(_ resourceType: String, id: String, resource: JSONValue) {
        state.withLock { $0.resources[resourceType, default: [:]][id] = Stored(resource: Self.stamped(resource, id: id, version: 1, at: Date()), version: 1, lastUpdated: Date()) }
    }

    public func resource(_ resourceType: String, id: String) -> JSONValue? {
        state.withLock { $0.resources[resourceType]?[id]?.resource }
    }

    public func resources(_ resourceType: String) -> [String: JSONValue] {
        state.withLock { ($0.resources[resourceType] ?? [:]).mapValues(\.resource) }
    }

    public func createIfNoneExist(resourceType: String, identifier: ResourceIdentifier, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        meter.recordCall()
        guard let parsed = try? JSONValue(parsing: resource) else {
            return .failure(LinkError(.fhirInvalid, message: "the resource is not valid JSON"))
        }
        return state.withLock { state in
            if let error = state.failNextWrite {
                state.failNextWrite = nil
                return .failure(error)
            }
            let matches = Self.matches(state, resourceType, identifier)
            if matches.count > 1 {
                return .failure(LinkError.multipleMatches(resourceType, identifier, ids: matches.keys.sorted()))
            }
            if let (id, stored) = matches.first {
                return .success(WrittenResource(id: id, versionID: String(stored.version), lastUpdated: stored.lastUpdated, created: false))
            }
            return .success(Self.insertNew(&state, resourceType, resource: parsed))
        }
    }

    public func update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        meter.recordCall()
        guard let parsed = try? JSONValue(parsing: resource) else {
            return .failure(LinkError(.fhirInvalid, message: "the resource is not valid JSON"))
        }
        return state.withLock { state in
            let stored: Stored
            switch Self.existing(&state, resourceType, id: id) {
            case .success(let found): stored = found
            case .failure(let error): return .failure(error)
            }
            if let ifMatch, ifMatch != String(stored.version) {
                return .failure(LinkError(.versionMoved, message: "version \(ifMatch) is not the current version \(stored.version)"))
            }
            return .success(Self.newVersion(&state, resourceType, id: id, resource: parsed, after: stored))
        }
    }

    public func read(resourceType: String, id: String) async throws(RemoteCallError) -> IncomingRecord? {
        meter.recordCall()
        return state.withLock { state in
            state.resources[resourceType]?[id].map {
                IncomingRecord(
                    system: .emr, resourceType: resourceType, sourceID: id, version: String($0.version), lastUpdated: $0.lastUpdated,
                    payload: JSONWriter.compact($0.resource))
            }
        }
    }

    private static func stamped(_ resource: JSONValue, id: String, version: Int, at: Date) -> JSONValue {
        guard var object = resource.objectValue else { return resource }
        object["id"] = .string(id)
        object["meta"] = ["versionId": .string(String(version)), "lastUpdated": .string(Timestamp.format(at))]
        return .object(object)
    }
}
