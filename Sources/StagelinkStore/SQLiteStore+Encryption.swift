import Crypto
import Foundation
import GRDB
import StagelinkEngine

/// Encryption at rest: the data key, wrapped by the key-encryption key, lives in `store_key`;
/// payloads and the copies of field values are sealed with it (``StoreCipher``).
extension SQLiteStore {
    public typealias EncryptionStanding = StoreEncryptionStanding
    public typealias KeyEvent = StoreKeyEvent

    /// The key events, newest first.
    public func keyEvents(limit: Int) async throws -> [KeyEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM store_key_audit ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                KeyEvent(
                    id: row["id"], at: Date(timeIntervalSince1970: row["at"]), actor: Actor(row["actor"] as String), event: row["event"],
                    keyID: row["keyID"], previousKeyID: row["previousKeyID"])
            }
        }
    }

    /// Whether payloads and values are sealed.
    public var isEncrypted: Bool { cipher != nil }

    /// The store's encryption, or nil for a store kept in the clear.
    public func encryptionStanding() async throws -> EncryptionStanding? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT keyID, createdAt, rewrappedAt, previousDataKeyID FROM store_key WHERE id = 1").map { row in
                EncryptionStanding(
                    keyID: row["keyID"], createdAt: Date(timeIntervalSince1970: row["createdAt"]),
                    rewrappedAt: Date(timeIntervalSince1970: row["rewrappedAt"]), rotating: row["previousDataKeyID"] as String? != nil)
            }
        }
    }

    /// Wraps the data key with `newKey` instead of the key the store was opened with, in one
    /// transaction: nothing else is rewritten (payloads stay sealed by the same data key), so
    /// processes that already hold the data key (a running service) go on undisturbed, and the
    /// next process to open the store needs `newKey`. Recorded in `store_key_audit`.
    public func rewrapDataKey(with newKey: StoreKey, actor: Actor) async throws {
        guard let key else { throw StoreError.keyRequired(path: path) }
        guard access == .readWrite else { throw StoreError.cannotOpen(path: path, reason: "opened read-only; a rekey writes the store") }
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT wrappedKey, keyID FROM store_key WHERE id = 1") else {
                throw StoreError.unreadable("the store has no data key to wrap (it was never opened for writing with a key)")
            }
            let dataKey = try Self.unwrap(row["wrappedKey"], key: key, expectedKeyID: row["keyID"], path: self.path)
            let wrapped = try newKey.wrap(dataKey)
            let now = Date().seconds
            try db.execute(
                sql: "UPDATE store_key SET wrappedKey = ?, keyID = ?, rewrappedAt = ? WHERE id = 1", arguments: [wrapped, newKey.id, now])
            try db.execute(
                sql: "INSERT INTO store_key_audit (at, actor, event, keyID, previousKeyID) VALUES (?, ?, 'rewrapped', ?, ?)",
                arguments: [now, actor.description, newKey.id, row["keyID"] as String])
        }
    }

    /// The cipher of the store's data key, unwrapped with `key`; nil for a store without one. The
    /// first time a store is opened for writing with a key, a data key is made and everything
    /// already stored is sealed with it.
    static func unlock(_ pool: DatabasePool, path: String, key: StoreKey?, access: Access) throws -> StoreCipher? {
        let stored = try pool.read { db in try Row.fetchOne(db, sql: "SELECT wrappedKey, keyID, previousWrappedKey FROM store_key WHERE id = 1") }
        if let stored {
            guard let key else { throw StoreError.keyRequired(path: path) }
            // Halfway through a data-key rotation, values sealed by either key open.
            let previous = try (stored["previousWrappedKey"] as Data?).map { try unwrap($0, key: key, expectedKeyID: stored["keyID"], path: path) }
            return StoreCipher(dataKey: try unwrap(stored["wrappedKey"], key: key, expectedKeyID: stored["keyID"], path: path), previous: previous)
        }
        guard let key, access == .readWrite else { return nil }
        return try pool.writeWithoutTransaction { db in
            // Old values are overwritten in the file, not only unlinked from it.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            defer { try? db.execute(sql: "PRAGMA secure_delete = OFF") }
            var cipher: StoreCipher?
            try db.inTransaction(.immediate) {
                // Another process may have made the data key since the read above.
                if let stored = try Row.fetchOne(db, sql: "SELECT wrappedKey, keyID FROM store_key WHERE id = 1") {
                    cipher = StoreCipher(dataKey: try unwrap(stored["wrappedKey"], key: key, expectedKeyID: stored["keyID"], path: path))
                    return .commit
                }
                let dataKey = SymmetricKey(size: .bits256)
                let made = StoreCipher(dataKey: dataKey)
                let now = Date().seconds
                try db.execute(
                    sql: "INSERT INTO store_key (id, wrappedKey, keyID, dataKeyID, createdAt, rewrappedAt) VALUES (1, ?, ?, ?, ?, ?)",
                    arguments: [try key.wrap(dataKey), key.id, made.dataKeyID, now, now])
                try db.execute(
                    sql: "INSERT INTO store_key_audit (at, actor, event, keyID) VALUES (?, 'system', 'encrypted', ?)", arguments: [now, key.id])
                try sealExisting(in: db, with: made)
                cipher = made
                return .commit
            }
            _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            return cipher
        }
    }

    static func unwrap(_ wrapped: Data, key: StoreKey, expectedKeyID: String, path: String) throws -> SymmetricKey {
        try key.unwrap(wrapped, expectedKeyID: expectedKeyID, store: path)
    }

    /// Seals what a store kept in the clear before it had a key: content hashes become keyed
    /// hashes, payloads and value copies are sealed, each by the same code that seals new ones;
    /// the person index, which holds names and identifiers read from payloads, is blinded (every
    /// word replaced by its keyed token, as ``PersonIndex/blinded(_:with:)`` writes new documents)
    /// and merged, so that the pages of its clear words are freed and overwritten.
    private static func sealExisting(in db: Database, with cipher: StoreCipher) throws {
        func function(_ name: String, _ arguments: Int, _ body: @escaping @Sendable ([DatabaseValue]) throws -> (any DatabaseValueConvertible)?) {
            db.add(function: DatabaseFunction(name, argumentCount: arguments, pure: true, function: body))
        }
        function("stagelink_keyed_hash", 1) { values in cipher.keyedHash(String.fromDatabaseValue(values[0]) ?? "") }
        function("stagelink_seal_payload", 2) { values in
            var nonces = StoreCipher.Nonces()
            return Data(
                try cipher.sealPayload(
                    [UInt8](Data.fromDatabaseValue(values[0]) ?? Data()), contentHash: String.fromDatabaseValue(values[1]) ?? "", nonces: &nonces))
        }
        function("stagelink_seal_fields", 2) { values in
            var nonces = StoreCipher.Nonces()
            return Data(
                try cipher.sealValue(Array((String.fromDatabaseValue(values[0]) ?? "").utf8), label: String.fromDatabaseValue(values[1]) ?? "", nonces: &nonces))
        }
        function("stagelink_blind", 1) { values in PersonIndex.blindText(String.fromDatabaseValue(values[0]) ?? "", with: cipher) }
        function("stagelink_seal_value", 2) { values in
            try cipher.sealTextDeterministically(String.fromDatabaseValue(values[0]) ?? "", label: String.fromDatabaseValue(values[1]) ?? "")
        }
        try db.execute(
            sql: """
                UPDATE staged_row SET contentHash = stagelink_keyed_hash(contentHash);
                UPDATE staged_payload SET payload = stagelink_seal_payload(payload, (SELECT contentHash FROM staged_row WHERE id = rowID));
                UPDATE record_state SET fields = stagelink_seal_fields(fields, \(SealLabel.recordStateSQL));
                UPDATE record_write SET fields = stagelink_seal_fields(fields, \(SealLabel.recordWriteSQL));
                UPDATE conflict SET emrValue = stagelink_seal_value(emrValue, \(SealLabel.conflictSQL)),
                    salesforceValue = stagelink_seal_value(salesforceValue, \(SealLabel.conflictSQL));
                UPDATE person_search SET identifiers = stagelink_blind(name || ' ' || identifiers || ' ' || birthDate), name = '', birthDate = '';
                INSERT INTO person_search (person_search) VALUES ('optimize');
                """)
    }

    /// Refuses a write by a process whose data key is not the store's: one without a key into a
    /// store that another process encrypted since it opened, which would mix clear and sealed
    /// values; and every write while a data-key rotation re-seals (a value sealed by the key being
    /// replaced would be left behind). One read of a one-row table per write transaction.
    func checkDataKey(_ db: Database) throws {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT dataKeyID, previousDataKeyID FROM store_key WHERE id = 1"))
        if let previous: String = row?["previousDataKeyID"] {
            throw StoreError.rotating(path: path, running: previous == cipher?.dataKeyID)
        }
        let stored: String? = row?["dataKeyID"]
        guard stored == cipher?.dataKeyID else {
            guard let key else { throw StoreError.keyRequired(path: path) }
            throw StoreError.wrongKey(path: path, keyFile: key.file, keyID: key.id, expectedKeyID: "another data key")
        }
    }

    // Sealing and opening through the cipher when there is one; the bytes as they are without
    // (``StoreSealing``, which the PostgreSQL store shares).

    var sealing: StoreSealing { StoreSealing(cipher) }

    func sealPayload(_ payload: [UInt8], contentHash: String, nonces: inout StoreCipher.Nonces) throws -> [UInt8] {
        try sealing.sealPayload(payload, contentHash: contentHash, nonces: &nonces)
    }

    func storedHash(_ contentHash: String) -> String { sealing.storedHash(contentHash) }

    /// UTF-8 text (JSON of field values) as it is bound into its column (``SealedFields``): the
    /// sealed bytes as a BLOB, or the text in a clear store.
    func sealedText(_ utf8: [UInt8], label: String, nonces: inout StoreCipher.Nonces) throws -> RawStatement.Value {
        guard let cipher else { return .utf8(utf8) }
        return .blob(try cipher.sealValue(utf8, label: label, nonces: &nonces))
    }

    /// The same, for a statement bound through GRDB.
    func sealedFields(_ utf8: [UInt8], label: String, nonces: inout StoreCipher.Nonces) throws -> DatabaseValue {
        guard let cipher else { return String(decoding: utf8, as: UTF8.self).databaseValue }
        return Data(try cipher.sealValue(utf8, label: label, nonces: &nonces)).databaseValue
    }

    func openText(_ stored: String, label: String, what: @autoclosure () -> String) throws -> String {
        try sealing.openText(stored, label: label, what: what())
    }

    /// A conflict with its two values opened.
    func opened(_ conflict: ConflictRow) throws -> ConflictRow {
        guard cipher != nil, let id = conflict.id else { return conflict }
        var opened = conflict
        (opened.emrValue, opened.salesforceValue) = try sealing.openedConflictValues(
            emr: conflict.emrValue, salesforce: conflict.salesforceValue, id: id, object: conflict.object, recordKey: conflict.recordKey,
            field: conflict.field)
        return opened
    }

    /// A lineage row with its field values opened.
    func opened(_ write: RecordWriteRecord) throws -> RecordWriteRecord { try sealing.opened(write) }

    func sealedValue(_ text: String, label: String) throws -> String { try sealing.sealedValue(text, label: label) }
}

/// The label each sealed value is bound to, in Swift and (for sealing a store's existing values)
/// in SQL over the same columns: a value moved to another record or column does not open.
package enum SealLabel {
    package static func recordState(object: String, recordKey: String) -> String { "record_state \(object) \(recordKey)" }
    package static func recordWrite(object: String, recordKey: String) -> String { "record_write \(object) \(recordKey)" }
    package static func conflict(object: String, recordKey: String, field: String) -> String { "conflict \(object) \(recordKey) \(field)" }

    static let recordStateSQL = "'record_state ' || object || ' ' || recordKey"
    static let recordWriteSQL = "'record_write ' || object || ' ' || recordKey"
    static let conflictSQL = "'conflict ' || object || ' ' || recordKey || ' ' || field"
}
