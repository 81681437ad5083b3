import Foundation

/// Everything the engine keeps, as one type: the composition of every store role.
///
/// The store is split into roles named for what their users do, so that each component takes
/// only the surface it needs (a puller cannot resolve a conflict, the console cannot stage):
///
/// | Role | What it holds | Who uses it |
/// |---|---|---|
/// | ``StagingStore`` | watermarks, staged pages, Bulk Data exports in flight | the pullers |
/// | ``LinkingStore`` | claims, link outcomes, links, field states, create intents | the linkers, operations |
/// | ``PolicyReader`` | the per-field rules and their audit trail | the linkers, the console, `stagelink policy` |
/// | ``PolicyStore`` | loading and changing the rules (a ``PolicyReader``) | the policy loader, operations |
/// | ``JobStore`` | starting and updating jobs, the event log | the job recorder, the service |
/// | ``LeaseReader`` | who holds the service lease | health, the console, `stagelink sync` |
/// | ``ServiceLeaseStore`` | taking the lease, requests to run a cycle now (a ``LeaseReader``) | the service, `stagelink sync`, the console's actions |
/// | ``RowReader`` | rows, their counts, names and parents | the console, the commands, the linkers |
/// | ``HistoryReader`` | row history, attempts, lineage, jobs, events, conflicts | the console, the commands, health |
/// | ``AccessLogStore`` | the log of who read which row | every reader of payloads |
/// | ``RetentionStore`` | payload purges and their audit | `stagelink purge`, the scheduled purge |
/// | ``ChangeTracking`` | a token that moves when anything commits | the console |
/// | ``LeaseFencing`` | the same store with its writes fenced by the lease's epoch | the service |
///
/// Each method is one transaction: what it writes is all there after it returns, or none of it
/// is. The SQLite store (`StagelinkStore`) conforms to every role; the engine never sees SQL.
public typealias SyncStore = StagingStore & LinkingStore & PolicyStore & JobStore & ServiceLeaseStore
    & RowReader & HistoryReader & AccessLogStore & RetentionStore & ChangeTracking & LeaseFencing

extension StagingStore {
    public func prepareToStage(_ records: [IncomingRecord]) {}
    public var pagesInFlight: Int { 1 }
}

/// What the pullers write: pages of records staged verbatim, the watermark each page moves, and
/// the Bulk Data export in flight.
public protocol StagingStore: Sendable {
    /// The last-updated instant up to which this resource type has been durably staged.
    func watermark(system: SourceSystem, resourceType: String) async throws -> Date?

    /// Stages a page verbatim and, in the same transaction, advances the watermark: a crash
    /// between pages loses nothing and duplicates nothing. A record whose (system, type, id,
    /// content hash) is already staged is counted as deduplicated, not staged again.
    func stage(_ records: [IncomingRecord], job: Int64?, advancing watermark: WatermarkAdvance?) async throws -> StageResult

    /// Says that these records (this very array) are the next page the caller will stage, after
    /// the one it is staging: a store may prepare them (hash, seal, read their person fields)
    /// beside the page it is writing. Only a hint: staging other records next, or never staging
    /// these, changes nothing but the time taken. Stores that do nothing with it need not implement it.
    func prepareToStage(_ records: [IncomingRecord])

    /// How many pages a pull may have sent and not yet returned at once (``PageStaging``), each
    /// staged in a transaction of its own: 1 for a store that writes one page at a time anyway
    /// (SQLite, and the default); 2 for a server that writes two at once while the next is
    /// prepared and sent (PostgreSQL).
    var pagesInFlight: Int { get }

    /// The newest `lastUpdated` staged of each of these records of one type (a record with no
    /// row, or with rows without a `lastUpdated`, is absent): what a pull compares an overlap
    /// listing with (``OverlapListing``).
    func newestStaged(system: SourceSystem, resourceType: String, sourceIDs: [String]) async throws -> [String: Date]

    /// The export in flight for this system, if one was kicked off and not finished.
    func bulkExport(system: SourceSystem) async throws -> BulkExportProgress?
    /// Records (or replaces) the export in flight: its status URL and the files already staged.
    func saveBulkExport(_ progress: BulkExportProgress) async throws
    /// Forgets the export in flight and, in the same transaction, moves the watermarks (never
    /// backwards): committed only once every output file is staged.
    func finishBulkExport(system: SourceSystem, job: Int64?, advancing watermarks: [WatermarkAdvance]) async throws
}

