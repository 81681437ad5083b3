import Synchronization

/// One write to one record: who made it, when, through which endpoint, and the values it set.
public struct WriteRecord: Sendable, Hashable {
    /// When the sandbox applied it.
    public var at: SandboxInstant
    public var system: SandboxSystem
    /// The Salesforce object or FHIR resource type.
    public var type: String
    /// The record's id (Salesforce 18-character id or FHIR logical id).
    public var id: String
    /// `create`, `update`, `patch` or `upsert`.
    public var operation: String
    /// Who wrote it: a Salesforce user id (`005…`), a FHIR client id, or the seed and mutation driver's users.
    public var actor: String
    /// The endpoint group of the call, nil for seed and mutation driver writes.
    public var endpoint: SandboxEndpoint?
    /// The fields (Salesforce) or top-level elements (FHIR) the write set, with their new values.
    public var changes: WireObject
}

/// Calls, writes and injected faults per endpoint group, and how many records each simulator holds.
///
/// For example:
///
/// ```swift
/// let counts = sandbox.inspection.counts()
/// #expect(counts.writes[.salesforceCollections, default: 0] == 0)
/// ```
public struct SandboxCounts: Sendable, Hashable {
    public var calls: [SandboxEndpoint: Int]
    public var writes: [SandboxEndpoint: Int]
    public var faults: [SandboxEndpoint: Int]
    /// Writes made by the mutation driver.
    public var mutationWrites: Int
    /// Salesforce records per object.
    public var salesforceRecords: [String: Int]
    /// FHIR resources per type.
    public var fhirResources: [String: Int]
    /// The API requests counted against the daily limit.
    public var apiUsage: Int
}

/// A record deleted or merged away at its source: when, and for a merge the record kept.
public struct Removal: Sendable, Hashable {
    public var system: SandboxSystem
    public var type: String
    public var id: String
    /// The record it was merged into; nil for a deletion.
    public var survivor: String?
    public var at: SandboxInstant
}

/// The history of writes per record and the call and write counters.
final class WriteLedger: Sendable {
    private struct State {
        var history: [String: [WriteRecord]] = [:]
        var calls: [SandboxEndpoint: Int] = [:]
        var writes: [SandboxEndpoint: Int] = [:]
        var mutationWrites = 0
        /// The `Prefer` header values each endpoint group received.
        var preferences: [SandboxEndpoint: Set<String>] = [:]
    }

    private let state = Mutex(State())

    static func key(_ system: SandboxSystem, _ type: String, _ id: String) -> String {
        "\(system.rawValue)/\(type)/\(id)"
    }

    func countCall(_ endpoint: SandboxEndpoint, prefer: String? = nil) {
        state.withLock { state in
            state.calls[endpoint, default: 0] += 1
            if let prefer { state.preferences[endpoint, default: []].insert(prefer) }
        }
    }

    func preferences(_ endpoint: SandboxEndpoint) -> Set<String> {
        state.withLock { $0.preferences[endpoint] ?? [] }
    }

    func record(_ writes: [WriteRecord], mutation: Bool = false) {
        guard !writes.isEmpty else { return }
        state.withLock { state in
            for write in writes {
                state.history[Self.key(write.system, write.type, write.id), default: []].append(write)
                if let endpoint = write.endpoint { state.writes[endpoint, default: 0] += 1 }
                if mutation { state.mutationWrites += 1 }
            }
        }
    }

    func history(_ system: SandboxSystem, _ type: String, _ id: String) -> [WriteRecord] {
        state.withLock { $0.history[Self.key(system, type, id)] ?? [] }
    }

    /// Every record deleted or merged away at its source, oldest first, read from the writes: a
    /// deletion (`delete`), a Salesforce merge's loser (`merge-delete`, `MasterRecordId`), a FHIR
    /// Patient given a `replaced-by` link. The first removal of each record only.
    func removals() -> [Removal] {
        let writes = state.withLock { $0.history.values.flatMap { $0 } }
        var removals: [String: Removal] = [:]
        for write in writes {
            let removal: Removal
            if write.operation == "delete" {
                removal = Removal(system: write.system, type: write.type, id: write.id, survivor: nil, at: write.at)
            } else if write.operation == "merge-delete", let master = write.changes["MasterRecordId"]?.stringValue {
                removal = Removal(system: write.system, type: write.type, id: write.id, survivor: master, at: write.at)
            } else if write.system == .fhir,
                let other = write.changes["link"]?.arrayValue?.first(where: { $0["type"]?.stringValue == "replaced-by" })?["other"]?["reference"]?.stringValue
            {
                removal = Removal(
                    system: write.system, type: write.type, id: write.id, survivor: String(other.split(separator: "/").last ?? ""), at: write.at)
            } else {
                continue
            }
            let key = Self.key(write.system, write.type, write.id)
            if let known = removals[key], known.at < removal.at { continue }
            removals[key] = removal
        }
        return removals.values.sorted { $0.at < $1.at }
    }

    func snapshot() -> (calls: [SandboxEndpoint: Int], writes: [SandboxEndpoint: Int], mutationWrites: Int) {
        state.withLock { ($0.calls, $0.writes, $0.mutationWrites) }
    }

    func reset() {
        state.withLock { $0 = State() }
    }
}
