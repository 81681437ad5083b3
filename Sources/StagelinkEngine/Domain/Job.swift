import Foundation

/// One run of a piece of work, recorded so that its history and live progress can be read by
/// any process that opens the store.
public struct Job: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var kind: Kind
    public var direction: Direction?
    public var actor: Actor
    /// What started it: the schedule, a person asking for a cycle now, or a person's own action.
    public var trigger: Trigger
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: Status
    public var counts: Counts
    public var apiCalls: Int
    /// The other system's reported usage after the job's last call (`Sforce-Limit-Info`).
    public var apiUsage: APIUsage?
    public var watermarkBefore: Date?
    public var watermarkAfter: Date?
    public var progress: Progress
    /// Why the job stopped, when it did not succeed.
    public var message: String?
    /// What a Bulk Data export's manifest reported in its `error` files (OperationOutcome code
    /// and diagnostics), for a person to read.
    public var exportErrors: [String]

    public init(
        id: Int64, kind: Kind, direction: Direction?, actor: Actor, trigger: Trigger = .scheduled, startedAt: Date, finishedAt: Date? = nil,
        status: Status = .running, counts: Counts = Counts(), apiCalls: Int = 0, apiUsage: APIUsage? = nil,
        watermarkBefore: Date? = nil, watermarkAfter: Date? = nil, progress: Progress = Progress(), message: String? = nil,
        exportErrors: [String] = []
    ) {
        self.id = id
        self.kind = kind
        self.direction = direction
        self.actor = actor
        self.trigger = trigger
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.counts = counts
        self.apiCalls = apiCalls
        self.apiUsage = apiUsage
        self.watermarkBefore = watermarkBefore
        self.watermarkAfter = watermarkAfter
        self.progress = progress
        self.message = message
        self.exportErrors = exportErrors
    }

    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A delta pull that stages what changed.
        case pull
        /// Linking staged rows into the other system.
        case link
        /// Creating or updating records in the EMR from Salesforce.
        case push
        /// An operator's retry of chosen rows.
        case retry
        /// A reconciliation: the ids and versions of one side's linked records compared with what
        /// the store last saw of them (``Reconciler``).
        case reconcile

        /// The kind of a cycle's link step in `direction`: inbound rows are linked into
        /// Salesforce, outbound rows pushed into the EMR.
        public static func linkStep(of direction: Direction) -> Kind {
            direction == .inbound ? .link : .push
        }
    }

    /// What started a job. Health follows the jobs of cycles (scheduled or on demand); a manual
    /// action that fails is reported apart and never makes the service look down.
    public enum Trigger: String, Sendable, Hashable, Codable, CaseIterable {
        /// A cycle the service ran on its schedule (or the demo's).
        case scheduled
        /// A cycle a person asked for now (`stagelink sync`, the console's sync key).
        case onDemand = "on-demand"
        /// A person's own action on chosen records: a push or a retry by hand.
        case manual

        /// Whether the job was part of a sync cycle, which health follows.
        public var isCycle: Bool { self != .manual }
    }

    public enum Direction: String, Sendable, Hashable, Codable, CaseIterable {
        /// EMR → Salesforce.
        case inbound
        /// Salesforce → EMR.
        case outbound
    }

    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case running
        case succeeded
        /// Finished, but some rows failed.
        case partial
        case failed
        /// Stopped by a signal or a limit before it finished; what it committed stays.
        case interrupted
    }

    /// What a job did, row by row.
    public struct Counts: Sendable, Hashable, Codable {
        public var pulled = 0
        public var staged = 0
        public var deduplicated = 0
        public var linked = 0
        public var failed = 0
        public var superseded = 0
        public var conflicts = 0
        /// Rows the link step withheld for a security label (never sent; not failures).
        public var withheld = 0
        /// A reconciliation's linked records compared with their source.
        public var checked = 0
        /// A reconciliation's records whose version at the source differs from the one last seen.
        public var changed = 0
        /// A reconciliation's linked records absent at their source that its API did not report
        /// deleted: each held for a person as a deletion candidate.
        public var missing = 0

        public init(
            pulled: Int = 0, staged: Int = 0, deduplicated: Int = 0, linked: Int = 0, failed: Int = 0, superseded: Int = 0, conflicts: Int = 0,
            withheld: Int = 0, checked: Int = 0, changed: Int = 0, missing: Int = 0
        ) {
            self.pulled = pulled
            self.staged = staged
            self.deduplicated = deduplicated
            self.linked = linked
            self.failed = failed
            self.superseded = superseded
            self.conflicts = conflicts
            self.withheld = withheld
            self.checked = checked
            self.changed = changed
            self.missing = missing
        }

        public static func + (lhs: Counts, rhs: Counts) -> Counts {
            Counts(
                pulled: lhs.pulled + rhs.pulled, staged: lhs.staged + rhs.staged, deduplicated: lhs.deduplicated + rhs.deduplicated,
                linked: lhs.linked + rhs.linked, failed: lhs.failed + rhs.failed, superseded: lhs.superseded + rhs.superseded,
                conflicts: lhs.conflicts + rhs.conflicts, withheld: lhs.withheld + rhs.withheld, checked: lhs.checked + rhs.checked,
                changed: lhs.changed + rhs.changed, missing: lhs.missing + rhs.missing)
        }

        public static func += (lhs: inout Counts, rhs: Counts) { lhs = lhs + rhs }
    }

    /// Live progress, written while the job runs.
    public struct Progress: Sendable, Hashable, Codable {
        /// What the job is doing now, in a word or two (`pulling Patient`, `linking`).
        public var phase: String
        public var done: Int
        /// Known total, when the source says how many there are.
        public var total: Int?
        public var updatedAt: Date?

        public init(phase: String = "", done: Int = 0, total: Int? = nil, updatedAt: Date? = nil) {
            self.phase = phase
            self.done = done
            self.total = total
            self.updatedAt = updatedAt
        }
    }
}

/// API usage as the other system reports it: `used` of `limit` calls today.
public struct APIUsage: Sendable, Hashable, Codable, CustomStringConvertible {
    public var used: Int
    public var limit: Int

    public init(used: Int, limit: Int) {
        self.used = used
        self.limit = limit
    }

    public var share: Double { limit > 0 ? Double(used) / Double(limit) : 0 }
    public var description: String { "\(used)/\(limit)" }
}
