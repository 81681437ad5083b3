import Crypto
import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

/// Rotating the data key itself (`stagelink store rekey --data-key`) on PostgreSQL, as on SQLite
/// (`SQLiteStore+KeyRotation.swift`) and with its ``DataKeyResealing``: a new data key is made
/// and every sealed value, keyed content hash and blind index token is made again with it, in
/// batches of one transaction each. Resumable the same way: the first transaction keeps the old
/// data key beside the new one in `store_key` (wrapped by the same key file), so a store
/// interrupted halfway opens and reads, takes no writes (``StoreError/rotating(path:running:)``,
/// from ``checkDataKey(in:)``), and a second run finishes where the first stopped.
///
/// PostgreSQL keeps a row's old version until `VACUUM` reclaims it (there is no `secure_delete`):
/// the rotation vacuums the tables it rewrote once it finished, so the old ciphertexts' space is
/// free for reuse; a file-level erasure is the storage's (docs/security.md, "On PostgreSQL").
extension PostgresStore {
    public func rotateDataKey(actor: Actor, batchSize: Int = 500, afterBatch: @Sendable (Int) throws -> Void = { _ in }) async throws -> DataKeyRotation {
        guard let key else { throw StoreError.keyRequired(path: location.description) }
        let (keys, resumed) = try await beginRotation(key: key, actor: actor)
        var rotation = DataKeyRotation(previousDataKeyID: keys.old.dataKeyID, dataKeyID: keys.new.dataKeyID, resumed: resumed)
        var batches = 0
        // Staged rows, in id order, so that a child's parent is re-indexed before it.
        while true {
            let count = try await transaction(fenced: false) { connection in try await rotateRows(in: connection, keys: keys, limit: batchSize) }
            batches += 1
            try afterBatch(batches)
            guard count > 0 else { break }
            rotation.rows += count
        }
        for table in SealedColumns.all {
            var after: [String]? = nil
            while true {
                let (last, resealed) = try await transaction(fenced: false) { [after] connection in
                    try await reseal(table, in: connection, after: after, keys: keys, limit: batchSize)
                }
                batches += 1
                try afterBatch(batches)
                guard let last else { break }
                rotation.values += resealed
                after = last
            }
        }
        try await transaction(fenced: false) { connection in
            try await connection.run(
                "UPDATE store_key SET previousWrappedKey = NULL, previousDataKeyID = NULL, rotationCursor = NULL WHERE id = 1", logger: logger)
            try await connection.run(
                """
                INSERT INTO store_key_audit (at, actor, event, keyID, previousKeyID)
                VALUES (\(Date().timeIntervalSince1970), \(actor.description), 'data key rotated', \(keys.new.dataKeyID), \(keys.old.dataKeyID))
                """, logger: logger)
        }
        try await client.withConnection { connection in
            try await connection.run("VACUUM staged_payload, staged_row, person_search, record_state, record_write, conflict", logger: logger)
        }
        return rotation
    }

    /// Makes the new data key and keeps the old one beside it, in one transaction with the key's
    /// row locked; or, when a rotation was interrupted, unwraps the two it left.
    private func beginRotation(key: StoreKey, actor: Actor) async throws -> (keys: DataKeyResealing, resumed: Bool) {
        let store = location.description
        return try await transaction(fenced: false) { connection in
            let rows = try await connection.rows("SELECT wrappedKey, keyID, previousWrappedKey FROM store_key WHERE id = 1 FOR UPDATE", logger: logger)
                .decode((Data, String, Data?).self).collect()
            guard let (wrapped, keyID, previous) = rows.first else {
                throw StoreError.unreadable("the store has no data key to rotate (it was never opened with a key)")
            }
            let current = try key.unwrap(wrapped, expectedKeyID: keyID, store: store)
            if let previous {
                let old = try key.unwrap(previous, expectedKeyID: keyID, store: store)
                return (DataKeyResealing(old: StoreCipher(dataKey: old), new: StoreCipher(dataKey: current)), true)
            }
            let fresh = SymmetricKey(size: .bits256)
            let keys = DataKeyResealing(old: StoreCipher(dataKey: current), new: StoreCipher(dataKey: fresh))
            try await connection.run(
                """
                UPDATE store_key SET previousWrappedKey = wrappedKey, previousDataKeyID = dataKeyID, wrappedKey = \(try key.wrap(fresh)),
                    dataKeyID = \(keys.new.dataKeyID), rotationCursor = 0 WHERE id = 1
                """, logger: logger)
            try await connection.run(
                """
                INSERT INTO store_key_audit (at, actor, event, keyID, previousKeyID)
                VALUES (\(Date().timeIntervalSince1970), \(actor.description), 'data key rotating', \(keys.new.dataKeyID), \(keys.old.dataKeyID))
                """, logger: logger)
            return (keys, false)
        }
    }