/// What the linkers (and a person's retry, ignore or resolve) read and write to match staged rows
/// to records: claims on rows, the outcome of each attempt, links, field states and the intents of
/// creates whose answer is not known yet.
public protocol LinkingStore: Sendable {
    /// Takes rows for linking so that no other process links them at the same time. Rows held
    /// by a live claim of someone else are skipped; a claim expires after `RowClaim.lifetime`.
    func claimRows(_ request: ClaimRequest, limit: Int, actor: Actor) async throws -> [StagedRow]
    /// Gives back claimed rows untouched (a job stopped before trying them).
    func releaseClaims(rowIDs: [Int64], actor: Actor) async throws
    /// Gives back every row `actor` still claims (its job ended, however it ended).
    func releaseClaims(heldBy actor: Actor) async throws
    /// Records what linking did to each row: attempt, status change, link, field states, lineage
    /// and conflicts — all of a batch in one transaction.
    func record(_ outcomes: [LinkOutcome]) async throws
    /// Sets rows' status by hand (ignore), with the actor and a note, recording the transition.
    /// Only rows whose status is in `from` change; returns the ids that changed.
    func setStatus(rowIDs: [Int64], to status: RowStatus, from: Set<RowStatus>, actor: Actor, note: String) async throws -> [Int64]
    /// Failed rows of this system that wait on a parent (`WAITING_ON_PARENT`) which is linked now,
    /// in id order: the rows to link again.
    func rowsWaitingOnLinkedParents(system: SourceSystem, limit: Int) async throws -> [Int64]
    /// The withheld rows of these records (a security label keeps them from the other side): an
    /// older version of such a record is never sent after them.
    func withheldRows(of keys: [SourceKey]) async throws -> [SourceKey: [StagedRowSummary]]
    /// The deletion and merge rows of these records (any status), oldest first: a version staged
    /// before one of them is never applied after it.
    func removalRows(of keys: [SourceKey]) async throws -> [SourceKey: [StagedRowSummary]]

    func links(for keys: [SourceKey]) async throws -> [SourceKey: RecordLink]
    /// Every record of this system and type that a live link joins to the other side (as the
    /// link's source or as its counterpart), with what the store last saw of it at its source:
    /// the set a reconciliation compares.
    func linkedRecords(system: SourceSystem, resourceType: String) async throws -> [String: LastSeen]
    /// The link whose counterpart in the other system has this id.
    func link(targetType: String, targetID: String) async throws -> RecordLink?
    /// Links of a mapped record (every source that writes into it).
    func links(recordKey: String, targetType: String) async throws -> [RecordLink]
    /// The retired links (source deleted or merged away) of these mapped records, by record key:
    /// nothing is written into such a record again, whichever mapping would write it.
    func retiredLinks(recordKeys: [String], targetType: String) async throws -> [String: RecordLink]
    func fieldStates(for records: [MappedRecordKey]) async throws -> [MappedRecordKey: [String: FieldState]]
    /// Replaces the states of these fields (other fields of the same records stay).
    func updateFieldStates(_ changes: [FieldStateChange]) async throws

    // MARK: Create intents (`emr.writes.create: search-then-create`)

    /// The intent recorded for a create of `resourceType` with `identifier`, nil when none stands.
    func createIntent(resourceType: String, identifier: ResourceIdentifier) async throws -> CreateIntent?
    /// Records (or refreshes) an intent, durably, before its `POST` is sent.
    func recordCreateIntent(_ intent: CreateIntent) async throws
    /// Removes the intent once the EMR's answer is known.
    func clearCreateIntent(resourceType: String, identifier: ResourceIdentifier) async throws
    /// Every intent that stands, oldest first: creates whose outcome is not known yet.
    func createIntents() async throws -> [CreateIntent]
}

/// The per-field conflict policy and its audit trail as the linkers and reviewers read them.
public protocol PolicyReader: Sendable {
    func policyRules() async throws -> [PolicyRule]
    func policyAudit(object: String?, field: String?, limit: Int) async throws -> [PolicyAuditEntry]
}

