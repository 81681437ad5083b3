import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func purgePayloads(receivedBefore cutoff: Date, actor: Actor, dryRun: Bool) async throws -> PayloadPurge {
        let statuses = PayloadPurge.purgeable.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        let eligible = "status IN (\(statuses)) AND receivedAt < ? AND payloadPurgedAt IS NULL"
        let now = Date()
        if dryRun {
            return try await pool.read { db in
                let row = try Row.fetchOne(
                    db, sql: """
                        SELECT COUNT(*) AS rows, COALESCE(SUM(LENGTH(payload)), 0) AS bytes
                        FROM staged_row JOIN staged_payload ON staged_payload.rowID = staged_row.id WHERE \(eligible)
                        """, arguments: [cutoff.timeIntervalSince1970])
                let conflicts = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM conflict WHERE \(StoredColumns.purgedConflicts("SELECT id FROM staged_row WHERE \(eligible)"))",
                    arguments: [cutoff.timeIntervalSince1970, cutoff.timeIntervalSince1970, cutoff.timeIntervalSince1970]) ?? 0
                return PayloadPurge(
                    at: now, actor: actor, cutoff: cutoff, rows: row?["rows"] ?? 0, bytes: row?["bytes"] ?? 0, conflicts: conflicts, dryRun: true)
            }
        }
        let purge = try await pool.writeWithoutTransaction { db in
            // The bytes are overwritten in the file, not only unlinked from it.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            defer { try? db.execute(sql: "PRAGMA secure_delete = OFF") }
            var result: PayloadPurge?
            try db.inTransaction(.immediate) {
                // Lineage values are sealed again without theirs: not with a data key being replaced.
                try self.checkDataKey(db)
                let at = now.timeIntervalSince1970
                let row = try Row.fetchOne(
                    db, sql: """
                        SELECT COUNT(*) AS rows, COALESCE(SUM(LENGTH(payload)), 0) AS bytes
                        FROM staged_row JOIN staged_payload ON staged_payload.rowID = staged_row.id WHERE \(eligible)
                        """, arguments: [cutoff.timeIntervalSince1970])
                let rows: Int = row?["rows"] ?? 0
                let bytes: Int = row?["bytes"] ?? 0
                try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS purging (rowID INTEGER PRIMARY KEY)")
                try db.execute(sql: "DELETE FROM temp.purging")
                try db.execute(sql: "INSERT INTO temp.purging SELECT id FROM staged_row WHERE \(eligible)", arguments: [cutoff.timeIntervalSince1970])
                try db.execute(sql: "UPDATE staged_payload SET payload = x'' WHERE rowID IN (SELECT rowID FROM temp.purging)")
                // The person index holds names and identifiers read from the payload: they go with it.
                try db.execute(sql: "DELETE FROM person_search WHERE rowid IN (SELECT rowID FROM temp.purging)")
                try self.purgeLineageValues(at: at, in: db)
                let conflicts = try self.purgeConflictValues(at: at, in: db)
                // The other system's answer may quote a value: it goes with the payload.
                try db.execute(sql: "UPDATE link_attempt SET errorBody = NULL WHERE rowID IN (SELECT rowID FROM temp.purging)")
                try db.execute(
                    sql: "UPDATE staged_row SET payloadPurgedAt = ?, errorBody = NULL WHERE id IN (SELECT rowID FROM temp.purging)", arguments: [at])
                try db.execute(sql: "DELETE FROM temp.purging")
                try db.execute(
                    sql: "INSERT INTO payload_purge (at, actor, cutoff, rows, bytes, conflicts) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [at, actor.description, cutoff.timeIntervalSince1970, rows, bytes, conflicts])
                let id = db.lastInsertedRowID
                result = PayloadPurge(id: id, at: now, actor: actor, cutoff: cutoff, rows: rows, bytes: bytes, conflicts: conflicts, dryRun: false)
                return .commit
            }
            return result!
        }
        // Old pages leave the write-ahead log too.
        try await pool.writeWithoutTransaction { db in _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        return purge
    }

    /// The values the purged rows wrote (lineage, `record_write`) go with their payloads; which
    /// field each row wrote, by which rule and why, stays.
    private func purgeLineageValues(at: Double, in db: Database) throws {
        let update = try db.cachedStatement(sql: "UPDATE record_write SET fields = ? WHERE id = ?")
        var nonces = StoreCipher.Nonces()
        let writes = try RecordWriteRecord.fetchAll(db, sql: "SELECT * FROM record_write WHERE rowID IN (SELECT rowID FROM temp.purging)")
        for write in writes {
            let label = SealLabel.recordWrite(object: write.object, recordKey: write.recordKey)
            let kept = RecordWriteRecord.withoutValues(try opened(write).fields, purgedAt: at)
            try update.execute(arguments: [try sealedFields(kept, label: label, nonces: &nonces), write.id])
        }
    }

    /// Empties the values of the conflicts found only by the rows being purged (``StoredColumns/purgedConflicts(_:)``);
    /// the conflict itself (record, field, rule, winner, who resolved it and why) stays. Returns how many.
    private func purgeConflictValues(at: Double, in db: Database) throws -> Int {
        let values = StoredColumns.purgedConflictValues(at: at)
        try db.execute(
            sql: """
                UPDATE conflict SET emrValue = \(values.emr), salesforceValue = \(values.salesforce)
                WHERE \(StoredColumns.purgedConflicts("SELECT rowID FROM temp.purging"))
                """)
        return db.changesCount
    }

    public func payloadPurges(limit: Int) async throws -> [PayloadPurge] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM payload_purge ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                PayloadPurge(
                    id: row["id"], at: Date(timeIntervalSince1970: row["at"]), actor: Actor(row["actor"] as String), cutoff: Date(timeIntervalSince1970: row["cutoff"]),
                    rows: row["rows"], bytes: row["bytes"], conflicts: row["conflicts"], dryRun: false)
            }
        }
    }
}

extension SQLiteStore {
    public func withheldRows(of keys: [SourceKey]) async throws -> [SourceKey: [StagedRowSummary]] {
        guard !keys.isEmpty else { return [:] }
        let wanted = Set(keys)
        return try await pool.read { db in
            var result: [SourceKey: [StagedRowSummary]] = [:]
            // Few rows are withheld: the status index finds them, the ids narrow them.
            let placeholders = Array(repeating: "?", count: wanted.count).joined(separator: ",")
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM staged_row WHERE status = 'withheld' AND sourceID IN (\(placeholders))",
                arguments: StatementArguments(wanted.map(\.sourceID)))
            for row in rows {
                let summary = try StagedRowRecord.summary(row)
                let key = SourceKey(system: summary.system, resourceType: summary.resourceType, sourceID: summary.sourceID)
                if wanted.contains(key) { result[key, default: []].append(summary) }
            }
            return result
        }
    }
}
