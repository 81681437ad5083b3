import Foundation

/// Both systems changed the same field since the last sync and disagree.
///
/// The policy rule decides the winner at once, and the overridden value is kept here for a
/// reviewer; under `hold` the conflict stays open until a person takes one side.
public struct Conflict: Sendable, Hashable, Identifiable {
    public var id: Int64
    /// The Salesforce object of the mapped field.
    public var object: String
    public var recordKey: String
    public var field: String
    /// The staged row whose link found the conflict.
    public var rowID: Int64?
    public var emrValue: FieldValue
    public var salesforceValue: FieldValue
    public var rule: OwnerRule
    public var status: Status
    /// The side whose value stands: decided by the rule, or by the person who resolved it.
    public var winner: SourceSystem?
    public var createdAt: Date
    public var resolvedBy: Actor?
    public var resolvedAt: Date?
    public var reason: String?
    /// The name of the person the conflict's row is about, from the store's person index; nil
    /// when the row names nobody or the conflict was found by no row.
    public var personName: String? = nil

    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting for a person (`hold`).
        case open
        /// Decided by the policy rule when found.
        case decided
        /// Decided by a person.
        case resolved
    }

    public init(
        id: Int64, object: String, recordKey: String, field: String, rowID: Int64?, emrValue: FieldValue, salesforceValue: FieldValue,
        rule: OwnerRule, status: Status, winner: SourceSystem?, createdAt: Date, resolvedBy: Actor? = nil, resolvedAt: Date? = nil, reason: String? = nil
    ) {
        self.id = id
        self.object = object
        self.recordKey = recordKey
        self.field = field
        self.rowID = rowID
        self.emrValue = emrValue
        self.salesforceValue = salesforceValue
        self.rule = rule
        self.status = status
        self.winner = winner
        self.createdAt = createdAt
        self.resolvedBy = resolvedBy
        self.resolvedAt = resolvedAt
        self.reason = reason
    }

    /// The value that the winner's side holds.
    public var winningValue: FieldValue? {
        winner.map { $0 == .emr ? emrValue : salesforceValue }
    }
}

/// What Stagelink knows of one mapped field of one record: the value both sides last agreed on,
/// and the value each side was last seen with.
public struct FieldState: Sendable, Hashable {
    public var synced: FieldValue?
    public var emr: FieldValue?
    public var salesforce: FieldValue?

    public init(synced: FieldValue? = nil, emr: FieldValue? = nil, salesforce: FieldValue? = nil) {
        self.synced = synced
        self.emr = emr
        self.salesforce = salesforce
    }

    public func observed(on system: SourceSystem) -> FieldValue? { system == .emr ? emr : salesforce }

    public mutating func observe(_ value: FieldValue, on system: SourceSystem) {
        if system == .emr { emr = value } else { salesforce = value }
    }
}

/// Which mapped record a field belongs to: the Salesforce object and the record's shared key.
public struct MappedRecordKey: Sendable, Hashable, CustomStringConvertible {
    public var object: String
    public var key: String

    public init(object: String, key: String) {
        self.object = object
        self.key = key
    }

    public var description: String { "\(object) \(key)" }
}

/// One field value a sync wrote, and what put it there: the lineage `why` answers from.
public struct FieldWrite: Sendable, Hashable {
    public var record: MappedRecordKey
    public var field: String
    public var value: FieldValue
    /// The system the value was written into.
    public var writtenTo: SourceSystem
    public var rowID: Int64?
    public var jobID: Int64?
    public var rule: OwnerRule
    public var actor: Actor
    public var at: Date
    /// Why it was written: a plain change, a conflict the rule decided, a resolution.
    public var reason: String
    /// When the retention purge removed `value` (then `.null`) with its row's payload; the field,
    /// rule, reason and where it came from stay.
    public var valuePurgedAt: Date? = nil

    /// The value as people read it, or when it was purged.
    public var valueText: String {
        guard let valuePurgedAt else { return value.description }
        return "(value purged on \(valuePurgedAt.formatted(.iso8601.year().month().day())) by retention)"
    }

    public init(record: MappedRecordKey, field: String, value: FieldValue, writtenTo: SourceSystem, rowID: Int64?, jobID: Int64?, rule: OwnerRule, actor: Actor, at: Date, reason: String) {
        self.record = record
        self.field = field
        self.value = value
        self.writtenTo = writtenTo
        self.rowID = rowID
        self.jobID = jobID
        self.rule = rule
        self.actor = actor
        self.at = at
        self.reason = reason
    }
}
