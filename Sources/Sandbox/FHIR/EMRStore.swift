import Synchronization

/// One stored FHIR resource: its current version, encoded once for fast search pages, and its older versions.
struct FHIRResourceEntry: Sendable {
    var resource: WireObject
    var versionID: Int
    var lastUpdated: SandboxInstant
    var encoded: [UInt8]
    var history: [WireObject] = []
    /// `encoded` was planted as raw bytes (`SandboxInspection.plantRawFHIRResource`) and is served
    /// verbatim; `resource` then holds only its type, id and meta.
    var isRaw = false
    /// The versions that are deletions (FHIR R4 http.html#delete: a delete makes a new version that a
    /// read answers 410 Gone; an update afterwards makes a live version again).
    var deletedVersions: Set<Int> = []

    /// Whether the current version is a deletion.
    var isDeleted: Bool { deletedVersions.contains(versionID) }
}

/// A FHIR access token issued to a backend client.
struct FHIRSession: Sendable {
    var clientID: String
    var scopes: [String]
}

/// A search's result ids, frozen at its first page so that paging is stable while data changes.
struct SearchSnapshot: Sendable {
    var type: String
    var ids: [String]
}

extension EMRStore.State {
    /// Stores `entry` as the current version of `type/id` (a new id goes last in creation order)
    /// and indexes its identifier values.
    mutating func store(_ entry: FHIRResourceEntry, type: String, id: String) {
        if resources[type]?[id] == nil {
            positions[type, default: [:]][id] = order[type]?.count ?? 0
            order[type, default: []].append(id)
        }
        resources[type, default: [:]][id] = entry
        for identifier in entry.resource["identifier"]?.arrayValue ?? [] {
            if let value = identifier["value"]?.stringValue { identifierIndex[type, default: [:]][value, default: []].insert(id) }
        }
    }
}

/// The simulated EMR: resources by type and id with versions, search snapshots and access tokens.
final class EMRStore: Sendable {
    struct State: Sendable {
        var resources: [String: [String: FHIRResourceEntry]] = [:]
        var order: [String: [String]] = [:]
        /// Each resource's place in `order`, so that what an index finds keeps creation order.
        var positions: [String: [String: Int]] = [:]
        /// The ids of the resources of a type carrying an identifier value (any system), as a real
        /// FHIR server indexes its token search parameters (FHIR R4 search.html#token: `identifier`
        /// is a search parameter every server keeps): a search or an `If-None-Exist` by identifier
        /// reads these candidates, not every resource of the type. A superset: every value a
        /// resource ever carried; the search still checks each candidate.
        var identifierIndex: [String: [String: Set<String>]] = [:]
        var nextID = 1000
        var snapshots: [String: SearchSnapshot] = [:]
        var snapshotOrder: [String] = []
        var snapshotSequence = 0
        /// History listings, paged like searches (their tokens start with `history-`).
        var historySnapshots: [String: [HistoryItem]] = [:]
        var historyOrder: [String] = []
        var usedAssertionIDs: Set<String> = []
    }

    static let resourceTypes = ["Patient", "EpisodeOfCare", "QuestionnaireResponse", "ServiceRequest", "Questionnaire"]

    let state = Mutex(State())
    let clock: SandboxClock
    let ledger: WriteLedger
    private let sessions: SessionTable<FHIRSession>

    init(clock: SandboxClock, ledger: WriteLedger) {
        self.clock = clock
        self.ledger = ledger
        self.sessions = SessionTable(clock: clock)
    }

    /// Empties the EMR, keeping access tokens.
    func reset() {
        state.withLock { state in
            let used = state.usedAssertionIDs
            state = State()
            state.usedAssertionIDs = used
        }
    }

    /// The resource with `meta.versionId` and `meta.lastUpdated` set and `resourceType`, `id`, `meta` first.
    static func stamped(_ resource: WireObject, type: String, id: String, version: Int, at instant: SandboxInstant)
        -> WireObject
    {
        var meta = resource["meta"]?.objectValue ?? WireObject()
        meta["versionId"] = .string(String(version))
        meta["lastUpdated"] = .string(instant.fhirInstant)
        var output = WireObject([("resourceType", .string(type)), ("id", .string(id)), ("meta", .object(meta))])
        for (key, value) in resource where !["resourceType", "id", "meta"].contains(key) { output[key] = value }
        return output
    }

    /// Stores a new resource (id assigned unless given), version 1.
    func insert(_ resource: WireObject, type: String, id givenID: String? = nil, at instant: SandboxInstant? = nil)
        -> FHIRResourceEntry
    {
        let instant = instant ?? clock.now()
        return state.withLock { state in Self.insert(&state, resource, type: type, id: givenID, at: instant) }
    }