/// Changes to the per-field conflict policy: loaded from the mapping file or changed by a person,
/// each change appended to the audit trail.
public protocol PolicyStore: PolicyReader {
    /// Changes one field's rule and appends to the audit trail; nil when the rule was already that.
    func setPolicyRule(object: String, field: String, rule: OwnerRule, actor: Actor, reason: String?) async throws -> PolicyAuditEntry?
    /// Loads the mapping file's declared owners. A field the file declares for the first time is
    /// added; a field whose declared owner changed in the file since it was last loaded takes the
    /// new owner; a change made by a person since then stands until the file changes that field.
    /// Every change appends to the audit trail.
    func loadPolicy(_ declarations: [PolicyDeclaration], actor: Actor) async throws -> [PolicyAuditEntry]
}

/// What a running job writes about itself: its start, its counts as they grow, its end, and the
/// lines of activity the console shows live.
public protocol JobStore: Sendable {
    func startJob(kind: Job.Kind, direction: Job.Direction?, actor: Actor, trigger: Job.Trigger) async throws -> Job
    /// Writes the job's counts, progress, usage, watermarks, status and finish time as they are now.
    func updateJob(_ job: Job) async throws
    /// Jobs still marked running whose process is gone are marked interrupted (on lease take-over),
    /// and the rows they had claimed are given back.
    func interruptRunningJobs(message: String) async throws -> Int
    func appendEvents(_ events: [SyncEvent]) async throws
}

/// Who holds the service lease, as health, the console and `stagelink sync` read it.
public protocol LeaseReader: Sendable {
    func currentLease() async throws -> Lease?
}

/// Who runs the cycles, and the requests to run one now: the service takes and renews the lease
/// and takes the requests; the console and `stagelink sync` leave requests.
public protocol ServiceLeaseStore: LeaseReader {
    /// Takes or renews the lease if it is free, expired, already `holder`'s, or held by `stale`
    /// (a holder known to be dead, whose lease has not expired yet).
    func acquireLease(_ holder: LeaseHolder, for duration: Duration, replacing stale: LeaseHolder?) async throws -> LeaseResult
    func releaseLease(_ holder: LeaseHolder) async throws

    /// Asks the process holding the lease to run a cycle now (the console's `s`, `stagelink sync`).
    func requestSync(_ directions: Set<Job.Direction>, actor: Actor) async throws
    /// Takes the waiting sync requests, oldest first; each is returned once.
    func takeSyncRequests() async throws -> [SyncRequest]
}

/// Staged rows as the console's lists, the commands and the linkers read them. Reads only.
public protocol RowReader: Sendable {
    func row(id: Int64) async throws -> StagedRow?
    /// The rows with these ids, with their payloads, in id order, in one read (an id without a
    /// row is left out): what reads a page of rows reads instead of one row at a time.
    func rows(ids: [Int64]) async throws -> [StagedRow]
    /// The row that holds exactly this content of a record, if that content was ever staged.
    func row(of record: SourceKey, contentHash: String) async throws -> StagedRow?
    /// A page of rows without their payloads, keyset-paged.
    func rows(_ query: RowQuery) async throws -> [StagedRowSummary]
    func countRows(_ filter: RowFilter) async throws -> Int
    /// The names of the people these rows are about, from the person index (see ``PersonSearch``);
    /// a row that names nobody is absent.
    func personNames(ofRows ids: [Int64]) async throws -> [Int64: String]
    /// The parent records of these rows (see ``ParentRecord``), with each parent's newest row and
    /// whether it is linked; a row without a parent is absent.
    func parents(ofRows ids: [Int64]) async throws -> [Int64: ParentRecord]
    /// Failed rows grouped by error code, the largest group first.
    func failureGroups() async throws -> [FailureGroup]
}

/// What happened, as support staff and reviewers trace it: each row's transitions, attempts and
/// the field values it wrote, the lineage of a field, the jobs and their events, the conflicts.
/// Reads only.
public protocol HistoryReader: Sendable {
    func history(ofRow id: Int64) async throws -> [RowTransition]
    func attempts(ofRow id: Int64) async throws -> [LinkAttempt]
    /// The field values this row's links wrote.
    func writes(byRow id: Int64) async throws -> [FieldWrite]
    /// The last write of this field: which row, job, rule and actor put its value there.
    func lastWrite(record: MappedRecordKey, field: String) async throws -> FieldWrite?
    /// The id of the newest link attempt, a mark from which to find the rows a job goes on to try.
    func lastAttemptID() async throws -> Int64
    /// Ids of the rows this job tried to link after the attempt `since`, in id order.
    func rowsAttempted(byJob id: Int64, since attemptID: Int64) async throws -> [Int64]

