import Foundation
import Logging

/// The systems a cycle talks to. Either side may be absent (a store opened without a
/// configuration): the cycle then does what it can and says what it skipped.
public struct SyncEndpoints: Sendable {
    public var emrSource: (any ChangeSource)?
    /// The EMR's Bulk Data export, used when `SyncSettings.emrPull` is `.bulk`.
    public var emrBulk: (any BulkExportSource)?
    public var emrWriter: (any ResourceWriter)?
    public var salesforceSource: (any ChangeSource)?
    public var salesforceLookup: (any RecordLookup)?
    public var salesforceTarget: (any UpsertTarget)?
    /// The Salesforce user Stagelink writes as, for echo suppression.
    public var integrationUserID: @Sendable () async -> String?

    public init(
        emrSource: (any ChangeSource)? = nil, emrBulk: (any BulkExportSource)? = nil, emrWriter: (any ResourceWriter)? = nil, salesforceSource: (any ChangeSource)? = nil,
        salesforceLookup: (any RecordLookup)? = nil, salesforceTarget: (any UpsertTarget)? = nil,
        integrationUserID: @escaping @Sendable () async -> String? = { nil }
    ) {
        self.emrSource = emrSource
        self.emrBulk = emrBulk
        self.emrWriter = emrWriter
        self.salesforceSource = salesforceSource
        self.salesforceLookup = salesforceLookup
        self.salesforceTarget = salesforceTarget
        self.integrationUserID = integrationUserID
    }

    /// Every API meter, for counting a job's calls.
    public var meters: [APIMeter] {
        var meters: [APIMeter] = []
        for meter in [emrSource?.meter, emrWriter?.meter, salesforceSource?.meter, salesforceTarget?.meter].compactMap({ $0 })
        where !meters.contains(where: { $0 === meter }) {
            meters.append(meter)
        }
        return meters
    }
}

/// How cycles behave.
public struct SyncSettings: Sendable, Hashable {
    /// How far before the watermark each pull starts again, so that nothing at the boundary is missed.
    public var overlap: Duration
    public var pageSize: Int
    /// Rows that failed for a transient reason (a lock, a timeout, a 503) are tried again by each
    /// cycle until they have this many attempts; then they wait for a person.
    public var automaticRetries: Int
    /// How the EMR's changes are asked for: a `_lastUpdated` search, or a Bulk Data export.
    public var emrPull: EMRPullMode
    /// How a bulk pull asks and waits.
    public var bulk: BulkPullSettings
    /// `salesforce.concurrency`: the most collections calls in flight at once while linking.
    public var salesforceConcurrency: Int
    /// `emr.concurrency`: the most rows being written to the EMR at once.
    public var emrConcurrency: Int

    /// The default of `salesforce.concurrency` and `emr.concurrency`.
    public static let defaultConcurrency = 4
    /// `stagelink run --workers N`: linking workers that claim disjoint shares of the staged EMR
    /// rows at once (``ClaimPartition``), each with `salesforceConcurrency` calls in flight.
    public var linkingWorkers = 1
    /// `schedule.reconcile`: how often a cycle also reconciles (``Reconciler``); nil: only when asked
    /// (`stagelink reconcile`) or when a Salesforce watermark is older than the deleted window.
    public var reconcileEvery: Duration? = nil

    public init(
        overlap: Duration = .seconds(120), pageSize: Int = 500, automaticRetries: Int = 5, emrPull: EMRPullMode = .search,
        bulk: BulkPullSettings = BulkPullSettings(), salesforceConcurrency: Int = defaultConcurrency, emrConcurrency: Int = defaultConcurrency
    ) {
        self.overlap = overlap
        self.pageSize = pageSize
        self.automaticRetries = automaticRetries
        self.emrPull = emrPull
        self.bulk = bulk
        self.salesforceConcurrency = salesforceConcurrency
        self.emrConcurrency = emrConcurrency
    }
}

/// `emr.pull`: how the EMR is asked what changed.
public enum EMRPullMode: String, Sendable, Hashable, CaseIterable {
    /// `GET [base]/[Type]?_lastUpdated=ge…&_sort=_lastUpdated`, page by page (open FHIR servers).
    case search
    /// Bulk Data `$export` with `_since` (certified EHRs, which refuse population searches).
    case bulk
}

