import Crypto
import Foundation
import StagelinkEngine

/// A store that can keep its payloads and values sealed (``StoreCipher``): what `stagelink store
/// rekey` and `stagelink store info` need of it, on SQLite and on PostgreSQL alike.
public protocol EncryptedStore: Sendable {
    /// The key-encryption key the store was opened with (`encryption.keyFile`), if any.
    var key: StoreKey? { get }
    /// Whether payloads and values are sealed.
    var isEncrypted: Bool { get }
    /// The store's encryption, or nil for a store kept in the clear.
    func encryptionStanding() async throws -> StoreEncryptionStanding?
    /// The key events, newest first.
    func keyEvents(limit: Int) async throws -> [StoreKeyEvent]
    /// Wraps the data key with `newKey` instead of the key the store was opened with, in one
    /// transaction (nothing else is rewritten); recorded in `store_key_audit`.
    func rewrapDataKey(with newKey: StoreKey, actor: Actor) async throws
    /// Replaces the data key itself and seals everything again with the new one, in batches of
    /// `batchSize` rows of one transaction each, resumable (`stagelink store rekey --data-key`;
    /// docs/security.md). `afterBatch` is called after each committed batch with the number of
    /// batches so far: a test stops a rotation there, as a crash would.
    func rotateDataKey(actor: Actor, batchSize: Int, afterBatch: @Sendable (Int) throws -> Void) async throws -> DataKeyRotation
}

/// Where a store's encryption stands, for `stagelink store info`.
public struct StoreEncryptionStanding: Sendable, Hashable {
    /// The fingerprint of the key-encryption key that wraps the data key now.
    public var keyID: String
    public var createdAt: Date
    /// When the data key was last wrapped by another key (the creation time until a rekey).
    public var rewrappedAt: Date
    /// A data-key rotation began and has not finished (`stagelink store rekey --data-key`).
    public var rotating: Bool

    package init(keyID: String, createdAt: Date, rewrappedAt: Date, rotating: Bool) {
        self.keyID = keyID
        self.createdAt = createdAt
        self.rewrappedAt = rewrappedAt
        self.rotating = rotating
    }
}

/// One entry of `store_key_audit`: the store encrypted, or its data key wrapped by another key.
public struct StoreKeyEvent: Sendable, Hashable {
    public var id: Int64
    public var at: Date
    public var actor: Actor
    /// `encrypted`, `rewrapped`, `data key rotating` or `data key rotated`.
    public var event: String
    public var keyID: String
    public var previousKeyID: String?

    package init(id: Int64, at: Date, actor: Actor, event: String, keyID: String, previousKeyID: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.event = event
        self.keyID = keyID
        self.previousKeyID = previousKeyID
    }
}

extension SQLiteStore: EncryptedStore {}

extension StoreKey {
    /// A data key wrapped by this key (AES key wrap, RFC 3394), as `store_key.wrappedKey` holds it.
    package func wrap(_ dataKey: SymmetricKey) throws -> Data {
        try AES.KeyWrap.wrap(dataKey, using: key)
    }

    /// The data key `wrapped` holds; ``StoreError/wrongKey(path:keyFile:keyID:expectedKeyID:)``
    /// naming `store` and this key's file when this key did not wrap it (key wrap authenticates).
    package func unwrap(_ wrapped: Data, expectedKeyID: String, store: String) throws -> SymmetricKey {
        do {
            return try AES.KeyWrap.unwrap(wrapped, using: key)
        } catch {
            throw StoreError.wrongKey(path: store, keyFile: file, keyID: id, expectedKeyID: expectedKeyID)
        }
    }
}
