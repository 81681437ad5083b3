/// Records batches of link outcomes in the store one at a time, in order, while the caller goes
/// on with the next batch: the store's writer and the linker work on both cores at once.
struct OutcomeWriter {
    let store: any SyncStore
    let recorder: JobRecorder
    private var inFlight: Task<Void, any Error>?
    private var records = Set<MappedRecordKey>()
    private var sources = Set<SourceKey>()

    init(store: any SyncStore, recorder: JobRecorder) {
        self.store = store
        self.recorder = recorder
    }

    /// Whether a batch touching these records must wait for the one being recorded.
    func isRecording(_ records: Set<MappedRecordKey>, _ sources: Set<SourceKey>) -> Bool {
        inFlight != nil && (!self.records.isDisjoint(with: records) || !self.sources.isDisjoint(with: sources))
    }

    /// Waits for the previous batch, then starts recording this one.
    mutating func submit(_ outcomes: [LinkOutcome], records: Set<MappedRecordKey> = [], sources: Set<SourceKey> = []) async throws {
        try await drain()
        guard !outcomes.isEmpty else { return }
        self.records = records
        self.sources = sources
        let store = store
        let recorder = recorder
        inFlight = Task {
            try await store.record(outcomes)
            await recorder.add(Job.Counts(outcomes: outcomes))
            await recorder.advance(by: outcomes.count)
        }
    }

    /// Waits until everything submitted is recorded.
    mutating func drain() async throws {
        guard let task = inFlight else { return }
        inFlight = nil
        records = []
        sources = []
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