/// One sync cycle: pull what changed on both sides and stage it, observe Salesforce's values,
/// link the EMR's changes into Salesforce, then Salesforce's into the EMR. Each step is a job.
///
/// For example:
///
/// ```swift
/// let report = try await SyncCycle(store: store, mapping: mapping, endpoints: endpoints).run(actor: .system, stop: stop)
/// ```
public struct SyncCycle: Sendable {
    public var store: any SyncStore
    public var mapping: MappingDocument
    public var endpoints: SyncEndpoints
    public var settings: SyncSettings
    public var logger: Logger
    /// The time a cycle judges watermarks and schedules by (the deleted window, `schedule.reconcile`).
    public var now: @Sendable () -> Date = { Date() }

    public init(store: any SyncStore, mapping: MappingDocument, endpoints: SyncEndpoints, settings: SyncSettings = SyncSettings(), logger: Logger = Logger(label: "stagelink.sync")) {
        self.store = store
        self.mapping = mapping
        self.endpoints = endpoints
        self.settings = settings
        self.logger = logger
    }

    /// The same cycle, every write of which carries the lease's `epoch` (see ``LeaseFencing``).
    public func fenced(by epoch: Int64) -> SyncCycle {
        var cycle = self
        cycle.store = store.fenced(by: epoch)
        return cycle
    }

    public var inboundLinker: InboundLinker? {
        endpoints.salesforceTarget.map {
            var linker = InboundLinker(store: store, target: $0, mapping: mapping, concurrency: settings.salesforceConcurrency, logger: logger)
            linker.workers = settings.linkingWorkers
            return linker
        }
    }

    public var outboundLinker: OutboundLinker {
        OutboundLinker(
            store: store, mapping: mapping, emr: endpoints.emrWriter, salesforce: endpoints.salesforceTarget,
            integrationUserID: endpoints.integrationUserID, concurrency: settings.emrConcurrency, logger: logger)
    }

    /// The actions people take, over the same linkers the cycle uses.
    public var operations: Operations {
        Operations(
            store: store, mapping: mapping, inbound: inboundLinker, outbound: outboundLinker, salesforceLookup: endpoints.salesforceLookup,
            emrWriter: endpoints.emrWriter, meters: endpoints.meters, logger: logger)
    }

