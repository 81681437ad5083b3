import Foundation
import Synchronization

/// A `ResourceWriter` that keeps FHIR resources in memory, for tests, benchmarks and dry runs.
///
/// Conditional create finds an existing resource by identifier (so a second create returns the
/// first), updates check `If-Match` against the current version, and every write bumps
/// `meta.versionId` and `meta.lastUpdated` as a FHIR server does.
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
    }

    private let state = Mutex(State())

    public init() {}

    /// How many creates and updates changed something.
    public var writeCount: Int { state.withLock { $0.writes } }

    /// Makes the next create or update fail with this error.
    public func failNextWrite(with error: LinkError) {
        state.withLock { $0.failNextWrite = error }
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
            let matches = (state.resources[resourceType] ?? [:]).filter { _, stored in
                stored.resource["identifier"]?.arrayValue?.contains {
                    $0["system"]?.stringValue == identifier.system && $0["value"]?.stringValue == identifier.value
                } ?? false
            }
            if matches.count > 1 {
                return .failure(LinkError(.multipleMatches, message: "\(matches.count) \(resourceType) resources carry the identifier \(identifier)"))
            }
            if let (id, stored) = matches.first {
                return .success(WrittenResource(id: id, versionID: String(stored.version), lastUpdated: stored.lastUpdated, created: false))
            }
            let id = "mem\(state.nextID)"
            state.nextID += 1
            let now = Date()
            state.resources[resourceType, default: [:]][id] = Stored(resource: Self.stamped(parsed, id: id, version: 1, at: now), version: 1, lastUpdated: now)
            state.writes += 1
            return .success(WrittenResource(id: id, versionID: "1", lastUpdated: now, created: true))
        }
    }

    public func update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        meter.recordCall()
        guard let parsed = try? JSONValue(parsing: resource) else {
            return .failure(LinkError(.fhirInvalid, message: "the resource is not valid JSON"))
        }
        return state.withLock { state in
            if let error = state.failNextWrite {
                state.failNextWrite = nil
                return .failure(error)
            }
            guard let stored = state.resources[resourceType]?[id] else {
                return .failure(LinkError(.fhirNotFound, message: "\(resourceType)/\(id) does not exist"))
            }
            if let ifMatch, ifMatch != String(stored.version) {
                return .failure(LinkError(.versionMoved, message: "version \(ifMatch) is not the current version \(stored.version)"))
            }
            let now = Date()
            let version = stored.version + 1
            state.resources[resourceType]![id] = Stored(resource: Self.stamped(parsed, id: id, version: version, at: now), version: version, lastUpdated: now)
            state.writes += 1
            return .success(WrittenResource(id: id, versionID: String(version), lastUpdated: now, created: false))
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
