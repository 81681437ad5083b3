import StagelinkEngine

/// Something a person does from the console. The console never does the work itself: it hands
/// the action to its `ConsoleActions`, which runs the same code as the CLI and the service.
public enum ConsoleAction: Sendable, Hashable {
    /// Re-run the linker on these rows (`r`, on the selected or the marked rows).
    case retryRows([Int64])
    /// Re-run the linker on every failed row with this error code (`R`).
    case retryErrorCode(String)
    /// Set failed rows aside, with a reason for the audit trail (`i`).
    case ignore(rows: [Int64], reason: String)
    /// Put ignored rows back among the failures, with a reason for the audit trail (`u`).
    case unignore(rows: [Int64], reason: String)
    /// Send a Salesforce record to the EMR now (`p`).
    case push(PushTarget)
    /// Run a sync cycle now instead of waiting for the schedule (`s`).
    case syncNow
    /// Change a field's conflict rule, with a reason (Enter on the Policy view).
    case setPolicy(object: String, field: String, rule: OwnerRule, reason: String)
    /// Settle an open conflict by taking one side's value, with a reason (`e` / `f`).
    case resolveConflict(id: Int64, taking: SourceSystem, reason: String)
    /// Settle several open conflicts alike, with one reason (`e` / `f` on marked conflicts).
    case resolveConflicts(ids: [Int64], taking: SourceSystem, reason: String)
    /// Settle a held merge as merged in the other system too, or kept apart, with a reason (`m` / `d`).
    case settleMerge(id: Int64, decision: HeldMerge.Decision, reason: String)

    /// The kinds of action, for asking whether one is available before prompting for it.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case retry, ignore, push
        case unignore = "un-ignore"
        case sync = "sync now"
        case setPolicy = "policy change"
        case resolveConflict = "conflict resolution"
        case settleMerge = "held merge settlement"
    }

    public var kind: Kind {
        switch self {
        case .retryRows, .retryErrorCode: .retry
        case .ignore: .ignore
        case .unignore: .unignore
        case .push: .push
        case .syncNow: .sync
        case .setPolicy: .setPolicy
        case .resolveConflict, .resolveConflicts: .resolveConflict
        case .settleMerge: .settleMerge
        }
    }
}

/// What to push: a Salesforce record by its id, or a staged Salesforce row.
public enum PushTarget: Sendable, Hashable, CustomStringConvertible {
    case salesforceID(String)
    case row(Int64)

    public var description: String {
        switch self {
        case .salesforceID(let id): "Salesforce record \(id)"
        case .row(let id): "row \(id)"
        }
    }
}

/// How an action ended, in the words the status line shows, with what changed.
///
/// For example: `ActionOutcome(summary: "pushed 006xx0000012345 → EMR Patient/8812", emrIDs: ["Patient/8812"])`.
public struct ActionOutcome: Sendable, Hashable {
    public enum Severity: Sendable, Hashable {
        /// It did what was asked.
        case success
        /// Some of it worked (a retry where some rows failed again).
        case partial
        /// Nothing worked; the summary says why.
        case failure
    }

    /// One line for the status line: counts, codes and ids, never patient data.
    public var summary: String
    public var severity: Severity
    /// Rows as they are now, so that the console updates them in place.
    public var rows: [StagedRowSummary]
    /// Ids the EMR returned (a push).
    public var emrIDs: [String]
    /// The job that did the work, when there was one.
    public var jobID: Int64?

    public init(summary: String, severity: Severity = .success, rows: [StagedRowSummary] = [], emrIDs: [String] = [], jobID: Int64? = nil) {
        self.summary = summary
        self.severity = severity
        self.rows = rows
        self.emrIDs = emrIDs
        self.jobID = jobID
    }
}
