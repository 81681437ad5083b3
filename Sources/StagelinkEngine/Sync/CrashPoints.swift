import Synchronization

/// A named place in the engine or store where the proof harness may kill the process, to show
/// that a crash there loses and duplicates nothing.
///
/// Each point sits where a crash is most likely to hurt: between a remote write and the record of
/// it, or inside a transaction before it commits.
///
/// ## Topics
/// - ``pullPage``, ``bulkPolling``, ``bulkFileStaged``, ``stageBeforeCommit``, ``upsertSent``, ``bulkIngestUploaded``, ``bulkIngestPolling``, ``recordBeforeCommit``, ``emrCreateIntent``, ``emrCreated``,
///   ``writebackSent``, ``retryRefreshed``, ``policyBeforeCommit``
public struct CrashPoint: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// A delta pull got a page from its source (of records, or of its overlap listing) and has
    /// not staged what it holds yet.
    public static let pullPage = CrashPoint(rawValue: "pull.page")
    /// A Bulk Data export was kicked off (its status URL is stored) and is being polled.
    public static let bulkPolling = CrashPoint(rawValue: "bulk.polling")
    /// One output file of a Bulk Data export is staged and recorded as staged; the watermark has not moved.
    public static let bulkFileStaged = CrashPoint(rawValue: "bulk.file-staged")
    /// A page is staged and the watermark advanced, inside the store's transaction, before it commits.
    public static let stageBeforeCommit = CrashPoint(rawValue: "stage.before-commit")
    /// A collection upsert into Salesforce was answered; its outcomes are not recorded yet.
    public static let upsertSent = CrashPoint(rawValue: "upsert.sent")
    /// A Bulk API 2.0 ingest job's CSV is uploaded; the job is not closed yet.
    public static let bulkIngestUploaded = CrashPoint(rawValue: "bulk-ingest.uploaded")
    /// A closed Bulk API 2.0 ingest job is being polled; its results are not read yet.
    public static let bulkIngestPolling = CrashPoint(rawValue: "bulk-ingest.polling")
    /// Link outcomes are written, inside the store's transaction, before it commits.
    public static let recordBeforeCommit = CrashPoint(rawValue: "record.before-commit")
    /// A create intent is recorded in the store and its `POST` (search-then-create) not sent yet.
    public static let emrCreateIntent = CrashPoint(rawValue: "emr.create-intent")
    /// The EMR created (or found) a Patient for an admission; its id is stored nowhere yet. Reached
    /// once per admission, also when a `batch` Bundle carried several.
    public static let emrCreated = CrashPoint(rawValue: "emr.created")
    /// The EMR's ids were written back to Salesforce; the outcome is not recorded yet. Reached once
    /// per admission, also when one collections call carried several.
    public static let writebackSent = CrashPoint(rawValue: "writeback.sent")
    /// A retry fetched and staged the current versions of the failed rows; it has not linked them yet.
    public static let retryRefreshed = CrashPoint(rawValue: "retry.refreshed")
    /// A policy rule and its audit entry are written, inside the store's transaction, before it commits.
    public static let policyBeforeCommit = CrashPoint(rawValue: "policy.before-commit")

    /// Every point, in the order a sync reaches them.
    public static let all: [CrashPoint] = [
        .pullPage, .bulkPolling, .bulkFileStaged, .stageBeforeCommit, .upsertSent, .bulkIngestUploaded, .bulkIngestPolling, .recordBeforeCommit, .emrCreateIntent, .emrCreated, .writebackSent, .retryRefreshed,
        .policyBeforeCommit,
    ]
}

/// The hook that crash points call: inert (one relaxed atomic load) unless a harness installs it.
///
/// For example, the executable kills itself the third time a page is staged:
///
/// ```swift
/// CrashPoints.install { point in if point == .stageBeforeCommit { /* count, then kill(getpid(), SIGKILL) */ } }
/// CrashPoints.reach(.stageBeforeCommit)
/// ```
public enum CrashPoints {
    private static let installed = Atomic<Bool>(false)
    private static let hook = Mutex<(@Sendable (CrashPoint) -> Void)?>(nil)

    /// Installs the hook every point calls from now on (replacing any earlier one).
    public static func install(_ handler: @escaping @Sendable (CrashPoint) -> Void) {
        hook.withLock { $0 = handler }
        installed.store(true, ordering: .releasing)
    }

    /// Removes the hook; points are inert again.
    public static func uninstall() {
        installed.store(false, ordering: .releasing)
        hook.withLock { $0 = nil }
    }

    /// Called where a crash would hurt; does nothing unless a hook is installed.
    @inline(__always)
    public static func reach(_ point: CrashPoint) {
        guard installed.load(ordering: .acquiring) else { return }
        let handler = hook.withLock { $0 }
        handler?(point)
    }
}
