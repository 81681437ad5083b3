import Crypto
import Foundation
import Logging
import PostgresNIO
import StagelinkEngine
import StagelinkStore

/// Encryption at rest on PostgreSQL, as on SQLite (docs/security.md#encryption-at-rest): the data
/// key, wrapped by the key-encryption key (`encryption.keyFile`), lives in `store_key`; payloads,
/// field states, lineage and conflict values are sealed with it, content hashes are keyed and the
/// person index is blind, all through the SQLite store's own ``StoreSealing`` and ``StoreCipher``,
/// so that the same key file opens a store copied from one database to the other.
extension PostgresStore: EncryptedStore {
    /// Whether payloads and values are sealed.
    public var isEncrypted: Bool { sealing.isEncrypted }

    /// The cipher of the store's data key, unwrapped with `key`; nil for a store without one. The
    /// first time a store is opened with a key, a data key is made, when the store holds nothing
    /// yet; a store that already holds rows in the clear is refused (``PostgresStoreError/clearRows(location:)``).
    static func unlock(client: PostgresClient, location: PostgresLocation, key: StoreKey?, logger: Logger) async throws -> StoreCipher? {
        let store = location.description
        if let stored = try await storedKey(client: client, logger: logger) {
            guard let key else { throw StoreError.keyRequired(path: store) }
            return try cipher(stored, key: key, store: store)
        }
        guard let key else { return nil }
        return try await makeDataKey(client: client, store: store, key: key, logger: logger)
    }

    /// Makes the data key of a store that holds nothing yet, wrapped by `key`, in one transaction.
    private static func makeDataKey(client: PostgresClient, store: String, key: StoreKey, logger: Logger) async throws -> StoreCipher {
        try await client.withConnection { connection in
            try await connection.inTransaction(logger: logger) { connection in
                // One process makes the data key; another opening the store at the same moment waits
                // here and then finds it.
                try await connection.run("LOCK TABLE store_key IN EXCLUSIVE MODE", logger: logger)
                if let stored = try await storedKey(connection: connection, logger: logger) { return try cipher(stored, key: key, store: store) }
                let holding = try await connection.rows(
                    """
                    SELECT (SELECT count(*) FROM staged_row) + (SELECT count(*) FROM record_state) + (SELECT count(*) FROM record_write)
                        + (SELECT count(*) FROM conflict)
                    """, logger: logger
                ).decode(Int64.self).collect().first ?? 0
                guard holding == 0 else { throw PostgresStoreError.clearRows(location: store) }
                let dataKey = SymmetricKey(size: .bits256)
                let made = StoreCipher(dataKey: dataKey)
                let now = Date().timeIntervalSince1970
                try await connection.run(
                    """
                    INSERT INTO store_key (id, wrappedKey, keyID, dataKeyID, createdAt, rewrappedAt)
                    VALUES (1, \(try key.wrap(dataKey)), \(key.id), \(made.dataKeyID), \(now), \(now))
                    """, logger: logger)
                try await connection.run(
                    "INSERT INTO store_key_audit (at, actor, event, keyID) VALUES (\(now), 'system', 'encrypted', \(key.id))", logger: logger)
                return made
            }
        }
    }

    /// `store_key`'s one row: the wrapped data key, the fingerprint of the key that wrapped it, and
    /// the data key a rotation is replacing.
    private struct StoredKey {
        var wrappedKey: Data
        var keyID: String
        var previousWrappedKey: Data?
    }

    private static let storedKeyQuery: PostgresQuery = "SELECT wrappedKey, keyID, previousWrappedKey FROM store_key WHERE id = 1"

    private static func storedKey(client: PostgresClient, logger: Logger) async throws -> StoredKey? {
        try await client.query(storedKeyQuery, logger: logger).decode((Data, String, Data?).self).collect().first.map(StoredKey.init)
    }

    private static func storedKey(connection: PostgresConnection, logger: Logger) async throws -> StoredKey? {
        try await connection.rows(storedKeyQuery, logger: logger).decode((Data, String, Data?).self).collect().first.map(StoredKey.init)
    }

