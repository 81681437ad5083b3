import Crypto
import Foundation
import GRDB
import StagelinkEngine

/// Rotating the data key itself (`stagelink store rekey --data-key`), for when the data key may
/// have been exposed: a new data key is made and every sealed value, keyed content hash and blind
/// index token is re-made with it, in batches of one transaction each, with `secure_delete` on so
/// that the old ciphertexts are overwritten in the file.
///
/// Resumable: the first transaction keeps the old data key beside the new one (`store_key`'s
/// `previousWrappedKey`, wrapped by the same key file), so a store interrupted halfway opens and
/// reads (each value opens with whichever key sealed it), takes no writes until the rotation is run
/// again (``StoreError/rotating(path:running:)``), and a second run finishes where the first
/// stopped: staged rows after the recorded cursor; field states, lineage and conflicts by whether
/// each value opens with the new key already.
extension SQLiteStore {
    /// Rotates the data key (see the extension's notes). `afterBatch` is called after each committed
    /// batch with the number of batches so far: a test stops a rotation there, as a crash would.
    public func rotateDataKey(actor: Actor, batchSize: Int = 500, afterBatch: @Sendable (Int) throws -> Void = { _ in }) async throws -> DataKeyRotation {
        guard let key else { throw StoreError.keyRequired(path: path) }
        guard access == .readWrite else { throw StoreError.cannotOpen(path: path, reason: "opened read-only; a data-key rotation writes the store") }
        let (keys, resumed) = try await beginRotation(key: key, actor: actor)
        var rotation = DataKeyRotation(previousDataKeyID: keys.old.dataKeyID, dataKeyID: keys.new.dataKeyID, resumed: resumed)
        var batches = 0
        /// One batch: a transaction with `secure_delete` on (old ciphertexts are overwritten), then `afterBatch`.
        func batch<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
            let result = try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA secure_delete = ON")
                defer { try? db.execute(sql: "PRAGMA secure_delete = OFF") }
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
            batches += 1
            try afterBatch(batches)
            return result
        }
        // Staged rows, in id order, so that a child's parent is re-indexed before it.
        while true {
            let count = try await batch { db in try self.rotateRows(in: db, keys: keys, limit: batchSize) }
            guard count > 0 else { break }
            rotation.rows += count
        }
        for table in SealedColumns.all {
            var after: [DatabaseValue]? = nil
            while true {
                let (last, resealed) = try await batch { [after] db in try table.reseal(in: db, after: after, keys: keys, limit: batchSize) }
                guard let last else { break }
                rotation.values += resealed
                after = last
            }
        }
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
            defer { try? db.execute(sql: "PRAGMA secure_delete = OFF") }
            try db.inTransaction(.immediate) {
                try db.execute(sql: "INSERT INTO person_search (person_search) VALUES ('optimize')")
                try db.execute(
                    sql: "UPDATE store_key SET previousWrappedKey = NULL, previousDataKeyID = NULL, rotationCursor = NULL WHERE id = 1")
                try db.execute(
                    sql: "INSERT INTO store_key_audit (at, actor, event, keyID, previousKeyID) VALUES (?, ?, 'data key rotated', ?, ?)",
                    arguments: [Date().seconds, actor.description, keys.new.dataKeyID, keys.old.dataKeyID])
                return .commit
            }
            _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        return rotation
    }

    /// Makes the new data key and keeps the old one beside it, in one transaction; or, when a
    /// rotation was interrupted, unwraps the two it left.
    private func beginRotation(key: StoreKey, actor: Actor) async throws -> (keys: DataKeyResealing, resumed: Bool) {
        let path = self.path
        return try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT wrappedKey, keyID, dataKeyID, previousWrappedKey FROM store_key WHERE id = 1") else {
                throw StoreError.unreadable("the store has no data key to rotate (it was never opened for writing with a key)")
            }
            let current = try Self.unwrap(row["wrappedKey"], key: key, expectedKeyID: row["keyID"], path: path)
            if let previous: Data = row["previousWrappedKey"] {
                let old = try Self.unwrap(previous, key: key, expectedKeyID: row["keyID"], path: path)
                return (DataKeyResealing(old: StoreCipher(dataKey: old), new: StoreCipher(dataKey: current)), true)
            }
            let fresh = SymmetricKey(size: .bits256)
            let new = StoreCipher(dataKey: fresh)
            let old = StoreCipher(dataKey: current)
            try db.execute(
                sql: """
                    UPDATE store_key SET previousWrappedKey = wrappedKey, previousDataKeyID = dataKeyID, wrappedKey = ?, dataKeyID = ?,
                        rotationCursor = 0 WHERE id = 1
                    """,
                arguments: [try AES.KeyWrap.wrap(fresh, using: key.key), new.dataKeyID])
            try db.execute(
                sql: "INSERT INTO store_key_audit (at, actor, event, keyID, previousKeyID) VALUES (?, ?, 'data key rotating', ?, ?)",
                arguments: [Date().seconds, actor.description, new.dataKeyID, old.dataKeyID])
            return (DataKeyResealing(old: old, new: new), false)
        }
    }

    /// Re-makes the next `limit` staged rows after the cursor: the payload opened with the old key
    /// and sealed with the new, bound to its new keyed hash, and the row's blind person document
    /// made again from it. A purged row (no payload) keeps its hash, which nothing can recompute.
    /// Returns how many rows it read.
    private func rotateRows(in db: Database, keys: DataKeyResealing, limit: Int) throws -> Int {
        let cursor = try Int64.fetchOne(db, sql: "SELECT rotationCursor FROM store_key WHERE id = 1") ?? 0
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT staged_row.id, system, resourceType, sourceID, contentHash, payload FROM staged_row
                LEFT JOIN staged_payload ON staged_payload.rowID = staged_row.id WHERE staged_row.id > ? ORDER BY staged_row.id LIMIT ?
                """,
            arguments: [cursor, limit])
        guard let last = rows.last else { return 0 }
        let updateHash = try db.cachedStatement(sql: "UPDATE staged_row SET contentHash = ? WHERE id = ?")
        let updatePayload = try db.cachedStatement(sql: "UPDATE staged_payload SET payload = ? WHERE rowID = ?")
        let indexed = try db.cachedStatement(sql: "SELECT 1 FROM person_search WHERE rowid = ?")
        let updateDocument = try db.cachedStatement(sql: "UPDATE person_search SET name = '', identifiers = ?, birthDate = '' WHERE rowid = ?")
        // The parent's newest row before this one, as when the row was staged.
        let parent = try db.cachedStatement(
            sql: """
                SELECT identifiers FROM person_search WHERE rowid = (
                    SELECT MAX(id) FROM staged_row INDEXED BY staged_row_content WHERE system = ? AND resourceType = ? AND sourceID = ? AND id < ?)
                """)
        var nonces = StoreCipher.Nonces()
        for row in rows {
            let id: Int64 = row["id"]
            guard
                let remade = try keys.remade(
                    rowID: id, system: row["system"], resourceType: row["resourceType"], sourceID: row["sourceID"], contentHash: row["contentHash"],
                    sealed: (row["payload"] as Data?).map { [UInt8]($0) } ?? [], nonces: &nonces)
            else { continue }
            try updateHash.execute(arguments: [remade.hash, id])
            try updatePayload.execute(arguments: [Data(remade.payload), id])
            guard try Bool.fetchOne(indexed, arguments: [id]) == true else { continue }
            let found = try remade.document.parent.flatMap { key in
                try String.fetchOne(parent, arguments: [key.system.rawValue, key.resourceType, key.sourceID, id])
            }
            try updateDocument.execute(arguments: [keys.identifiers(of: remade.document, found: found), id])
        }
        try db.execute(sql: "UPDATE store_key SET rotationCursor = ? WHERE id = 1", arguments: [last["id"] as Int64])
        return rows.count
    }
}

extension SealedColumns {
    /// Re-seals the next `limit` rows after `after` (nil: from the start). Returns the last
    /// row's key (nil when no row was left) and how many values it sealed again.
    func reseal(in db: Database, after: [DatabaseValue]?, keys: DataKeyResealing, limit: Int) throws -> (last: [DatabaseValue]?, resealed: Int) {
        let keyList = key.joined(separator: ", ")
        let condition = after == nil ? "" : "WHERE (\(keyList)) > (\(key.map { _ in "?" }.joined(separator: ", ")))"
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM \(table) \(condition) ORDER BY \(keyList) LIMIT ?",
            arguments: StatementArguments(after ?? []) + [limit])
        guard let last = rows.last else { return (nil, 0) }
        var nonces = StoreCipher.Nonces()
        var resealed = 0
        for row in rows {
            let label = self.label(labelColumns.map { row[$0] as String })
            var changes: [String: DatabaseValue] = [:]
            for column in columns {
                // Named only in an error, so made only for one.
                func what() -> String { "\(column) of \(table) \(key.map { "\(row[$0] as DatabaseValue)" }.joined(separator: " "))" }
                // Copies of field values are kept as bytes (``SealedFields``), read as their text.
                let keptAsBytes = SealedFields.columns.contains("\(table).\(column)")
                let stored: String = keptAsBytes ? try SealedFields.text(row[column], what: what()) : row[column]
                guard let resealed = try keys.resealed(stored, of: self, label: label, what: what(), nonces: &nonces) else { continue }
                changes[column] = keptAsBytes ? StoreCipher.sealedBytes(of: resealed).map { Data($0).databaseValue } ?? resealed.databaseValue : resealed.databaseValue
            }
            guard !changes.isEmpty else { continue }
            let columns = changes.keys.sorted()
            try db.execute(
                sql: "UPDATE \(table) SET \(columns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE \(key.map { "\($0) = ?" }.joined(separator: " AND "))",
                arguments: StatementArguments(columns.map { changes[$0]! }) + StatementArguments(key.map { row[$0] as DatabaseValue }))
            resealed += 1
        }
        return (key.map { last[$0] as DatabaseValue }, resealed)
    }
}