    /// Runs the steps of the chosen directions. A step that fails is recorded as a failed job and
    /// the cycle goes on with what it can; a limit or a stop request ends the cycle.
    ///
    /// A cycle a person asked for (`actor` is an operator) is recorded as on demand, any other as
    /// scheduled: both are what health follows.
    @discardableResult
    public func run(_ directions: Set<Job.Direction> = [.inbound, .outbound], actor: Actor, stop: StopSignal) async throws -> CycleReport {
        var report = CycleReport()
        let trigger: Job.Trigger = if case .operator = actor { .onDemand } else { .scheduled }
        let outbound = outboundLinker
        let pullsSalesforce = directions.contains(.outbound) || directions.contains(.inbound)

        // Read before the pull moves them: a watermark older than the Recycle Bin's 15 days.
        let beyondWindow = pullsSalesforce && endpoints.salesforceSource != nil ? try await watermarksBeyondDeletedWindow(outbound.objects, now: now()) : []
        // Whether a reconciliation is due follows from the schedule and those watermarks alone.
        let plan = try await reconciliationPlan(beyondWindow: beyondWindow, now: now())
        // The EMR's link runs beside the pulls when calls may go at once and nothing is reconciled:
        // each type's rows once its pull has ended (``PullProgress``), so that Patients are linked
        // while assessments are still read. A reconciliation stages what the pulls missed, which
        // the link must see, and `salesforce.concurrency: 1` is one call at a time: then the link
        // waits for everything.
        let progress = PullProgress()
        let linksBeside = directions.contains(.inbound) && inboundLinker != nil && plan == nil && settings.salesforceConcurrency > 1
            && settings.emrPull == .search && endpoints.emrSource != nil
        // The two pulls run at once: each reads its own system and stages its own rows, and
        // neither's records are the other's parents. Salesforce's changes are pulled even for an
        // inbound-only cycle when a source exists: they are what tells a both-sides change from a
        // one-side change.
        async let inboundPull = telling({ await progress.endEMRPull(stopped: $0) }) {
            directions.contains(.inbound) ? try await pullEMR(
                actor: actor, trigger: trigger, stop: stop, typePulled: { type in await progress.endType(type) },
                pageStaged: { type, rows in await progress.staged(rows, of: type) }) : nil
        }
        async let outboundPull = telling({ await progress.endSalesforcePull(stopped: $0) }) {
            pullsSalesforce ? try await pullSalesforce(outbound, actor: actor, trigger: trigger, stop: stop) : nil
        }
        async let besideLink = linksBeside ? linkBesidePulls(directions, progress: progress, actor: actor, trigger: trigger, stop: stop) : nil
        for (job, stopped) in [try await inboundPull, try await outboundPull].compactMap({ $0 }) {
            report.jobs.append(job)
            report.stopped = report.stopped || stopped
        }
        if let (job, stopped) = try await besideLink {
            report.jobs.append(job)
            report.stopped = report.stopped || stopped
        }
        if !report.stopped, let plan {
            let (jobs, stopped) = try await reconcile(plan, actor: actor, trigger: trigger, stop: stop)
            report.jobs += jobs
            report.stopped = report.stopped || stopped
        }
        if directions.contains(.inbound), inboundLinker != nil, !linksBeside, !report.stopped {
            report.jobs.append(try await step(.link, .inbound, actor: actor) { recorder in try await linkEMR(directions, recorder: recorder, stop: stop) })
        }
        if directions.contains(.outbound), endpoints.emrWriter != nil, !report.stopped {
            report.jobs.append(
                try await step(.push, .outbound, actor: actor) { recorder in
                    try await outbound.link(transientRetries(.salesforce), recorder: recorder, stop: stop)
                    try await operations.relink(try await failedOnce(.salesforce), recorder: recorder, stop: stop)
                    try await outbound.linkPending(recorder: recorder, stop: stop)
                    // Admissions whose Contact linked in this cycle go now, not next cycle.
                    try await outbound.linkWaitingChildren(recorder: recorder, stop: stop)
                })
        }
        return report

        func step(_ kind: Job.Kind, _ direction: Job.Direction, actor: Actor, _ work: (JobRecorder) async throws -> Void) async throws -> Job {
            let (job, stopped) = try await runStep(kind, direction, actor: actor, trigger: trigger, work)
            if stopped { report.stopped = true }
            return job
        }
    }

    /// The EMR's link: Salesforce's deletions and merges first (no EMR change recreates a removed
    /// Contact), the rows to try again, then every staged row mapping by mapping; `pulled` tells
    /// when a type's pull has staged more rows or ended (when the link runs beside the pulls:
    /// ``InboundLinker/linkPending(recorder:stop:pulled:)``).
    private func linkEMR(
        _ directions: Set<Job.Direction>, recorder: JobRecorder, stop: StopSignal, pulled: (@Sendable (String, Int?) async throws -> Bool)? = nil
    ) async throws {
        guard let linker = inboundLinker else { return }
        if directions.contains(.outbound), endpoints.emrWriter != nil { try await outboundLinker.linkPendingRemovals(recorder: recorder, stop: stop) }
        try await linker.link(transientRetries(.emr), recorder: recorder, stop: stop)
        try await operations.relink(try await failedOnce(.emr), recorder: recorder, stop: stop)
        try await linker.linkPending(recorder: recorder, stop: stop, pulled: pulled)
        // Children whose parent linked in this cycle (a retried row lock) link now, not next cycle.
        try await linker.linkWaitingChildren(recorder: recorder, stop: stop)
    }

