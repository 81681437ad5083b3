import Foundation
import GRDB
import StagelinkEngine

/// A row of `policy_rule`: the owner in force for one field, and what the file last said.
struct PolicyRuleRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "policy_rule"

    var object: String
    var field: String
    var rule: String
    /// The owner the mapping file declared when it was last loaded.
    var fileRule: String?
    var changedBy: String
    var changedAt: Double
    var reason: String?

    var policyRule: PolicyRule {
        get throws {
            try PolicyRule(
                object: object, field: field, rule: StoredValue.decode(rule, "policy_rule.rule"), changedBy: Actor(changedBy),
                changedAt: Date(timeIntervalSince1970: changedAt), reason: reason)
        }
    }
}

/// A row of `policy_audit`, which triggers make append-only.
struct PolicyAuditRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "policy_audit"

    var id: Int64?
    var at: Double
    var actor: String
    var object: String
    var field: String
    var oldRule: String?
    var newRule: String
    var reason: String?

    var entry: PolicyAuditEntry {
        get throws {
            try PolicyAuditEntry(
                id: id ?? 0, at: Date(timeIntervalSince1970: at), actor: Actor(actor), object: object, field: field,
                oldRule: StoredValue.decode(oldRule, "policy_audit.oldRule"), newRule: StoredValue.decode(newRule, "policy_audit.newRule"), reason: reason)
        }
    }
}

/// A row of `conflict`.
struct ConflictRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "conflict"

    var id: Int64?
    var object: String
    var recordKey: String
    var field: String
    var rowID: Int64?
    var emrValue: String
    var salesforceValue: String
    var rule: String
    var status: String
    var winner: String?
    var createdAt: Double
    var resolvedBy: String?
    var resolvedAt: Double?
    var reason: String?

    var conflict: Conflict {
        get throws {
            try Conflict(
                id: id ?? 0, object: object, recordKey: recordKey, field: field, rowID: rowID, emrValue: FieldValue(storageText: emrValue),
                salesforceValue: FieldValue(storageText: salesforceValue), rule: StoredValue.decode(rule, "conflict.rule"),
                status: StoredValue.decode(status, "conflict.status"), winner: StoredValue.decode(winner, "conflict.winner"),
                createdAt: Date(timeIntervalSince1970: createdAt), resolvedBy: resolvedBy.map(Actor.init),
                resolvedAt: resolvedAt.map(Date.init(timeIntervalSince1970:)), reason: reason)
        }
    }
}
