import Foundation

/// Which rows to list or count.
public struct RowFilter: Sendable, Hashable {
    public var statuses: Set<RowStatus>?
    public var system: SourceSystem?
    public var resourceType: String?
    public var errorCode: String?
    public var jobID: Int64?
    /// The rows of one record only: its source id, exactly (the versions of `Patient/1950`, not the
    /// rows whose person was born in 1950, as ``text`` would find).
    public var sourceID: String?
    /// Matched against the person index (the person's name, MRN and other identifiers, birth date,
    /// Salesforce name, and the row's source id), ignoring case and accents, or the row's id.
    public var text: String?
    /// Everything the other conditions do not match (`/!` in the console).
    public var inverted: Bool
    /// Record versions, deletions or merges only.
    public var kind: RecordKind?

    public init(
        statuses: Set<RowStatus>? = nil, system: SourceSystem? = nil, resourceType: String? = nil, errorCode: String? = nil,
        jobID: Int64? = nil, sourceID: String? = nil, text: String? = nil, inverted: Bool = false, kind: RecordKind? = nil
    ) {
        self.kind = kind
        self.sourceID = sourceID
        self.statuses = statuses
        self.system = system
        self.resourceType = resourceType
        self.errorCode = errorCode
        self.jobID = jobID
        self.text = text
        self.inverted = inverted
    }

    public static let all = RowFilter()
}

/// A keyset-paged request for rows: only the visible window is ever read.
public struct RowQuery: Sendable, Hashable {
    public var filter: RowFilter
    public var sort: RowSort
    /// Rows strictly after this position in the sort order; nil for the first page.
    public var after: RowCursor?
    /// Walk backwards from `after` (for Page Up); rows come back in display order all the same.
    public var backwards: Bool
    public var limit: Int

    public init(filter: RowFilter = .all, sort: RowSort = RowSort(), after: RowCursor? = nil, backwards: Bool = false, limit: Int = 100) {
        self.filter = filter
        self.sort = sort
        self.after = after
        self.backwards = backwards
        self.limit = limit
    }
}

public struct RowSort: Sendable, Hashable {
    public enum Column: String, Sendable, Hashable, CaseIterable {
        case id, status, resourceType, sourceID, receivedAt, errorCode
    }

    public var column: Column
    public var descending: Bool

    public init(column: Column = .id, descending: Bool = false) {
        self.column = column
        self.descending = descending
    }
}

/// A position in a sorted row list: the sort column's value and the row id.
public struct RowCursor: Sendable, Hashable {
    public var sortValue: String?
    public var id: Int64

    public init(sortValue: String?, id: Int64) {
        self.sortValue = sortValue
        self.id = id
    }
}

/// A row as a list shows it: everything but the payload.
public struct StagedRowSummary: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var system: SourceSystem
    public var resourceType: String
    public var sourceID: String
    public var version: String?
    public var lastUpdated: Date?
    public var jobID: Int64?
    public var receivedAt: Date
    public var status: RowStatus
    public var errorCode: String?
    public var errorMessage: String?
    public var attemptCount: Int
    public var updatedAt: Date
    /// The name of the person the row is about, from the store's person index (see
    /// ``PersonSearch``); nil when the list did not read it or the row names nobody.
    public var personName: String? = nil
    /// A version of the record, its deletion, or its merge into `survivorID`.
    public var kind: RecordKind
    public var survivorID: String?

    public init(
        id: Int64, system: SourceSystem, resourceType: String, sourceID: String, version: String?, lastUpdated: Date?, jobID: Int64?,
        receivedAt: Date, status: RowStatus, errorCode: String?, errorMessage: String?, attemptCount: Int, updatedAt: Date,
        kind: RecordKind = .record, survivorID: String? = nil
    ) {
        self.kind = kind
        self.survivorID = survivorID
        self.id = id
        self.system = system
        self.resourceType = resourceType
        self.sourceID = sourceID
        self.version = version
        self.lastUpdated = lastUpdated
        self.jobID = jobID
        self.receivedAt = receivedAt
        self.status = status
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.attemptCount = attemptCount
        self.updatedAt = updatedAt
    }

    /// The cursor just after this row in `sort`.
    public func cursor(for sort: RowSort) -> RowCursor {
        let value: String? =
            switch sort.column {
            case .id: nil
            case .status: status.rawValue
            case .resourceType: resourceType
            case .sourceID: sourceID
            case .receivedAt: String(receivedAt.timeIntervalSince1970)
            case .errorCode: errorCode
            }
        return RowCursor(sortValue: value, id: id)
    }
}

/// Failed rows sharing an error code.
public struct FailureGroup: Sendable, Hashable {
    public var errorCode: String
    public var count: Int
    /// The resource types among them.
    public var resourceTypes: [String]
    /// The message of the newest one, as an example.
    public var sampleMessage: String
    public var newestRowID: Int64

    public init(errorCode: String, count: Int, resourceTypes: [String], sampleMessage: String, newestRowID: Int64) {
        self.errorCode = errorCode
        self.count = count
        self.resourceTypes = resourceTypes
        self.sampleMessage = sampleMessage
        self.newestRowID = newestRowID
    }
}

/// Which rows a linker wants to take.
public struct ClaimRequest: Sendable, Hashable {
    public var system: SourceSystem?
    public var resourceType: String?
    public var statuses: Set<RowStatus>
    /// Exactly these rows (a retry); other conditions still apply.
    public var rowIDs: [Int64]?
    /// Only rows whose error is one of these codes.
    public var errorCodes: Set<String>?
    /// Only rows with fewer attempts than this.
    public var maximumAttempts: Int?
    /// Only rows after this id: a linker walks forward, so that a row that fails again is not
    /// taken again in the same pass.
    public var afterRowID: Int64?
    /// Only this worker's share of the rows, when several link at once (`stagelink run --workers N`).
    public var partition: ClaimPartition?