    /// Re-makes the next `limit` staged rows after the cursor (``DataKeyResealing/remade(rowID:system:resourceType:sourceID:contentHash:sealed:nonces:)``):
    /// hashes and payloads in one statement each, then each indexed row's blind document in id
    /// order, a child's with its parent's newest document before it. Returns how many rows it read.
    private func rotateRows(in connection: PostgresConnection, keys: DataKeyResealing, limit: Int) async throws -> Int {
        let cursor = try await connection.rows("SELECT rotationCursor FROM store_key WHERE id = 1 FOR UPDATE", logger: logger)
            .decode(Int64?.self).collect().first.flatMap { $0 } ?? 0
        let rows = try await connection.rows(
            """
            SELECT staged_row.id, system, resourceType, sourceID, contentHash, staged_payload.payload, person_search.rowID IS NOT NULL
            FROM staged_row LEFT JOIN staged_payload ON staged_payload.rowID = staged_row.id
                LEFT JOIN person_search ON person_search.rowID = staged_row.id
            WHERE staged_row.id > \(cursor) ORDER BY staged_row.id LIMIT \(limit)
            """, logger: logger
        ).decode((Int64, String, String, String, String, ByteBuffer?, Bool).self).collect()
        guard let last = rows.last else { return 0 }
        var nonces = StoreCipher.Nonces()
        var ids: [Int64] = [], hashes: [String] = [], payloads: [ByteBuffer] = []
        var documents: [(id: Int64, document: PersonDocument)] = []
        for (id, system, resourceType, sourceID, contentHash, payload, indexed) in rows {
            guard
                let remade = try keys.remade(
                    rowID: id, system: system, resourceType: resourceType, sourceID: sourceID, contentHash: contentHash,
                    sealed: payload.map { Array($0.readableBytesView) } ?? [], nonces: &nonces)
            else { continue }
            ids.append(id)
            hashes.append(remade.hash)
            payloads.append(ByteBuffer(bytes: remade.payload))
            if indexed { documents.append((id, remade.document)) }
        }
        if !ids.isEmpty {
            try await connection.run(
                """
                UPDATE staged_row SET contentHash = remade.hash FROM unnest(\(ids)::int8[], \(hashes)::text[]) AS remade(id, hash)
                WHERE staged_row.id = remade.id
                """, logger: logger)
            try await connection.run(
                """
                UPDATE staged_payload SET payload = remade.payload FROM unnest(\(ids)::int8[], \(payloads)::bytea[]) AS remade(id, payload)
                WHERE staged_payload.rowID = remade.id
                """, logger: logger)
        }
        for (id, document) in documents {
            var found: String?
            if let parent = document.parent {
                // The parent's newest row before this one, as when the row was staged.
                found = try await connection.rows(
                    """
                    SELECT identifiers FROM person_search WHERE rowID = (
                        SELECT MAX(id) FROM staged_row
                        WHERE system = \(parent.system.rawValue) AND resourceType = \(parent.resourceType) AND sourceID = \(parent.sourceID) AND id < \(id))
                    """, logger: logger
                ).decode(String.self).collect().first
            }
            let identifiers = StoredText.storable(keys.identifiers(of: document, found: found))
            let words = PersonWords.of(PersonDocument(identifiers: identifiers))
            try await connection.run(
                "UPDATE person_search SET name = '', identifiers = \(identifiers), birthDate = '', words = string_to_array(\(words), ' ') WHERE rowID = \(id)",
                logger: logger)
        }
        try await connection.run("UPDATE store_key SET rotationCursor = \(last.0) WHERE id = 1", logger: logger)
        return rows.count
    }

    /// Re-seals the values of the next `limit` rows of `table` after the key `after` (nil: from the
    /// start). Returns the last row's key (nil when no row was left) and how many rows it sealed again.
    private func reseal(
        _ table: SealedColumns, in connection: PostgresConnection, after: [String]?, keys: DataKeyResealing, limit: Int
    ) async throws -> (last: [String]?, resealed: Int) {
        // The table's key as text, compared in the key's own type; names from SealedColumns only.
        let cast = table.integerKey ? "::int8" : "::text"
        let keyList = table.key.joined(separator: ", ")
        let keyText = table.key.map { "\($0)::text" }.joined(separator: ", ")
        let condition = after == nil ? "" : "WHERE (\(keyList)) > (\(table.key.indices.map { "($1::text[])[\($0 + 1)]\(cast)" }.joined(separator: ", ")))"
        var binds = PostgresBindings()
        binds.append(after ?? [])
        let columns = table.labelColumns + table.columns
        let query = PostgresQuery(
            unsafeSQL: "SELECT ARRAY[\(keyText)], ARRAY[\(columns.joined(separator: ", "))] FROM \(table.table) \(condition) ORDER BY \(keyList) LIMIT \(limit)",
            binds: binds)
        let rows = try await connection.rows(query, logger: logger).decode(([String], [String]).self).collect()
        guard let last = rows.last else { return (nil, 0) }
        var nonces = StoreCipher.Nonces()
        var resealed = 0
        for (key, values) in rows {
            let label = table.label(Array(values.prefix(table.labelColumns.count)))
            var changes: [(column: String, value: String)] = []
            for (column, stored) in zip(table.columns, values.dropFirst(table.labelColumns.count)) {
                let what = "\(column) of \(table.table) \(key.joined(separator: " "))"
                if let value = try keys.resealed(stored, of: table, label: label, what: what, nonces: &nonces) { changes.append((column, value)) }
            }
            guard !changes.isEmpty else { continue }
            var update = PostgresBindings()
            for change in changes { update.append(change.value) }
            for part in key { update.append(part) }
            let assignments = changes.indices.map { "\(changes[$0].column) = $\($0 + 1)" }.joined(separator: ", ")
            let match = table.key.indices.map { "\(table.key[$0]) = $\(changes.count + $0 + 1)\(cast)" }.joined(separator: " AND ")
            try await connection.run(PostgresQuery(unsafeSQL: "UPDATE \(table.table) SET \(assignments) WHERE \(match)", binds: update), logger: logger)
            resealed += 1
        }
        return (last.0, resealed)
    }
}
