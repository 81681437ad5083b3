import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The access log (append-only: a trigger refuses UPDATE, DELETE and TRUNCATE on row_access) and
// payload retention with its audit (payload_purge, append-only the same way).
extension PostgresStore {
    /// A read that cannot be logged throws, and is not to be shown.
    public func recordAccess(_ accesses: [RowAccess]) async throws {
        guard !accesses.isEmpty else { return }
        try await transaction { connection in
            try await connection.run(
                """
                INSERT INTO row_access (at, rowID, operator, process, via)
                SELECT * FROM unnest(\(accesses.map(\.at.timeIntervalSince1970))::float8[], \(accesses.map(\.rowID))::int8[],
                    \(accesses.map { StoredText.storable($0.operatorName) })::text[], \(accesses.map { StoredText.storable($0.process) })::text[],
                    \(accesses.map(\.via.rawValue))::text[])
                """, logger: logger)
        }
    }

    public func accessLog(_ query: AccessQuery) async throws -> [RowAccess] {
        try await client.query(
            """
            SELECT id, at, rowID, operator, process, via FROM row_access
            WHERE (\(query.rowID)::int8 IS NULL OR rowID = \(query.rowID)) AND (\(query.operatorName)::text IS NULL OR operator = \(query.operatorName))
                AND (\(query.before)::int8 IS NULL OR id < \(query.before))
            ORDER BY id DESC LIMIT \(query.limit)
            """, logger: logger
        ).decode(StoredColumns.Access.self).collect().map(StoredColumns.access)
    }

    // MARK: - Retention

