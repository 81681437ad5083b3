import Foundation
import Logging

/// Keeps one job's row current while it runs: counts, progress (written at most a few times a
/// second, so that another process sees it move without the store being hammered), API calls and
/// usage, events for the live view, and the final status.
public actor JobRecorder {
    public private(set) var job: Job
    private let store: any JobStore & LinkingStore
    private let meters: [APIMeter]
    private let callsAtStart: Int
    private let logger: Logger
    private var lastProgressWrite = ContinuousClock.now
    private static let progressInterval: Duration = .milliseconds(250)

    /// Starts a job row in the store.
    public static func start(
        _ kind: Job.Kind, direction: Job.Direction?, actor: Actor, trigger: Job.Trigger = .scheduled, store: any JobStore & LinkingStore, meters: [APIMeter],
        logger: Logger
    ) async throws -> JobRecorder {
        let job = try await store.startJob(kind: kind, direction: direction, actor: actor, trigger: trigger)
        logger.info(
            "job started",
            metadata: [
                "sync.job": "\(job.id)", "sync.kind": "\(kind.rawValue)", "sync.direction": "\(direction?.rawValue ?? "-")",
                "sync.trigger": "\(trigger.rawValue)",
            ])
        return JobRecorder(job: job, store: store, meters: meters, logger: logger)
    }

    private init(job: Job, store: any JobStore & LinkingStore, meters: [APIMeter], logger: Logger) {
        self.job = job
        self.store = store
        self.meters = meters
        self.callsAtStart = meters.reduce(0) { $0 + $1.calls }
        self.logger = logger
    }

    public var id: Int64 { job.id }
    public var actor: Actor { .job(job.id) }

    public func add(_ counts: Job.Counts) async {
        job.counts += counts
        await writeProgressIfDue()
    }

    public func progress(phase: String, done: Int? = nil, total: Int?? = nil) async {
        let phaseChanged = job.progress.phase != phase
        job.progress.phase = phase
        if let done { job.progress.done = done }
        if let total { job.progress.total = total }
        await writeProgressIfDue(force: phaseChanged)
    }

    /// How much of the job's work is done so far (``advance(by:)``).
    public var progressDone: Int { job.progress.done }

    public func advance(by count: Int) async {
        job.progress.done += count
        await writeProgressIfDue()
    }

    /// Keeps what an export's manifest reported as errors on the job (written with the next progress).
    public func addExportErrors(_ errors: [String]) async {
        job.exportErrors += errors
        await writeProgressIfDue(force: true)
    }

    public func setWatermarks(before: Date?, after: Date?) {
        job.watermarkBefore = before
        if let after { job.watermarkAfter = after }
    }

    public func event(_ level: SyncEvent.Level, _ message: String) async {
        let event = SyncEvent(at: Date(), jobID: job.id, level: level, message: message)
        try? await store.appendEvents([event])
    }

    /// Writes the final status. The status is derived when not given: failed rows make it partial.
    @discardableResult
    public func finish(_ status: Job.Status? = nil, message: String? = nil) async throws -> Job {
        refreshUsage()
        job.status = status ?? (job.counts.failed > 0 ? .partial : .succeeded)
        job.finishedAt = Date()
        job.message = message
        job.progress.updatedAt = Date()
        try await store.updateJob(job)
        // Rows this job took but never recorded (it stopped or failed mid-batch) go back.
        try await store.releaseClaims(heldBy: actor)
        logger.info(
            "job finished",
            metadata: [
                "sync.job": "\(job.id)", "sync.status": "\(job.status.rawValue)", "sync.linked": "\(job.counts.linked)",
                "sync.failed": "\(job.counts.failed)", "sync.staged": "\(job.counts.staged)", "api.calls": "\(job.apiCalls)",
            ])
        return job
    }

    private func refreshUsage() {
        job.apiCalls = meters.reduce(0) { $0 + $1.calls } - callsAtStart
        if let usage = meters.compactMap(\.usage).max(by: { $0.share < $1.share }) { job.apiUsage = usage }
    }

    private func writeProgressIfDue(force: Bool = false) async {
        let now = ContinuousClock.now
        guard force || now - lastProgressWrite >= Self.progressInterval else { return }
        lastProgressWrite = now
        refreshUsage()
        job.progress.updatedAt = Date()
        // Progress is advisory: a failed write must not fail the job (the final write will tell).
        try? await store.updateJob(job)
    }
}
