/// Records batches of link outcomes in the store while the caller goes on with the next batch:
/// the store's writer and the linker work on both cores at once.
///
/// Outcomes are gathered until `transactionSize` of them wait, then recorded in one transaction:
/// a commit rewrites every page it touched into the WAL, and consecutive batches touch the same
/// pages (the status index, the attempts, the lineage), so fewer, larger commits write far less.
struct OutcomeWriter {
    let store: any LinkingStore & RowReader
    let recorder: JobRecorder
    let transactionSize: Int
    /// Transactions started and not yet awaited, oldest first. Two at once: while one is written,
    /// the next is encoded for storage on the other core.
    private var inFlight: [(task: Task<Void, any Error>, keys: Keys)] = []
    private static let maximumInFlight = 2
    private var pending: [LinkOutcome] = []
    /// The records and sources of what is pending: with those in flight, not yet readable from
    /// the store.
    private var pendingKeys = Keys()

    private struct Keys {
        var records = Set<MappedRecordKey>()
        var sources = Set<SourceKey>()

        func touches(_ records: Set<MappedRecordKey>, _ sources: Set<SourceKey>) -> Bool {
            !self.records.isDisjoint(with: records) || !self.sources.isDisjoint(with: sources)
        }
    }

    init(store: any LinkingStore & RowReader, recorder: JobRecorder, transactionSize: Int = 1_000) {
        self.store = store
        self.recorder = recorder
        self.transactionSize = transactionSize
    }

    /// Whether a batch touching these records must wait until what was submitted is recorded.
    func isRecording(_ records: Set<MappedRecordKey>, _ sources: Set<SourceKey>) -> Bool {
        inFlight.contains { $0.keys.touches(records, sources) } || pendingKeys.touches(records, sources)
    }

    /// Adds a batch's outcomes; once enough wait, starts recording them (first waiting for the
    /// oldest transaction if two are in flight).
    ///
    /// Transactions in flight together may commit in either order: they never share a record
    /// or a row, because a batch touching what is being recorded waits for it (``isRecording``).
    mutating func submit(_ outcomes: [LinkOutcome], records: Set<MappedRecordKey> = [], sources: Set<SourceKey> = []) async throws {
        pending += outcomes
        pendingKeys.records.formUnion(records)
        pendingKeys.sources.formUnion(sources)
        if pending.count >= transactionSize { try await flush() }
    }

    /// Waits until everything submitted is recorded.
    mutating func drain() async throws {
        try await flush()
        while !inFlight.isEmpty { try await waitForOldest() }
    }

    private mutating func flush() async throws {
        guard !pending.isEmpty else { return }
        while inFlight.count >= Self.maximumInFlight { try await waitForOldest() }
        let outcomes = pending
        pending = []
        let keys = pendingKeys
        pendingKeys = Keys()
        let store = store
        let recorder = recorder
        let task = Task {
            try await store.record(outcomes)
            await recorder.add(Job.Counts(outcomes: outcomes))
            await recorder.advance(by: outcomes.count)
        }
        inFlight.append((task, keys))
    }

    private mutating func waitForOldest() async throws {
        let oldest = inFlight.removeFirst()
        try await oldest.task.value
    }
}

extension Job.Counts {
    /// What a set of link outcomes adds to a job's counts.
    init(outcomes: [LinkOutcome]) {
        self.init()
        for outcome in outcomes {
            switch outcome.status {
            case .linked, .held: linked += 1
            case .failed: failed += 1
            case .superseded: superseded += 1
            case .withheld: withheld += 1
            case .staged, .ignored: break
            }
            conflicts += outcome.conflicts.count
        }
    }
}
