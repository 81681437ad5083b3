import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func policyRules() async throws -> [PolicyRule] {
        try await pool.read { db in
            try PolicyRuleRecord.order(Column("object"), Column("field")).fetchAll(db).map { try $0.policyRule }
        }
    }

    public func setPolicyRule(object: String, field: String, rule: OwnerRule, actor: Actor, reason: String?) async throws -> PolicyAuditEntry? {
        try await write { db in
            guard var record = try PolicyRuleRecord.fetchOne(db, key: ["object": object, "field": field]) else {
                throw PolicyError.unknownField("\(object).\(field)")
            }
            guard record.rule != rule.rawValue else { return nil }
            let now = Date().seconds
            var audit = PolicyAuditRecord(id: nil, at: now, actor: actor.description, object: object, field: field, oldRule: record.rule, newRule: rule.rawValue, reason: reason)
            record.rule = rule.rawValue
            record.changedBy = actor.description
            record.changedAt = now
            record.reason = reason
            try record.update(db)
            try audit.insert(db)
            audit.id = db.lastInsertedRowID
            CrashPoints.reach(.policyBeforeCommit)
            return try audit.entry
        }
    }

    public func loadPolicy(_ declarations: [PolicyDeclaration], actor: Actor) async throws -> [PolicyAuditEntry] {
        try await write { db in
            let now = Date().seconds
            var entries: [PolicyAuditEntry] = []
            for declaration in declarations {
                let existing = try PolicyRuleRecord.fetchOne(db, key: ["object": declaration.object, "field": declaration.field])
                let fileRule = declaration.rule.rawValue
                if var record = existing {
                    guard record.fileRule != fileRule else { continue }
                    let oldRule = record.rule
                    record.fileRule = fileRule
                    if oldRule != fileRule {
                        record.rule = fileRule
                        record.changedBy = actor.description
                        record.changedAt = now
                        record.reason = "declared in the mapping file"
                    }
                    try record.update(db)
                    guard oldRule != fileRule else { continue }
                    var audit = PolicyAuditRecord(
                        id: nil, at: now, actor: actor.description, object: declaration.object, field: declaration.field, oldRule: oldRule,
                        newRule: fileRule, reason: "the mapping file changed")
                    try audit.insert(db)
                    audit.id = db.lastInsertedRowID
                    entries.append(try audit.entry)
                } else {
                    try PolicyRuleRecord(
                        object: declaration.object, field: declaration.field, rule: fileRule, fileRule: fileRule, changedBy: actor.description,
                        changedAt: now, reason: "declared in the mapping file"
                    ).insert(db)
                    var audit = PolicyAuditRecord(
                        id: nil, at: now, actor: actor.description, object: declaration.object, field: declaration.field, oldRule: nil,
                        newRule: fileRule, reason: "first loaded from the mapping file")
                    try audit.insert(db)
                    audit.id = db.lastInsertedRowID
                    entries.append(try audit.entry)
                }
            }
            return entries
        }
    }

    public func policyAudit(object: String?, field: String?, limit: Int) async throws -> [PolicyAuditEntry] {
        try await pool.read { db in
            var request = PolicyAuditRecord.order(Column("id").desc).limit(limit)
            if let object { request = request.filter(Column("object") == object) }
            if let field { request = request.filter(Column("field") == field) }
            return try request.fetchAll(db).map { try $0.entry }
        }
    }

    public func conflicts(_ query: ConflictQuery) async throws -> [Conflict] {
        let (rows, names) = try await pool.read { db in
            var request = ConflictRow.order(Column("id").desc).limit(query.limit)
            if let statuses = query.statuses { request = request.filter(statuses.map(\.rawValue).contains(Column("status"))) }
            if let object = query.object { request = request.filter(Column("object") == object) }
            if let recordKey = query.recordKey { request = request.filter(Column("recordKey") == recordKey) }
            if let kind = query.kind { request = request.filter(Column("kind") == kind.rawValue) }
            if let rowID = query.rowID {
                request = request.filter(sql: "id IN (SELECT conflictID FROM conflict_row WHERE rowID = ?)", arguments: [rowID])
            }
            if let before = query.before { request = request.filter(Column("id") < before) }
            let rows = try request.fetchAll(db)
            return (rows, try PersonIndex.names(ofRows: rows.compactMap(\.rowID), in: db))
        }
        return try rows.map { row in
            var conflict = try opened(row).conflict
            conflict.personName = conflict.rowID.flatMap { names[$0] }
            return conflict
        }
    }

    public func conflict(id: Int64) async throws -> Conflict? {
        let found = try await pool.read { db -> (ConflictRow, String?)? in
            guard let row = try ConflictRow.fetchOne(db, key: id) else { return nil }
            return (row, try row.rowID.flatMap { try PersonIndex.names(ofRows: [$0], in: db)[$0] })
        }
        guard let (row, name) = found else { return nil }
        var conflict = try opened(row).conflict
        conflict.personName = name
        return conflict
    }

    public func countConflicts(status: Conflict.Status?) async throws -> Int {
        try await pool.read { db in
            var request = ConflictRow.all()
            if let status { request = request.filter(Column("status") == status.rawValue) }
            return try request.fetchCount(db)
        }
    }
}

/// A policy change that names a field the mapping does not have.
public enum PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownField(String)

    public var description: String {
        switch self {
        case .unknownField(let field): "\(field) is not a mapped field (see `stagelink policy` for the list)"
        }
    }
}
