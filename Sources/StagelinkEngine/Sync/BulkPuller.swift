import Foundation
import Logging

/// Pulls what changed on an EHR whose "what changed since" is a Bulk Data export: one export for
/// every mapped resource type, kicked off with `_since` = watermark − overlap, polled honouring
/// `Retry-After`, each output file read line by line and staged verbatim.
///
/// The manifest's `transactionTime` becomes the watermark of every exported type, committed only
/// once every output file is staged. The status URL and the files already staged are kept in the
/// store, so that a crash or a restart resumes the same export instead of starting another; lines
/// read again deduplicate by content hash. An export whose status or file answers 404 (expired,
/// cancelled) is started again from the same watermark.
///
/// For example:
///
/// ```swift
/// let puller = BulkPuller(store: store, source: emr, settings: BulkPullSettings(group: "all-patients"))
/// try await puller.pull(["Patient", "QuestionnaireResponse"], into: recorder, stop: stop)
/// ```
public struct BulkPuller: Sendable {
    public var store: any StagingStore
    public var source: any BulkExportSource
    public var settings: BulkPullSettings
    public var overlap: Duration
    public var batchSize: Int
    var clock: @Sendable (Duration) async throws -> Void

    public init(
        store: any StagingStore, source: any BulkExportSource, settings: BulkPullSettings, overlap: Duration = .seconds(60), batchSize: Int = 500
    ) {
        self.store = store
        self.source = source
        self.settings = settings
        self.overlap = overlap
        self.batchSize = batchSize
        self.clock = { try await Task.sleep(for: $0) }
    }

    /// How many times an export that vanished is started again within one pull.
    static let restarts = 3

    /// Pulls `types` into the job. Throws the source's error after committing what it staged; the
    /// export in flight stays recorded, so the next pull resumes it.
    public func pull(_ types: [String], into recorder: JobRecorder, stop: StopSignal) async throws {
        var watermarks: [Date?] = []
        for type in types { watermarks.append(try await store.watermark(system: source.system, resourceType: type)) }
        // One export covers every type: it starts from the oldest watermark (none: a full export).
        let oldest = watermarks.contains { $0 == nil } ? nil : watermarks.compactMap { $0 }.min()
        await recorder.setWatermarks(before: oldest, after: oldest)
        let since = settings.incremental ? oldest.map { $0.addingTimeInterval(-overlap.seconds) } : nil
        var restarts = 0
        while true {
            do {
                let transactionTime = try await pullOnce(types, since: since, recorder: recorder, stop: stop)
                await recorder.setWatermarks(before: oldest, after: transactionTime)
                return
            } catch let gone as BulkExportGone {
                try await store.finishBulkExport(system: source.system, job: await recorder.id, advancing: [])
                restarts += 1
                await recorder.event(.warning, "bulk export: \(gone.description)")
                guard restarts <= Self.restarts else { throw gone }
            }
        }
    }

    /// One export from kick-off (or resume) to its watermark; returns its `transactionTime`.
    private func pullOnce(_ types: [String], since: Date?, recorder: JobRecorder, stop: StopSignal) async throws -> Date {
        var progress: BulkExportProgress
        if let inFlight = try await store.bulkExport(system: source.system) {
            progress = inFlight
            await recorder.event(.info, "bulk export: resuming the export kicked off at \(Timestamp.format(inFlight.kickedOffAt))")
        } else {
            await recorder.progress(phase: "export: kicking off", done: 0, total: .some(nil))
            progress = try await kickOff(BulkExportRequest(group: settings.group, types: types, since: since), recorder: recorder)
            try await store.saveBulkExport(progress)
            await recorder.event(.info, "bulk export kicked off\(progress.since.map { " with _since \(Timestamp.format($0))" } ?? " (full export)")")
        }
        let manifest = try await waitForManifest(progress, recorder: recorder, stop: stop)
        let wanted = Set(types)
        var errors: [String] = []
        for url in manifest.errors { errors += try await source.errorMessages(url) }
        let files = manifest.output.filter { file in
            guard wanted.contains(file.type) else {
                errors.append("output file of type \(file.type), which was not asked for, was not read")
                return false
            }
            return true
        } + manifest.deleted
        if !errors.isEmpty {
            await recorder.addExportErrors(errors)
            await recorder.event(.warning, "bulk export manifest reported \(errors.count) errors (see the job)")
        }
        let total = files.reduce(0) { $0 + ($1.count ?? 0) }
        var staged = files.filter { progress.stagedFiles.contains($0.url) }.reduce(0) { $0 + ($1.count ?? 0) }
        var tally = LineTally(since: progress.since)
        for (index, file) in files.enumerated() where !progress.stagedFiles.contains(file.url) {
            if stop.isRequested { throw SyncStopped() }
            let phase = "export: file \(index + 1) of \(files.count) (\(file.type))"
            await recorder.progress(phase: phase, done: staged, total: .some(total > 0 ? total : nil))
            try await stage(file, into: recorder, phase: phase, done: &staged, tally: &tally)
            progress.stagedFiles.append(file.url)
            try await store.saveBulkExport(progress)
            CrashPoints.reach(.bulkFileStaged)
        }
        let advances = types.map { WatermarkAdvance(system: source.system, resourceType: $0, to: manifest.transactionTime) }
        try await store.finishBulkExport(system: source.system, job: await recorder.id, advancing: advances)
        let counts = await recorder.job.counts
        if tally.ignoredSince, let since = progress.since {
            await recorder.event(
                .warning,
                "the EMR's export ignored _since \(Timestamp.format(since)): \(tally.older) of \(tally.read) lines were last updated before it, "
                    + "so every cycle reads a full export (set emr.bulk.since: false to stop asking); staging keeps only what changed")
        }
        await recorder.event(
            .info, "bulk export staged: \(counts.pulled) lines read, \(counts.staged) new, \(counts.deduplicated) already staged")
        return manifest.transactionTime
    }