    static func insert(_ state: inout State, _ resource: WireObject, type: String, id givenID: String?, at instant: SandboxInstant)
        -> FHIRResourceEntry
    {
        let id: String
        if let givenID {
            id = givenID
        } else {
            state.nextID += 1
            id = String(state.nextID)
        }
        let stamped = stamped(resource, type: type, id: id, version: 1, at: instant)
        let entry = FHIRResourceEntry(
            resource: stamped, versionID: 1, lastUpdated: instant, encoded: WireJSON.object(stamped).serialized())
        state.store(entry, type: type, id: id)
        return entry
    }

    /// Replaces a resource with a new version; an unchanged body (meta aside) keeps the current version.
    static func replace(_ state: inout State, _ resource: WireObject, type: String, id: String, at instant: SandboxInstant)
        -> (entry: FHIRResourceEntry, changed: Bool)
    {
        guard var entry = state.resources[type]?[id] else {
            return (insert(&state, resource, type: type, id: id, at: instant), true)
        }
        if withoutMeta(entry.resource) == withoutMeta(stamped(resource, type: type, id: id, version: 0, at: instant)) {
            return (entry, false)
        }
        entry.history.append(entry.resource)
        entry.versionID += 1
        entry.lastUpdated = instant
        entry.resource = stamped(resource, type: type, id: id, version: entry.versionID, at: instant)
        entry.encoded = WireJSON.object(entry.resource).serialized()
        entry.isRaw = false
        state.store(entry, type: type, id: id)
        return (entry, true)
    }

    private static func withoutMeta(_ resource: WireObject) -> WireObject {
        var copy = resource
        copy["meta"] = nil
        return copy
    }

    /// Makes `bytes` the current version of `type/id`, served verbatim by search and read whatever
    /// they hold (invalid JSON or UTF-8 included): how a test plants what a broken EMR would send.
    func plantRaw(_ bytes: [UInt8], type: String, id: String) -> FHIRResourceEntry {
        let instant = clock.now()
        return state.withLock { state in
            var entry: FHIRResourceEntry
            if var existing = state.resources[type]?[id] {
                if !existing.isRaw { existing.history.append(existing.resource) }
                existing.versionID += 1
                existing.lastUpdated = instant
                entry = existing
            } else {
                entry = FHIRResourceEntry(resource: [:], versionID: 1, lastUpdated: instant, encoded: [])
            }
            entry.resource = Self.stamped([:], type: type, id: id, version: entry.versionID, at: instant)
            entry.encoded = bytes
            entry.isRaw = true
            state.store(entry, type: type, id: id)
            return entry
        }
    }

    /// The resource `type/id`, deleted or not.
    func entry(_ type: String, _ id: String) -> FHIRResourceEntry? {
        state.withLock { $0.resources[type]?[id] }
    }

    /// The resource `type/id` unless it is unknown or deleted.
    func liveEntry(_ type: String, _ id: String) -> FHIRResourceEntry? {
        entry(type, id).flatMap { $0.isDeleted ? nil : $0 }
    }

    /// The live (not deleted) resources of a type in creation order.
    func entries(_ type: String) -> [FHIRResourceEntry] {
        state.withLock { state in Self.liveEntries(state, type) }
    }

    static func liveEntries(_ state: State, _ type: String) -> [FHIRResourceEntry] {
        (state.order[type] ?? []).compactMap { id in state.resources[type]?[id].flatMap { $0.isDeleted ? nil : $0 } }
    }

    /// The live resources a search may match, in creation order: those its identifier values find
    /// in the index when it searches by identifier values, else every live one of its type.
    static func candidates(_ state: State, for search: FHIRSearch) -> [FHIRResourceEntry] {
        guard let values = search.identifierValues else { return liveEntries(state, search.type) }
        let index = state.identifierIndex[search.type] ?? [:]
        let positions = state.positions[search.type] ?? [:]
        let ids = Set(values.flatMap { index[$0] ?? [] }).sorted { (positions[$0] ?? 0) < (positions[$1] ?? 0) }
        return ids.compactMap { id in state.resources[search.type]?[id].flatMap { $0.isDeleted ? nil : $0 } }
    }

    var resourceCounts: [String: Int] { state.withLock { $0.resources.mapValues(\.count) } }

    // MARK: - Tokens

    func openSession(token: String, clientID: String, scopes: [String], lifetime: Duration) {
        sessions.open(token, FHIRSession(clientID: clientID, scopes: scopes), lifetime: lifetime)
    }

    func session(token: String) -> FHIRSession? { sessions.session(token) }

    /// Every access token issued, for tests that check no log line holds one.
    var issuedTokens: [String] { sessions.tokens }

    /// Records an assertion's `jti`; false when it was used before (a replay).
    func useAssertionID(_ jti: String) -> Bool {
        state.withLock { $0.usedAssertionIDs.insert(jti).inserted }
    }
}
