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
    var kind: String
    /// A held merge as JSON (``HeldMerge``), for a conflict of kind `merge`.
    var merge: String?

    var conflict: Conflict {
        get throws {
            var conflict = try Conflict(
                id: id ?? 0, object: object, recordKey: recordKey, field: field, rowID: rowID, emrValue: FieldValue(storageText: emrValue),
                salesforceValue: FieldValue(storageText: salesforceValue), rule: StoredValue.decode(rule, "conflict.rule"),
                status: StoredValue.decode(status, "conflict.status"), winner: StoredValue.decode(winner, "conflict.winner"),
                createdAt: Date(timeIntervalSince1970: createdAt), resolvedBy: resolvedBy.map(Actor.init),
                resolvedAt: resolvedAt.map(Date.init(timeIntervalSince1970:)), reason: reason)
            if let purgedAt = Self.purgedAt(emrValue) {
                conflict.valuesPurgedAt = purgedAt
                conflict.emrValue = .text(PayloadPurge.valuePurgedText(at: purgedAt))
                conflict.salesforceValue = conflict.emrValue
            }
            conflict.kind = try StoredValue.decode(kind, "conflict.kind")
            conflict.merge = try merge.map { try Self.heldMerge($0) }
            if conflict.kind == .merge && conflict.merge == nil {
                throw UnreadableValue(column: "conflict.merge", value: "NULL")
            }
            return conflict
        }
    }

    /// What the retention purge leaves in place of a conflict's two values: JSON objects, which no
    /// stored value is (a value is a JSON scalar, or sealed text), the Salesforce side naming the
    /// conflict so that two purged conflicts of one field stay distinct under `conflict_values`.
    static func purgedValuesSQL(at: Double) -> (emr: String, salesforce: String) {
        ("'{\"purged\":\(at)}'", "'{\"purged\":\(at),\"conflict\":' || id || '}'")
    }

    /// When the purge removed a conflict's values, read from its EMR value; nil for a value.
    static func purgedAt(_ stored: String) -> Date? {
        guard stored.hasPrefix("{"), case .number(let seconds)? = (try? JSONValue(parsing: Array(stored.utf8)))?["purged"],
            let at = Double(seconds)
        else { return nil }
        return Date(timeIntervalSince1970: at)
    }

    static func heldMerge(_ text: String) throws -> HeldMerge {
        do {
            return try JSONDecoder().decode(HeldMerge.self, from: Data(text.utf8))
        } catch {
            throw UnreadableValue(column: "conflict.merge", value: String(text.prefix(80)))
        }
    }

    static func text(_ merge: HeldMerge?) throws -> String? {
        guard let merge else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(merge), as: UTF8.self)
    }
}