    /// Starts an export. A kick-off refused for its `_since` is sent again without it: Bulk Data IG
    /// v2 (export.html, kick-off) has a server refuse a parameter it does not support with an
    /// OperationOutcome, and an export that refuses `_since` is not incremental.
    private func kickOff(_ request: BulkExportRequest, recorder: JobRecorder) async throws -> BulkExportProgress {
        let refusal: RemoteCallError
        do {
            return BulkExportProgress(system: source.system, statusURL: try await source.kickOff(request), since: request.since, kickedOffAt: Date())
        } catch {
            refusal = error
        }
        guard request.since != nil, refusal.kind == .rejected, refusal.error.message.contains("_since") else { throw refusal }
        await recorder.event(.warning, "the EMR refused _since (\(refusal.error.message)); taking a full export, staging keeps only what changed")
        var full = request
        full.since = nil
        return BulkExportProgress(system: source.system, statusURL: try await source.kickOff(full), since: nil, kickedOffAt: Date())
    }

    /// Reads one file and stages its batches, each batch written while the next one is read
    /// (one batch in flight, in order); returns only once every batch read is staged.
    private func stage(_ file: BulkManifest.File, into recorder: JobRecorder, phase: String, done: inout Int, tally: inout LineTally) async throws {
        let job = await recorder.id
        var writing: Task<Void, any Error>?
        do {
            try await source.readFile(file, batchSize: batchSize) { records in
                try await writing?.value
                tally.count(records)
                done += records.count
                let staged = done
                writing = Task { [store] in
                    let result = try await store.stage(records, job: job, advancing: nil)
                    await recorder.add(Job.Counts(pulled: records.count, staged: result.staged, deduplicated: result.deduplicated))
                    await recorder.progress(phase: phase, done: staged)
                }
            }
            try await writing?.value
        } catch {
            // The batch being written ends before the error goes up, so nothing is half-counted.
            _ = try? await writing?.value
            throw error
        }
    }

    /// Polls until the manifest is ready, honouring `Retry-After`, for at most `maxWait` after the kick-off.
    func waitForManifest(_ progress: BulkExportProgress, recorder: JobRecorder, stop: StopSignal) async throws -> BulkManifest {
        while true {
            if stop.isRequested { throw SyncStopped() }
            CrashPoints.reach(.bulkPolling)
            switch try await source.status(progress.statusURL) {
            case .complete(let manifest):
                return manifest
            case .gone:
                throw BulkExportGone("status URL")
            case .inProgress(let text, let retryAfter):
                let waited = Date().timeIntervalSince(progress.kickedOffAt)
                guard waited < settings.maxWait.seconds else { throw BulkExportTooSlow(waited: waited, progress: text) }
                await recorder.progress(phase: "export: waiting (\(text ?? "in progress"))")
                let remaining = Duration.seconds(settings.maxWait.seconds - waited)
                let wait = min(max(retryAfter ?? settings.defaultPollInterval, .milliseconds(100)), remaining, settings.longestPoll)
                try await clock(wait)
            }
        }
    }
}

/// The lines of one export read against the `_since` it was asked with: a server that ignores
/// `_since` answers with lines last updated before it. Bulk Data IG v2 lets a Group export
/// include older resources of patients added to the group since, so only an export whose lines
/// are mostly older counts as having ignored it.
struct LineTally {
    let since: Date?
    private(set) var read = 0
    private(set) var older = 0

    init(since: Date?) { self.since = since }

    mutating func count(_ records: [IncomingRecord]) {
        read += records.count
        guard let since else { return }
        older += records.reduce(0) { $0 + (($1.lastUpdated.map { $0 < since }) == true ? 1 : 0) }
    }

    var ignoredSince: Bool { since != nil && older > 0 && older * 2 > read }
}

/// How a bulk pull asks and waits: `emr.bulk.*` in stagelink.yaml.
public struct BulkPullSettings: Sendable, Hashable {
    /// The Group to export; nil exports at system level.
    public var group: String?
    /// How long after its kick-off an export may run before the pull gives up (its status URL is
    /// kept: the next pull polls it again).
    public var maxWait: Duration
    /// Whether `_since` is sent; false takes a full export every cycle (for EHRs whose export is
    /// not incremental), and staging's deduplication keeps only what changed.
    public var incremental: Bool
    /// The wait between polls when the server sends no `Retry-After`.
    public var defaultPollInterval: Duration
    /// The longest single wait between polls, whatever `Retry-After` says, so that a stop request is seen.
    public var longestPoll: Duration

    public init(
        group: String? = nil, maxWait: Duration = .seconds(7200), incremental: Bool = true, defaultPollInterval: Duration = .seconds(5),
        longestPoll: Duration = .seconds(60)
    ) {
        self.group = group
        self.maxWait = maxWait
        self.incremental = incremental
        self.defaultPollInterval = defaultPollInterval
        self.longestPoll = longestPoll
    }
}

/// An export ran longer than `emr.bulk.maxWait`; it stays recorded and the next pull polls it again.
public struct BulkExportTooSlow: Error, Sendable, CustomStringConvertible {
    public var waited: TimeInterval
    public var progress: String?

    public var description: String {
        "the bulk export has been running for \(Int(waited))s, longer than emr.bulk.maxWait (last progress: \(progress ?? "none")); "
            + "the next pull polls it again"
    }
}
