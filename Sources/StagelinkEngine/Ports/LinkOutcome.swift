import Foundation

/// What linking did to one staged row, recorded in one transaction with the rest of its batch.
public struct LinkOutcome: Sendable, Hashable {
    public var rowID: Int64
    public var actor: Actor
    public var at: Date
    /// The row's new status.
    public var status: RowStatus
    public var attempt: LinkAttempt.Outcome
    public var error: LinkError?
    public var note: String?
    /// The links to create or move forward.
    public var links: [RecordLink]
    /// New states of the fields this row touched.
    public var fieldStates: [FieldStateChange]
    /// Values written into the other system, for lineage.
    public var writes: [FieldWrite]
    public var conflicts: [ConflictRecord]
    /// Conflicts this outcome settles (a resolution).
    public var resolvedConflicts: [ConflictResolution]
    /// Records of the other side that this outcome wrote into: their still-staged rows, received
    /// before this write, are superseded (the other side's next version carries their changes).
    public var supersedes: [SourceKey]

    public init(
        rowID: Int64, actor: Actor, at: Date, status: RowStatus, attempt: LinkAttempt.Outcome, error: LinkError? = nil, note: String? = nil,
        links: [RecordLink] = [], fieldStates: [FieldStateChange] = [], writes: [FieldWrite] = [], conflicts: [ConflictRecord] = [],
        resolvedConflicts: [ConflictResolution] = [], supersedes: [SourceKey] = []
    ) {
        self.rowID = rowID
        self.actor = actor
        self.at = at
        self.status = status
        self.attempt = attempt
        self.error = error
        self.note = note
        self.links = links
        self.fieldStates = fieldStates
        self.writes = writes
        self.conflicts = conflicts
        self.resolvedConflicts = resolvedConflicts
        self.supersedes = supersedes
    }
}

public struct FieldStateChange: Sendable, Hashable {
    public var record: MappedRecordKey
    public var field: String
    public var state: FieldState

    public init(record: MappedRecordKey, field: String, state: FieldState) {
        self.record = record
        self.field = field
        self.state = state
    }
}

/// A conflict found while linking. The store keeps one per distinct pair of values, so that the
/// two directions noticing the same collision record it once.
public struct ConflictRecord: Sendable, Hashable {
    public var record: MappedRecordKey
    public var field: String
    public var rowID: Int64?
    public var emrValue: FieldValue
    public var salesforceValue: FieldValue
    public var rule: OwnerRule
    /// nil under `hold`: the conflict stays open.
    public var winner: SourceSystem?
    /// Set for a conflict of kind `merge`.
    public var merge: HeldMerge? = nil

    /// A merge held for a person, on the loser's mapped record: open, under `hold`.
    public static func heldMerge(_ merge: HeldMerge, record: MappedRecordKey, rowID: Int64) -> ConflictRecord {
        let sides = merge.sides
        var conflict = ConflictRecord(
            record: record, field: Conflict.Kind.merge.rawValue, rowID: rowID, emrValue: sides.emr, salesforceValue: sides.salesforce, rule: .hold,
            winner: nil)
        conflict.merge = merge
        return conflict
    }

    public init(record: MappedRecordKey, field: String, rowID: Int64?, emrValue: FieldValue, salesforceValue: FieldValue, rule: OwnerRule, winner: SourceSystem?) {
        self.record = record
        self.field = field
        self.rowID = rowID
        self.emrValue = emrValue
        self.salesforceValue = salesforceValue
        self.rule = rule
        self.winner = winner
    }
}

public struct ConflictResolution: Sendable, Hashable {
    public var conflictID: Int64
    public var winner: SourceSystem
    public var actor: Actor
    public var reason: String

    public init(conflictID: Int64, winner: SourceSystem, actor: Actor, reason: String) {
        self.conflictID = conflictID
        self.winner = winner
        self.actor = actor
        self.reason = reason
    }
}