    func job(id: Int64) async throws -> Job?
    /// Newest first; `before` is the id of the last job of the previous page.
    func jobs(before: Int64?, limit: Int) async throws -> [Job]
    /// The newest job that `selection` takes (by id: the last started).
    func lastJob(_ selection: JobSelection) async throws -> Job?
    /// Newest first.
    func recentEvents(limit: Int) async throws -> [SyncEvent]

    func conflicts(_ query: ConflictQuery) async throws -> [Conflict]
    func conflict(id: Int64) async throws -> Conflict?
    func countConflicts(status: Conflict.Status?) async throws -> Int
}

/// The log of reads of rows, which nothing updates or deletes: whoever shows a payload appends to
/// it first, compliance reads it.
public protocol AccessLogStore: Sendable {
    /// Appends reads of rows to the access log. A store opened read-only still records them: a
    /// read that cannot be logged throws, and is not to be shown.
    func recordAccess(_ accesses: [RowAccess]) async throws
    /// The access log, newest first.
    func accessLog(_ query: AccessQuery) async throws -> [RowAccess]
}

/// Payload retention: emptying old payloads and the audit of each purge.
public protocol RetentionStore: Sendable {
    /// Empties the payloads (and the other system's error bodies) of rows in
    /// ``PayloadPurge/purgeable`` statuses received before `cutoff`, and records the purge in its
    /// audit; a dry run only counts. Hashes, statuses, history and lineage stay.
    func purgePayloads(receivedBefore cutoff: Date, actor: Actor, dryRun: Bool) async throws -> PayloadPurge
    /// The purge audit, newest first.
    func payloadPurges(limit: Int) async throws -> [PayloadPurge]
}

/// Fencing by the service lease: the writes of a holder's cycles carry the lease's ``Lease/epoch``,
/// and once the lease has changed hands they are refused with ``StaleLease``, in the write's own
/// transaction. A holder paused or cut off from the store past its lease therefore cannot write
/// over the work of the process that took over, whatever it believes.
public protocol LeaseFencing: Sendable {
    /// This store, whose every write commits only while the lease is held at `epoch`, and throws
    /// ``StaleLease`` otherwise (nothing of that write lands). Taking, renewing and releasing the
    /// lease itself are not fenced: a renewal of a lease that changed hands answers `.heldBy`.
    func fenced(by epoch: Int64) -> any SyncStore
}

/// Telling that something changed, so that a screen reloads only then.
public protocol ChangeTracking: Sendable {
    /// A number that changes whenever another connection commits a write: poll it and reload
    /// only when it moved.
    func changeToken() async throws -> Int
}

/// Moves a watermark forward, committed with the page it covers.
public struct WatermarkAdvance: Sendable, Hashable {
    public var system: SourceSystem
    public var resourceType: String
    public var to: Date

    public init(system: SourceSystem, resourceType: String, to: Date) {
        self.system = system
        self.resourceType = resourceType
        self.to = to
    }
}

public struct StageResult: Sendable, Hashable {
    public var staged: Int
    public var deduplicated: Int
    /// Ids of the rows created, in the order of the records given.
    public var rowIDs: [Int64]

    public init(staged: Int, deduplicated: Int, rowIDs: [Int64]) {
        self.staged = staged
        self.deduplicated = deduplicated
        self.rowIDs = rowIDs
    }
}

extension AccessLogStore {
    /// Appends one read of a row to the access log.
    public func recordAccess(_ access: RowAccess) async throws { try await recordAccess([access]) }
}

extension ServiceLeaseStore {
    /// Takes or renews the lease if it is free, expired, or already `holder`'s.
    public func acquireLease(_ holder: LeaseHolder, for duration: Duration) async throws -> LeaseResult {
        try await acquireLease(holder, for: duration, replacing: nil)
    }
}

extension JobStore {
    /// Starts a job of a scheduled cycle.
    public func startJob(kind: Job.Kind, direction: Job.Direction?, actor: Actor) async throws -> Job {
        try await startJob(kind: kind, direction: direction, actor: actor, trigger: .scheduled)
    }
}
