import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The policy role: the per-field rules and their append-only audit trail (a trigger refuses
// UPDATE, DELETE and TRUNCATE on policy_audit), as the SQLite store keeps them.
extension PostgresStore {
    public func policyRules() async throws -> [PolicyRule] {
        try await client.query(
            """
            SELECT object, field, rule, fileRule, changedBy, changedAt, reason FROM policy_rule ORDER BY object COLLATE "C", field COLLATE "C"
            """, logger: logger
        ).decode(StoredColumns.Rule.self).collect().map(StoredColumns.policyRule)
    }

    public func policyAudit(object: String?, field: String?, limit: Int) async throws -> [PolicyAuditEntry] {
        try await client.query(
            """
            SELECT \(unescaped: Self.auditColumns) FROM policy_audit
            WHERE (\(object)::text IS NULL OR object = \(object)) AND (\(field)::text IS NULL OR field = \(field))
            ORDER BY id DESC LIMIT \(limit)
            """, logger: logger
        ).decode(StoredColumns.Audit.self).collect().map(StoredColumns.policyAudit)
    }

    /// The field's rule row is locked for the transaction: two people changing it at once are
    /// recorded one after the other, each with the old rule the other left.
    public func setPolicyRule(object: String, field: String, rule: OwnerRule, actor: Actor, reason: String?) async throws -> PolicyAuditEntry? {
        try await transaction { connection in
            let current = try await connection.rows(
                "SELECT rule FROM policy_rule WHERE object = \(object) AND field = \(field) FOR UPDATE", logger: logger
            ).decode(String.self).collect()
            guard let oldRule = current.first else { throw PolicyError.unknownField("\(object).\(field)") }
            guard oldRule != rule.rawValue else { return nil }
            let now = Date().timeIntervalSince1970
            try await connection.run(
                """
                UPDATE policy_rule SET rule = \(rule.rawValue), changedBy = \(actor.description), changedAt = \(now), reason = \(reason)
                WHERE object = \(object) AND field = \(field)
                """, logger: logger)
            let entry = try await audit(
                object: object, field: field, oldRule: oldRule, newRule: rule.rawValue, actor: actor, reason: reason, at: now, in: connection)
            CrashPoints.reach(.policyBeforeCommit)
            return entry
        }
    }

    /// As the SQLite store loads it: a field declared for the first time is added, a field whose
    /// declared owner changed in the file takes it, a person's change stands until the file changes
    /// that field; each change is appended to the audit trail.
    public func loadPolicy(_ declarations: [PolicyDeclaration], actor: Actor) async throws -> [PolicyAuditEntry] {
        try await transaction { connection in
            // Two services starting on a fresh store load the file at once: a rule not there yet
            // has no row to lock, so both would insert it and the second fail on its key. The table
            // lock (which conflicts only with itself and writers, not readers) makes one wait for
            // the other, which then finds the rules in place (found by the failover crash test).
            try await connection.run("LOCK TABLE policy_rule IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            let now = Date().timeIntervalSince1970
            var entries: [PolicyAuditEntry] = []
            for declaration in declarations {
                let fileRule = declaration.rule.rawValue
                let existing = try await connection.rows(
                    "SELECT rule, fileRule FROM policy_rule WHERE object = \(declaration.object) AND field = \(declaration.field) FOR UPDATE",
                    logger: logger
                ).decode((String, String?).self).collect()
                if let (oldRule, oldFileRule) = existing.first {
                    guard oldFileRule != fileRule else { continue }
                    if oldRule == fileRule {
                        try await connection.run(
                            "UPDATE policy_rule SET fileRule = \(fileRule) WHERE object = \(declaration.object) AND field = \(declaration.field)",
                            logger: logger)
                        continue
                    }
                    try await connection.run(
                        """
                        UPDATE policy_rule SET fileRule = \(fileRule), rule = \(fileRule), changedBy = \(actor.description), changedAt = \(now),
                            reason = 'declared in the mapping file'
                        WHERE object = \(declaration.object) AND field = \(declaration.field)
                        """, logger: logger)
                    entries.append(
                        try await audit(
                            object: declaration.object, field: declaration.field, oldRule: oldRule, newRule: fileRule, actor: actor,
                            reason: "the mapping file changed", at: now, in: connection))
                } else {
                    try await connection.run(
                        """
                        INSERT INTO policy_rule (object, field, rule, fileRule, changedBy, changedAt, reason)
                        VALUES (\(declaration.object), \(declaration.field), \(fileRule), \(fileRule), \(actor.description), \(now),
                            'declared in the mapping file')
                        """, logger: logger)
                    entries.append(
                        try await audit(
                            object: declaration.object, field: declaration.field, oldRule: nil, newRule: fileRule, actor: actor,
                            reason: "first loaded from the mapping file", at: now, in: connection))
                }
            }
            return entries
        }
    }

    private static let auditColumns = "id, at, actor, object, field, oldRule, newRule, reason"

    /// Appends one entry to the audit trail and returns it as stored.
    private func audit(
        object: String, field: String, oldRule: String?, newRule: String, actor: Actor, reason: String?, at: Double, in connection: PostgresConnection
    ) async throws -> PolicyAuditEntry {
        let rows = try await connection.rows(
            """
            INSERT INTO policy_audit (at, actor, object, field, oldRule, newRule, reason)
            VALUES (\(at), \(actor.description), \(object), \(field), \(oldRule), \(newRule), \(reason))
            RETURNING \(unescaped: Self.auditColumns)
            """, logger: logger
        ).decode(StoredColumns.Audit.self).collect()
        guard let row = rows.first else { throw PostgresStoreError.unexpected("policy_audit returned no row") }
        return try StoredColumns.policyAudit(row)
    }
}
