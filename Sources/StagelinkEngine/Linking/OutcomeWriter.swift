/// Records batches of link outcomes in the store, in order, while the caller goes on with the
/// next batch: the store's writer and the linker work on both cores at once.
///
/// Outcomes are gathered until `transactionSize` of them wait, then recorded in one transaction:
/// a commit rewrites every page it touched into the WAL, and consecutive batches touch the same
/// pages (the status index, the attempts, the lineage), so fewer, larger commits write far less.
struct OutcomeWriter {
    let store: any SyncStore
    let recorder: JobRecorder
    let transactionSize: Int
    private var inFlight: Task<Void, any Error>?
    private var pending: [LinkOutcome] = []
    /// The records and sources of what is in flight and of what is pending: not yet readable
    /// from the store.
    private var inFlightKeys = Keys()
    private var pendingKeys = Keys()

    private struct Keys {
        var records = Set<MappedRecordKey>()
        var sources = Set<SourceKey>()

        func touches(_ records: Set<MappedRecordKey>, _ sources: Set<SourceKey>) -> Bool {
            !self.records.isDisjoint(with: records) || !self.sources.isDisjoint(with: sources)
        }
    }

    init(store: any SyncStore, recorder: JobRecorder, transactionSize: Int = 1_000) {
        self.store = store
        self.recorder = recorder
        self.transactionSize = transactionSize
    }

    /// Whether a batch touching these records must wait until what was submitted is recorded.
    func isRecording(_ records: Set<MappedRecordKey>, _ sources: Set<SourceKey>) -> Bool {
        inFlightKeys.touches(records, sources) || pendingKeys.touches(records, sources)
    }

    /// Adds a batch's outcomes; once enough wait, waits for the previous transaction and starts
    /// recording them.
    mutating func submit(_ outcomes: [LinkOutcome], records: Set<MappedRecordKey> = [], sources: Set<SourceKey> = []) async throws {
        pending += outcomes
        pendingKeys.records.formUnion(records)
        pendingKeys.sources.formUnion(sources)
        if pending.count >= transactionSize { try await flush() }
    }

    /// Waits until everything submitted is recorded.
    mutating func drain() async throws {
        try await flush()
        try await waitForInFlight()
    }

    private mutating func flush() async throws {
        try await waitForInFlight()
        guard !pending.isEmpty else { return }
        let outcomes = pending
        pending = []
        inFlightKeys = pendingKeys
        pendingKeys = Keys()
        let store = store
        let recorder = recorder
        inFlight = Task {
            try await store.record(outcomes)
            await recorder.add(Job.Counts(outcomes: outcomes))
            await recorder.advance(by: outcomes.count)
        }
    }

    private mutating func waitForInFlight() async throws {
        guard let task = inFlight else { return }
        inFlight = nil
        inFlightKeys = Keys()
        try await task.value
    }
}

extension Job.Counts {
    /// What a set of link outcomes adds to a job's counts.
    init(outcomes: [LinkOutcome]) {
        self.init(
            linked: outcomes.filter { $0.status == .linked || $0.status == .held }.count, failed: outcomes.filter { $0.status == .failed }.count,
            superseded: outcomes.filter { $0.status == .superseded }.count, conflicts: outcomes.reduce(0) { $0 + $1.conflicts.count })
    }
}
