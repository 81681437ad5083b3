import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The history role: each row's transitions (written by the database's trigger), attempts and the
// values it wrote, and the conflicts. Reads only; every stored status, rule and kind is read
// strictly (StoredColumns), never replaced by a default.
extension PostgresStore {
    public func history(ofRow id: Int64) async throws -> [RowTransition] {
        let (row, transitions) = try await client.withConnection { connection in
            let row = try await connection.rows("SELECT receivedAt, jobID FROM staged_row WHERE id = \(id)", logger: logger)
                .decode((Double, Int64?).self).collect().first
            let transitions = try await connection.rows(
                "SELECT rowID, fromStatus, toStatus, at, actor, note FROM row_transition WHERE rowID = \(id) ORDER BY id", logger: logger
            ).decode(StoredColumns.Transition.self).collect()
            return (row, transitions)
        }
        guard let (receivedAt, jobID) = row else { return [] }
        return [StoredColumns.received(rowID: id, receivedAt: receivedAt, jobID: jobID)] + (try transitions.map(StoredColumns.transition))
    }

    public func attempts(ofRow id: Int64) async throws -> [LinkAttempt] {
        try await client.query(
            """
            SELECT rowID, number, at, actor, outcome, errorCode, errorMessage, errorFields, errorBody FROM link_attempt
            WHERE rowID = \(id) ORDER BY number
            """, logger: logger
        ).decode(StoredColumns.Attempt.self).collect().map(StoredColumns.attempt)
    }

    public func writes(byRow id: Int64) async throws -> [FieldWrite] {
        let rows = try await client.query(
            "SELECT id, object, recordKey, writtenTo, rowID, jobID, actor, at, fields FROM record_write WHERE rowID = \(id) ORDER BY id", logger: logger
        ).decode((Int64, String, String, String, Int64?, Int64?, String, Double, String).self).collect()
        return try rows.flatMap { id, object, recordKey, writtenTo, rowID, jobID, actor, at, fields in
            try sealing.opened(
                RecordWriteRecord(
                    id: id, object: object, recordKey: recordKey, writtenTo: writtenTo, rowID: rowID, jobID: jobID, actor: actor, at: at, fields: fields)
            ).writes
        }
    }

    public func lastAttemptID() async throws -> Int64 {
        try await client.query("SELECT COALESCE(MAX(id), 0)::int8 FROM link_attempt", logger: logger).decode(Int64.self).collect().first ?? 0
    }

    public func rowsAttempted(byJob id: Int64, since attemptID: Int64) async throws -> [Int64] {
        try await client.query(
            "SELECT DISTINCT rowID FROM link_attempt WHERE id > \(attemptID) AND actor = \(Actor.job(id).description) ORDER BY rowID", logger: logger
        ).decode(Int64.self).collect()
    }

    // MARK: - Conflicts

    public func conflicts(_ query: ConflictQuery) async throws -> [Conflict] {
        let statuses = query.statuses.map { $0.map(\.rawValue).sorted() }
        return try await conflicts(
            """
            (\(statuses)::text[] IS NULL OR conflict.status = ANY(\(statuses)::text[]))
            AND (\(query.object)::text IS NULL OR conflict.object = \(query.object))
            AND (\(query.recordKey)::text IS NULL OR conflict.recordKey = \(query.recordKey))
            AND (\(query.kind?.rawValue)::text IS NULL OR conflict.kind = \(query.kind?.rawValue))
            AND (\(query.rowID)::int8 IS NULL OR conflict.id IN (SELECT conflictID FROM conflict_row WHERE conflict_row.rowID = \(query.rowID)))
            AND (\(query.before)::int8 IS NULL OR conflict.id < \(query.before))
            ORDER BY conflict.id DESC LIMIT \(query.limit)
            """)
    }

    public func conflict(id: Int64) async throws -> Conflict? {
        try await conflicts("conflict.id = \(id)").first
    }

    public func countConflicts(status: Conflict.Status?) async throws -> Int {
        let counts = try await client.query(
            "SELECT COUNT(*) FROM conflict WHERE \(status?.rawValue)::text IS NULL OR status = \(status?.rawValue)", logger: logger
        ).decode(Int64.self).collect()
        return Int(counts.first ?? 0)
    }

    /// Conflicts read with a condition (and an order) on `conflict` that follows `WHERE`, each with
    /// the name of the person its row is about.
    private func conflicts(_ condition: PostgresQuery) async throws -> [Conflict] {
        let query = PostgresQuery(
            unsafeSQL: """
                SELECT \(StoredColumns.conflictColumns), person_search.name FROM conflict
                LEFT JOIN person_search ON person_search.rowID = conflict.rowID
                WHERE \(condition.sql)
                """, binds: condition.binds)
        let rows = try await client.query(query, logger: logger).decode(
            (Int64, String, String, String, Int64?, String, String, String, String, String?, Double, String?, Double?, String?, String, String?, String?).self
        ).collect()
        return try rows.map { c in
            let (emrValue, salesforceValue) = try sealing.openedConflictValues(emr: c.5, salesforce: c.6, id: c.0, object: c.1, recordKey: c.2, field: c.3)
            var conflict = try StoredColumns.conflict((c.0, c.1, c.2, c.3, c.4, emrValue, salesforceValue, c.7, c.8, c.9, c.10, c.11, c.12, c.13, c.14, c.15))
            conflict.personName = c.16.flatMap { $0.isEmpty ? nil : $0 }
            return conflict
        }
    }
}
