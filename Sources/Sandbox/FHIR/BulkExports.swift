import Synchronization

/// How the simulator's Bulk Data exports behave.
///
/// For example:
///
/// ```swift
/// configuration.bulkExport.duration = .seconds(30)   // polls answer 202 for half a minute
/// configuration.bulkExport.resourcesPerFile = 1000
/// configuration.bulkExport.ignoresSince = true        // an EHR whose export is not incremental
/// ```
public struct BulkExportSettings: Sendable, Hashable {
    /// How long an export stays "in progress" after its kick-off (status polls answer 202).
    public var duration: Duration = .seconds(1)
    /// How many resources one NDJSON output file holds at most.
    public var resourcesPerFile = 10_000
    /// How long after completion the manifest and its files stay available; then they answer 404.
    public var fileLifetime: Duration = .seconds(3600)
    /// Whether `_since` is accepted but ignored (every export is a full export), as EHRs whose
    /// Bulk Data export is documented as not incremental behave.
    public var ignoresSince = false

    public init() {}
}

/// One kicked-off export: what it was asked, the snapshot it took at its `transactionTime`, and
/// whether it was cancelled.
struct BulkExportJob: Sendable {
    /// One NDJSON output file: its resource type and its lines (each a resource's exact bytes).
    struct File: Sendable {
        var type: String
        var name: String
        var lines: [[UInt8]]
    }

    var id: String
    var clientID: String
    /// The kick-off URL, as the manifest's `request` repeats it.
    var request: String
    var transactionTime: SandboxInstant
    var readyAt: SandboxInstant
    var files: [File]
    /// The manifest's `deleted` files (only with `_since`): one `transaction` Bundle a line, each with
    /// one `DELETE` entry.
    var deletedFiles: [File] = []
    /// OperationOutcome lines of the manifest's `error` file.
    var errors: [[UInt8]]
    var resourceCount: Int { files.reduce(0) { $0 + $1.lines.count } }
}

/// The exports of the simulated EHR, by id: kicked off, polled, cancelled, expired.
final class BulkExports: Sendable {
    private struct State {
        var jobs: [String: BulkExportJob] = [:]
        var sequence = 0
    }

    private let state = Mutex(State())

    /// The Group every patient of the simulated EHR belongs to (like Oracle Health's documented
    /// `All_Patients` group); its export covers every resource of the patient compartment types.
    static let cohortGroupID = "all-patients"
    /// The types a Group export covers when `_type` is absent: the patient compartment's.
    static let groupTypes = ["Patient", "EpisodeOfCare", "QuestionnaireResponse", "ServiceRequest"]
    /// The `_outputFormat` values the Bulk Data IG lets a client use for NDJSON.
    static let outputFormats: Set<String> = ["application/fhir+ndjson", "application/ndjson", "ndjson"]

    /// The running export of a client, if any (one at a time: a second kick-off is answered 429).
    func running(clientID: String, at now: SandboxInstant) -> BulkExportJob? {
        state.withLock { state in state.jobs.values.first { $0.clientID == clientID && now < $0.readyAt } }
    }

    /// Stores a new export and returns its id.
    func add(_ make: (String) -> BulkExportJob) -> BulkExportJob {
        state.withLock { state in
            state.sequence += 1
            let job = make("export-\(state.sequence)")
            state.jobs[job.id] = job
            return job
        }
    }

    /// The export with this id, unless it was cancelled or has expired.
    func job(_ id: String, clientID: String, at now: SandboxInstant, lifetime: Duration) -> BulkExportJob? {
        state.withLock { state in
            guard let job = state.jobs[id], job.clientID == clientID else { return nil }
            if now.milliseconds > job.readyAt.milliseconds + Int64(lifetime.components.seconds) * 1000 {
                state.jobs[id] = nil
                return nil
            }
            return job
        }
    }

    /// Cancels (forgets) an export; false when there was none.
    func cancel(_ id: String, clientID: String) -> Bool {
        state.withLock { state in
            guard state.jobs[id]?.clientID == clientID else { return false }
            state.jobs[id] = nil
            return true
        }
    }

    func reset() { state.withLock { $0 = State() } }
}