    public init(
        system: SourceSystem? = nil, resourceType: String? = nil, statuses: Set<RowStatus> = [.staged], rowIDs: [Int64]? = nil,
        errorCodes: Set<String>? = nil, maximumAttempts: Int? = nil
    ) {
        self.system = system
        self.resourceType = resourceType
        self.statuses = statuses
        self.rowIDs = rowIDs
        self.errorCodes = errorCodes
        self.maximumAttempts = maximumAttempts
    }
}

/// One of `count` linking workers' share of the staged rows. Every row of one person (a record's
/// rows and the rows whose parent it is: a Patient, its episodes and assessments) falls in the same
/// share, so that two workers never write one record, or a child before its parent, at once; the
/// rows of a share are claimed in row order, as one linker claims them.
public struct ClaimPartition: Sendable, Hashable {
    /// This worker's share, from 0 to `count - 1`.
    public var index: Int
    public var count: Int

    public init(index: Int, of count: Int) {
        precondition(count > 0 && (0..<count).contains(index), "a partition index within its count")
        self.index = index
        self.count = count
    }

    /// The share a person falls in on the SQLite store (FNV-1a of the person's source id, UTF-8;
    /// PostgreSQL's own `hashtext` there): the same in every process sharing a store.
    public static func share(of key: String, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }
}

public enum RowClaim {
    /// How long a claim keeps others off a row; a crashed linker's claims lapse after it.
    public static let lifetime: Duration = .seconds(120)
}

public struct ConflictQuery: Sendable, Hashable {
    public var statuses: Set<Conflict.Status>?
    public var object: String?
    public var recordKey: String?
    public var rowID: Int64?
    /// Only field conflicts, or only held merges.
    public var kind: Conflict.Kind?
    /// Newest first; the id of the last conflict of the previous page.
    public var before: Int64?
    public var limit: Int

    public init(
        statuses: Set<Conflict.Status>? = nil, object: String? = nil, recordKey: String? = nil, rowID: Int64? = nil, kind: Conflict.Kind? = nil,
        before: Int64? = nil, limit: Int = 100
    ) {
        self.kind = kind
        self.statuses = statuses
        self.object = object
        self.recordKey = recordKey
        self.rowID = rowID
        self.before = before
        self.limit = limit
    }
}

/// Which jobs a ``HistoryReader/lastJob(_:)`` looks among; nil takes any.
public struct JobSelection: Sendable, Hashable {
    public var kinds: Set<Job.Kind>?
    /// Nil takes jobs of either direction and of none (a retry).
    public var direction: Job.Direction?
    public var triggers: Set<Job.Trigger>?
    public var statuses: Set<Job.Status>

    public init(kinds: Set<Job.Kind>? = nil, direction: Job.Direction? = nil, triggers: Set<Job.Trigger>? = nil, statuses: Set<Job.Status>) {
        self.kinds = kinds
        self.direction = direction
        self.triggers = triggers
        self.statuses = statuses
    }

    /// Every status a job has once it ended.
    public static let finished: Set<Job.Status> = [.succeeded, .partial, .failed, .interrupted]
    /// The statuses of a job that did its work (a partial one left some rows failed).
    public static let completed: Set<Job.Status> = [.succeeded, .partial]
}

/// The process that runs cycles against a store.
public struct LeaseHolder: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var host: String
    public var pid: Int32

    public init(name: String, host: String, pid: Int32) {
        self.name = name
        self.host = host
        self.pid = pid
    }

    public var description: String { "\(name) (pid \(pid) on \(host))" }
}

public struct Lease: Sendable, Hashable {
    public var holder: LeaseHolder
    public var since: Date
    public var expiresAt: Date
    /// The fencing token: it grows each time the lease changes hands (a renewal keeps it), and
    /// every write of the holder's cycles carries it (``LeaseFencing``), so that a holder whose
    /// lease was taken over cannot write any more, even before it knows.
    public var epoch: Int64

    public init(holder: LeaseHolder, since: Date, expiresAt: Date, epoch: Int64 = 0) {
        self.holder = holder
        self.since = since
        self.expiresAt = expiresAt
        self.epoch = epoch
    }
}

public enum LeaseResult: Sendable, Hashable {
    /// Taken (or renewed); `tookOver` tells that an expired lease of another holder was replaced.
    case acquired(Lease, tookOver: LeaseHolder?)
    case heldBy(Lease)
}

/// A line of the service's activity, for the console's live view.
public struct SyncEvent: Sendable, Hashable {
    public enum Level: String, Sendable, Hashable, Codable {
        case info, warning, error
    }

    public var at: Date
    public var jobID: Int64?
    public var level: Level
    /// Never patient data: counts, codes, ids of rows.
    public var message: String

    public init(at: Date, jobID: Int64?, level: Level, message: String) {
        self.at = at
        self.jobID = jobID
        self.level = level
        self.message = message
    }
}

/// A request, from another process, to run a cycle now.
public struct SyncRequest: Sendable, Hashable {
    public var directions: Set<Job.Direction>
    public var actor: Actor
    public var at: Date

    public init(directions: Set<Job.Direction>, actor: Actor, at: Date) {
        self.directions = directions
        self.actor = actor
        self.at = at
    }
}