    /// The cipher of a stored data key; halfway through a data-key rotation, values sealed by
    /// either key open.
    private static func cipher(_ stored: StoredKey, key: StoreKey, store: String) throws -> StoreCipher {
        let previous = try stored.previousWrappedKey.map { try key.unwrap($0, expectedKeyID: stored.keyID, store: store) }
        return StoreCipher(dataKey: try key.unwrap(stored.wrappedKey, expectedKeyID: stored.keyID, store: store), previous: previous)
    }

    /// Refuses a write by a process whose data key is not the store's (one without a key into a
    /// store another process encrypted since it opened would mix clear and sealed values), and
    /// every write while a data-key rotation re-seals: the SQLite store's check, in the write's
    /// own transaction.
    func checkDataKey(in connection: PostgresConnection) async throws {
        let row = try await connection.rows("SELECT dataKeyID, previousDataKeyID FROM store_key WHERE id = 1", logger: logger)
            .decode((String, String?).self).collect().first
        try checkDataKey(row?.0, previous: row?.1)
    }

    /// The same check on `store_key` as a statement read it: its data key (nil: the store has no
    /// key) and the one a rotation is replacing.
    func checkDataKey(_ dataKeyID: String?, previous: String?) throws {
        if let previous {
            throw StoreError.rotating(path: location.description, running: previous == sealing.cipher?.dataKeyID)
        }
        guard dataKeyID == sealing.cipher?.dataKeyID else {
            guard let key else { throw StoreError.keyRequired(path: location.description) }
            throw StoreError.wrongKey(path: location.description, keyFile: key.file, keyID: key.id, expectedKeyID: "another data key")
        }
    }

    public func encryptionStanding() async throws -> StoreEncryptionStanding? {
        try await client.query("SELECT keyID, createdAt, rewrappedAt, previousDataKeyID FROM store_key WHERE id = 1", logger: logger)
            .decode((String, Double, Double, String?).self).collect().first.map { keyID, createdAt, rewrappedAt, previous in
                StoreEncryptionStanding(
                    keyID: keyID, createdAt: Date(timeIntervalSince1970: createdAt), rewrappedAt: Date(timeIntervalSince1970: rewrappedAt),
                    rotating: previous != nil)
            }
    }

    public func keyEvents(limit: Int) async throws -> [StoreKeyEvent] {
        try await client.query(
            "SELECT id, at, actor, event, keyID, previousKeyID FROM store_key_audit ORDER BY id DESC LIMIT \(limit)", logger: logger
        ).decode((Int64, Double, String, String, String, String?).self).collect().map { id, at, actor, event, keyID, previous in
            StoreKeyEvent(id: id, at: Date(timeIntervalSince1970: at), actor: Actor(actor), event: event, keyID: keyID, previousKeyID: previous)
        }
    }

    /// Wraps the data key with `newKey` instead of the key the store was opened with, in one
    /// transaction with the row locked: nothing else is rewritten (payloads stay sealed by the same
    /// data key), so processes that already hold the data key go on undisturbed, and the next
    /// process to open the store needs `newKey`. Recorded in `store_key_audit`.
    public func rewrapDataKey(with newKey: StoreKey, actor: Actor) async throws {
        guard let key else { throw StoreError.keyRequired(path: location.description) }
        let store = location.description
        try await transaction(fenced: false) { connection in
            let rows = try await connection.rows("SELECT wrappedKey, keyID FROM store_key WHERE id = 1 FOR UPDATE", logger: logger)
                .decode((Data, String).self).collect()
            guard let (wrapped, keyID) = rows.first else {
                throw StoreError.unreadable("the store has no data key to wrap (it was never opened with a key)")
            }
            let dataKey = try key.unwrap(wrapped, expectedKeyID: keyID, store: store)
            let now = Date().timeIntervalSince1970
            try await connection.run(
                "UPDATE store_key SET wrappedKey = \(try newKey.wrap(dataKey)), keyID = \(newKey.id), rewrappedAt = \(now) WHERE id = 1", logger: logger)
            try await connection.run(
                """
                INSERT INTO store_key_audit (at, actor, event, keyID, previousKeyID)
                VALUES (\(now), \(actor.description), 'rewrapped', \(newKey.id), \(keyID))
                """, logger: logger)
        }
    }
}