    /// Empties the payloads of purgeable rows received before `cutoff`, their person documents, the
    /// values their links wrote (which field, rule and reason stay), the values of the decided
    /// conflicts only they found (counted in the audit, as on SQLite) and the other system's error
    /// bodies, in one transaction with its audit entry. PostgreSQL keeps a row's old version until
    /// `VACUUM` reclaims it, so the purge vacuums the tables it emptied once it committed (their
    /// space is then free for reuse; a file-level erasure is the storage's, see docs/scale.md).
    public func purgePayloads(receivedBefore cutoff: Date, actor: Actor, dryRun: Bool) async throws -> PayloadPurge {
        let statuses = PayloadPurge.purgeable.map(\.rawValue).sorted()
        let now = Date()
        let at = now.timeIntervalSince1970
        let eligible: PostgresQuery = """
            SELECT staged_row.id, octet_length(staged_payload.payload)::int8 FROM staged_row JOIN staged_payload ON staged_payload.rowID = staged_row.id
            WHERE staged_row.status = ANY(\(statuses)::text[]) AND staged_row.receivedAt < \(cutoff.timeIntervalSince1970)
                AND staged_row.payloadPurgedAt IS NULL
            ORDER BY staged_row.id FOR UPDATE OF staged_row
            """
        if dryRun {
            let rows = try await client.query(eligible, logger: logger).decode((Int64, Int64).self).collect()
            let conflicts = try await client.query(Self.purgedConflicts("SELECT COUNT(*) FROM conflict", ids: rows.map(\.0)), logger: logger)
                .decode(Int64.self).collect().first ?? 0
            return PayloadPurge(
                at: now, actor: actor, cutoff: cutoff, rows: rows.count, bytes: Int(rows.reduce(0) { $0 + $1.1 }), conflicts: Int(conflicts), dryRun: true)
        }
        let purge = try await transaction { connection in
            try await checkDataKey(in: connection)
            let rows = try await connection.rows(eligible, logger: logger).decode((Int64, Int64).self).collect()
            let ids = rows.map(\.0)
            let bytes = Int(rows.reduce(0) { $0 + $1.1 })
            var conflicts = 0
            if !ids.isEmpty {
                try await connection.run("UPDATE staged_payload SET payload = ''::bytea WHERE rowID = ANY(\(ids)::int8[])", logger: logger)
                // The person index holds names and identifiers read from the payload: they go with it.
                try await connection.run("DELETE FROM person_search WHERE rowID = ANY(\(ids)::int8[])", logger: logger)
                let writes = try await connection.rows(
                    "SELECT id, object, recordKey, fields FROM record_write WHERE rowID = ANY(\(ids)::int8[]) ORDER BY id FOR UPDATE", logger: logger
                ).decode((Int64, String, String, String).self).collect()
                if !writes.isEmpty {
                    // Which field, rule and reason stay, sealed again in an encrypted store.
                    var nonces = StoreCipher.Nonces()
                    let kept = try writes.map { id, object, recordKey, fields in
                        let label = SealLabel.recordWrite(object: object, recordKey: recordKey)
                        let opened = try sealing.openText(fields, label: label, what: "the values written into \(object) \(recordKey) (lineage \(id))")
                        return try sealing.sealedString(RecordWriteRecord.withoutValues(opened, purgedAt: at), label: label, nonces: &nonces)
                    }
                    try await connection.run(
                        """
                        UPDATE record_write SET fields = kept.fields
                        FROM unnest(\(writes.map(\.0))::int8[], \(kept)::text[]) AS kept(id, fields) WHERE record_write.id = kept.id
                        """, logger: logger)
                }
                // Decided conflicts found only by these rows lose their two values (before the
                // rows are marked purged: the rule tells them from the rows whose payload stays).
                let values = StoredColumns.purgedConflictValues(at: at)
                let emptying = Self.purgedConflicts(
                    "WITH emptied AS (UPDATE conflict SET emrValue = \(values.emr), salesforceValue = \(values.salesforce)", ids: ids,
                    then: "RETURNING 1) SELECT COUNT(*) FROM emptied")
                conflicts = Int(try await connection.rows(emptying, logger: logger).decode(Int64.self).collect().first ?? 0)
                // The other system's answer may quote a value: it goes with the payload.
                try await connection.run("UPDATE link_attempt SET errorBody = NULL WHERE rowID = ANY(\(ids)::int8[])", logger: logger)
                try await connection.run(
                    "UPDATE staged_row SET payloadPurgedAt = \(at), errorBody = NULL WHERE id = ANY(\(ids)::int8[])", logger: logger)
            }
            let entry = try await connection.rows(
                """
                INSERT INTO payload_purge (at, actor, cutoff, rows, bytes, conflicts)
                VALUES (\(at), \(actor.description), \(cutoff.timeIntervalSince1970), \(ids.count), \(bytes), \(conflicts)) RETURNING id
                """, logger: logger
            ).decode(Int64.self).collect()
            return PayloadPurge(id: entry.first, at: now, actor: actor, cutoff: cutoff, rows: ids.count, bytes: bytes, conflicts: conflicts, dryRun: false)
        }
        if purge.rows > 0 {
            try await client.withConnection { connection in
                try await connection.run("VACUUM staged_payload, person_search, record_write, link_attempt, staged_row, conflict", logger: logger)
            }
        }
        return purge
    }

    public func payloadPurges(limit: Int) async throws -> [PayloadPurge] {
        try await client.query("SELECT id, at, actor, cutoff, rows, bytes, conflicts FROM payload_purge ORDER BY id DESC LIMIT \(limit)", logger: logger)
            .decode((Int64, Double, String, Double, Int64, Int64, Int64).self).collect()
            .map { id, at, actor, cutoff, rows, bytes, conflicts in
                PayloadPurge(
                    id: id, at: Date(timeIntervalSince1970: at), actor: Actor(actor), cutoff: Date(timeIntervalSince1970: cutoff), rows: Int(rows),
                    bytes: Int(bytes), conflicts: Int(conflicts), dryRun: false)
            }
    }

    /// `head`, then `WHERE` the conflicts whose values go with the rows `ids` (the SQLite store's
    /// own rule, ``StoredColumns/purgedConflicts(_:)``, over the ids bound once as `$1`), then `then`.
    private static func purgedConflicts(_ head: String, ids: [Int64], then: String = "") -> PostgresQuery {
        var binds = PostgresBindings()
        binds.append(ids)
        return PostgresQuery(unsafeSQL: "\(head) WHERE \(StoredColumns.purgedConflicts("SELECT unnest($1::int8[])")) \(then)", binds: binds)
    }
}
