import Foundation

/// Both systems changed the same field since the last sync and disagree (kind `field`), or a
/// merge in one system would join two records that are distinct in the other (kind `merge`).
///
/// The policy rule decides a field conflict's winner at once, and the overridden value is kept
/// here for a reviewer; under `hold` the conflict stays open until a person takes one side. A
/// merge conflict is always held: two records are never joined automatically, a person settles it
/// (``HeldMerge/Decision``) after merging them in the other system, or keeps them apart.
public struct Conflict: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var kind: Kind = .field
    /// For a conflict of kind `merge`: the records merged and their two counterparts.
    public var merge: HeldMerge? = nil
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
    /// When the retention purge removed the two values with the rows that found the conflict (a
    /// decided or resolved one): both values then read ``PayloadPurge/valuePurgedText(at:)``.
    public var valuesPurgedAt: Date? = nil
    /// The name of the person the conflict's row is about, from the store's person index; nil
    /// when the row names nobody or the conflict was found by no row.
    public var personName: String? = nil

    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// One mapped field both systems changed.
        case field
        /// A merge held for a person (``HeldMerge``).
        case merge
    }

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

    /// How a person settled a merge conflict: the winner is the merging system when its merge
    /// was made in the other system too, the other system when the records stay apart.
    public var mergeDecision: HeldMerge.Decision? {
        guard let merge, let winner, status == .resolved else { return nil }
        return winner == merge.mergedIn ? .merged : .apart
    }

    /// "FIELD" column text: the field, or `merge` for a held merge.
    public var subject: String { kind == .merge ? "merge" : field }
}

/// A merge in one system that would join two records whose counterparts are distinct records in
/// the other: the loser's link is retired (nothing is written through it), and the merge waits
/// for a person as a conflict of kind `merge`. Ids only, no patient data.
///
/// For example, Patient/1017 merged into Patient/1004 in the EMR while Contact 003…AAB and
/// Contact 003…AAA both exist in Salesforce.
public struct HeldMerge: Sendable, Hashable, Codable {
    /// The system where the records were merged.
    public var mergedIn: SourceSystem
    /// The merged records' type there (`Patient`, `Contact`).
    public var type: String
    public var loserID: String
    public var survivorID: String
    /// The counterparts' type in the other system.
    public var counterpartType: String
    public var loserCounterpartID: String
    public var survivorCounterpartID: String

    public init(
        mergedIn: SourceSystem, type: String, loserID: String, survivorID: String, counterpartType: String, loserCounterpartID: String,
        survivorCounterpartID: String
    ) {
        self.mergedIn = mergedIn
        self.type = type
        self.loserID = loserID
        self.survivorID = survivorID
        self.counterpartType = counterpartType
        self.loserCounterpartID = loserCounterpartID
        self.survivorCounterpartID = survivorCounterpartID
    }

    /// What a person decides about a held merge.
    public enum Decision: String, Sendable, Hashable, CaseIterable {
        /// The two counterparts were merged in the other system too (the survivor's kept).
        case merged
        /// The two counterparts stay distinct records; the loser's still receives nothing.
        case apart
    }

    /// "Patient/1017 was merged into Patient/1004 in the EMR".
    public var merged: String {
        "\(Self.reference(type, loserID, in: mergedIn)) was merged into \(Self.reference(type, survivorID, in: mergedIn)) in \(Self.place(mergedIn))"
    }

    /// "Contact 003…AAB and Contact 003…AAA are two records in Salesforce".
    public var apart: String {
        "\(Self.reference(counterpartType, loserCounterpartID, in: mergedIn.other)) and "
            + "\(Self.reference(counterpartType, survivorCounterpartID, in: mergedIn.other)) are two records in \(Self.place(mergedIn.other))"
    }

    static func place(_ system: SourceSystem) -> String { system == .emr ? "the EMR" : "Salesforce" }

    /// A FHIR reference (`Patient/1017`) or a Salesforce object and id (`Contact 003…`).
    static func reference(_ type: String, _ id: String, in system: SourceSystem) -> String {
        system == .emr ? "\(type)/\(id)" : "\(type) \(id)"
    }

    /// The two sides of the conflict as the views show them, in the EMR and Salesforce columns.
    public var sides: (emr: FieldValue, salesforce: FieldValue) {
        mergedIn == .emr ? (.text(merged), .text(apart)) : (.text(apart), .text(merged))
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
        return PayloadPurge.valuePurgedText(at: valuePurgedAt)
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