    /// The EMR's link as a job that runs beside the pulls: it starts once Salesforce's pull has
    /// ended and the first mapped type's pull has ended or staged a bulk job's rows, and links each
    /// type's rows in whole bulk batches while the type is pulled and the rest once its pull has
    /// ended; nil when a pull was stopped first (as no link runs after a stopped pull). It counts
    /// the calls of Salesforce's and of any other endpoint but the EMR's source: the EMR calls it
    /// makes while the EMR's pull runs are counted with the pull.
    private func linkBesidePulls(
        _ directions: Set<Job.Direction>, progress: PullProgress, actor: Actor, trigger: Job.Trigger, stop: StopSignal
    ) async throws -> (Job, stopped: Bool)? {
        let rowsPerPass = inboundLinker?.rowsPerPassBesidePull
        do {
            try await progress.waitForSalesforce()
            if let first = mapping.inbound.first { try await progress.wait(forType: first.resource, rows: rowsPerPass, restartingCount: false) }
        } catch {
            return nil
        }
        let meters = endpoints.meters.filter { meter in endpoints.emrSource.map { $0.meter !== meter } ?? true }
        return try await runStep(.link, .inbound, actor: actor, trigger: trigger, meters: meters) { recorder in
            try await linkEMR(directions, recorder: recorder, stop: stop, pulled: { type, rows in try await progress.wait(forType: type, rows: rows) })
        }
    }

    /// Runs a pull and tells `ended` how it ended (stopped or not), however it ends: a link beside
    /// the pulls waits for it (``PullProgress``).
    private func telling(_ ended: @Sendable (Bool) async -> Void, _ pull: () async throws -> (Job, stopped: Bool)?) async throws -> (Job, stopped: Bool)? {
        do {
            let pulled = try await pull()
            await ended(pulled?.stopped ?? false)
            return pulled
        } catch {
            await ended(true)
            throw error
        }
    }

    /// The EMR's pull as a job (a `_lastUpdated` search or a Bulk Data export), nil without an EMR
    /// source; `typePulled` is told of each type a search has pulled, and `pageStaged` of the
    /// rows each page of a search staged.
    private func pullEMR(
        actor: Actor, trigger: Job.Trigger, stop: StopSignal, typePulled: @Sendable (String) async -> Void,
        pageStaged: @escaping @Sendable (String, Int) async -> Void
    ) async throws -> (Job, stopped: Bool)? {
        if settings.emrPull == .bulk, let source = endpoints.emrBulk {
            return try await runStep(.pull, .inbound, actor: actor, trigger: trigger, meters: [source.meter]) { recorder in
                let puller = BulkPuller(store: store, source: source, settings: settings.bulk, overlap: settings.overlap, batchSize: settings.pageSize)
                try await puller.pull(mapping.inboundResources, into: recorder, stop: stop)
            }
        }
        guard let source = endpoints.emrSource else { return nil }
        return try await runStep(.pull, .inbound, actor: actor, trigger: trigger, meters: [source.meter]) { recorder in
            let puller = DeltaPuller(store: store, source: source, overlap: settings.overlap, pageSize: settings.pageSize, pageStaged: pageStaged)
            // With EMR calls allowed at once, the types of a wave are pulled at once (episodes beside
            // assessments, after the Patients whose names their documents take); one at a time otherwise.
            let waves = settings.emrConcurrency > 1 ? PersonSearch.pullWaves(mapping.inboundResources, system: .emr) : mapping.inboundResources.map { [$0] }
            for wave in waves {
                try await withThrowingTaskGroup(of: String.self) { group in
                    for resource in wave {
                        group.addTask {
                            try await puller.pull(resource, into: recorder, stop: stop)
                            return resource
                        }
                    }
                    for try await resource in group { await typePulled(resource) }
                }
            }
        }
    }

    /// Salesforce's pull as a job, Contacts first (an admission's document names its Contact's),
    /// then the staged Contacts' values observed; nil without a Salesforce source.
    private func pullSalesforce(_ outbound: OutboundLinker, actor: Actor, trigger: Job.Trigger, stop: StopSignal) async throws -> (Job, stopped: Bool)? {
        guard let source = endpoints.salesforceSource else { return nil }
        let pull = try await runStep(.pull, .outbound, actor: actor, trigger: trigger, meters: [source.meter]) { recorder in
            var puller = DeltaPuller(store: store, source: source, overlap: settings.overlap, pageSize: settings.pageSize)
            // A large overlap window is listed in slices at once, beside the pages' one cursor:
            // `salesforce.concurrency` calls in flight at most.
            puller.listingLanes = max(1, settings.salesforceConcurrency - 1)
            for object in outbound.objects { try await puller.pull(object, fields: outbound.pullFields(for: object), into: recorder, stop: stop) }
        }
        try await outbound.observePending()
        return pull
    }

    /// Runs one step as a job. A step that fails is recorded as a failed job; the second value
    /// says whether a stop request or a limit ended it (the cycle then stops). The job counts the
    /// calls of `meters` (every endpoint's when nil): a step that runs beside another counts its own.
    func runStep(
        _ kind: Job.Kind, _ direction: Job.Direction, actor: Actor, trigger: Job.Trigger, message: String? = nil, meters: [APIMeter]? = nil,
        _ work: (JobRecorder) async throws -> Void
    ) async throws -> (Job, stopped: Bool) {
        let recorder = try await JobRecorder.start(
            kind, direction: direction, actor: actor, trigger: trigger, store: store, meters: meters ?? endpoints.meters, logger: logger)
        do {
            try await work(recorder)
            return (try await recorder.finish(message: message), false)
        } catch let error as SyncStopped {
            return (try await recorder.finish(.interrupted, message: error.description), true)
        } catch let error as RemoteCallError {
            await recorder.event(.error, "\(kind.rawValue) \(direction.rawValue) stopped: \(error.error.code): \(error.error.message)")
            // Codes only: a job's message reaches monitors, and a remote message may quote a value.
            let detail = LinkError.configurationCodes.contains(error.error.code) ? ": \(error.error.message)" : ""
            let job = try await recorder.finish(error.stopsJob ? .interrupted : .failed, message: "\(error.kind.rawValue): \(error.error.code)\(detail)")
            return (job, error.stopsJob)
        } catch {
            await recorder.event(.error, "\(kind.rawValue) \(direction.rawValue) failed: \(error)")
            return (try await recorder.finish(.failed, message: "\(error)"), false)
        }
    }

    /// Rows that failed once for a lasting reason get one more look: their record is read again
    /// from its source (a damaged read, or a fix made at the source since, then links), and
    /// otherwise they fail a second time and wait for a person.
    private func failedOnce(_ system: SourceSystem) async throws -> [Int64] {
        var ids: [Int64] = []
        var cursor: RowCursor?
        while ids.count < Self.secondLooksPerCycle {
            let page = try await store.rows(RowQuery(filter: RowFilter(statuses: [.failed], system: system), after: cursor, limit: 500))
            guard let last = page.last else { break }
            // A row waiting on its parent is linked again when the parent links, not read again; a
            // deletion candidate waits for a person, who alone may confirm a deletion.
            let waits: Set<String?> = [ErrorCode.waitingOnParent.rawValue, ErrorCode.deletionCandidate.rawValue]
            ids += page.filter { row in
                row.attemptCount == 1 && !LinkError.transientCodes.contains(row.errorCode ?? "") && !waits.contains(row.errorCode)
            }.map(\.id)
            cursor = last.cursor(for: RowSort())
        }
        return Array(ids.prefix(Self.secondLooksPerCycle))
    }

    static let secondLooksPerCycle = 500

    private func transientRetries(_ system: SourceSystem) -> ClaimRequest {
        ClaimRequest(system: system, statuses: [.failed], errorCodes: LinkError.transientCodes, maximumAttempts: settings.automaticRetries)
    }
}

/// What a cycle did: its jobs, in order.
public struct CycleReport: Sendable {
    public var jobs: [Job] = []
    /// A stop request or a limit ended the cycle early.
    public var stopped = false

    public init() {}

    /// The cycle's counts per direction.
    public func counts(_ direction: Job.Direction) -> Job.Counts {
        jobs.filter { $0.direction == direction }.reduce(Job.Counts()) { $0 + $1.counts }
    }

    public func apiCalls(_ direction: Job.Direction) -> Int {
        jobs.filter { $0.direction == direction }.reduce(0) { $0 + $1.apiCalls }
    }

    public var worstStatus: Job.Status {
        let order: [Job.Status] = [.failed, .interrupted, .partial, .running, .succeeded]
        return order.first { status in jobs.contains { $0.status == status } } ?? .succeeded
    }
}
