import Crypto
import Foundation
import StagelinkEngine

/// What an encrypted store does with its data key: seals payloads and the copies of field values
/// (AES-256-GCM), and turns content hashes into keyed hashes (HMAC-SHA-256) that reveal nothing
/// about the content to someone without the key.
///
/// Three keys are derived from the one data key with HKDF-SHA-256, one per use, so that no key
/// serves two purposes. Sealed bytes are a version byte (1), GCM's 12-byte nonce, the ciphertext
/// and its 16-byte tag; each use authenticates a label of its own (and a payload its row's
/// content hash), so that a sealed value moved to another column or row does not open.
///
/// For example:
///
/// ```swift
/// let cipher = StoreCipher(dataKey: SymmetricKey(size: .bits256))
/// let sealed = try cipher.sealPayload(Array("{}".utf8), contentHash: "hmac-sha256:…")
/// ```
struct StoreCipher: Sendable {
    private let encryptionKey: SymmetricKey
    private let hashKey: SymmetricKey
    private let nonceKey: SymmetricKey
    /// Identifies the data key (not the key-encryption key): two processes sealing with different
    /// data keys would make a store unreadable, so every write checks it.
    let dataKeyID: String

    /// The prefix of a keyed content hash, and of a sealed value stored as text.
    static let keyedHashPrefix = "hmac-sha256:"
    static let sealedTextPrefix = "enc1:"
    private static let version: UInt8 = 1

    init(dataKey: SymmetricKey) {
        func derive(_ info: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: dataKey, info: Array(info.utf8), outputByteCount: 32)
        }
        encryptionKey = derive("stagelink store: AES-GCM encryption")
        hashKey = derive("stagelink store: keyed content hash")
        nonceKey = derive("stagelink store: synthetic nonces")
        dataKeyID = StoreKey.fingerprint(dataKey, label: "stagelink data key")
    }

    /// The keyed hash of a content hash (the lowercase hex SHA-256 of a payload): equal contents
    /// still have equal keyed hashes, so deduplication works as before.
    func keyedHash(_ contentHash: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(contentHash.utf8), using: hashKey)
        return Self.keyedHashPrefix + ContentHash.hex(Array(mac))
    }

    /// A payload's bytes, sealed and bound to its row's (keyed) content hash. An empty payload
    /// (purged by retention) stays empty.
    func sealPayload(_ payload: [UInt8], contentHash: String) throws -> [UInt8] {
        guard !payload.isEmpty else { return [] }
        return try seal(payload, label: "payload " + contentHash, nonce: AES.GCM.Nonce())
    }

    func openPayload(_ sealed: [UInt8], contentHash: String, row: Int64) throws -> [UInt8] {
        guard !sealed.isEmpty else { return [] }
        do {
            return try open(sealed, label: "payload " + contentHash)
        } catch {
            throw StoreError.unreadable("the payload of row \(row) does not open with this store's data key (\(error))")
        }
    }

    /// A text value (a copy of field values), sealed with a random nonce, as text: `enc1:` and
    /// base64.
    func sealText(_ text: [UInt8], label: String) throws -> String {
        Self.sealedTextPrefix + Data(try seal(text, label: label, nonce: AES.GCM.Nonce())).base64EncodedString()
    }

    /// A text value sealed deterministically (a synthetic nonce from an HMAC of the value): equal
    /// values seal equally, so that a unique index over them still finds the same conflict. It
    /// reveals only whether two sealed values are equal.
    func sealTextDeterministically(_ text: String, label: String) throws -> String {
        let bytes = Array(text.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(label.utf8) + [0] + bytes, using: nonceKey)
        let nonce = try AES.GCM.Nonce(data: Array(mac).prefix(12))
        return Self.sealedTextPrefix + Data(try seal(bytes, label: label, nonce: nonce)).base64EncodedString()
    }

    /// The text a sealed value holds; `what` names the value in the error when it does not open.
    func openText(_ stored: String, label: String, what: @autoclosure () -> String) throws -> String {
        guard stored.hasPrefix(Self.sealedTextPrefix) else { return stored }
        guard let sealed = Data(base64Encoded: String(stored.dropFirst(Self.sealedTextPrefix.count))) else {
            throw StoreError.unreadable("\(what()) is not sealed text")
        }
        do {
            return String(decoding: try open(Array(sealed), label: label), as: UTF8.self)
        } catch {
            throw StoreError.unreadable("\(what()) does not open with this store's data key (\(error))")
        }
    }

    private func seal(_ plaintext: [UInt8], label: String, nonce: AES.GCM.Nonce) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: encryptionKey, nonce: nonce, authenticating: Array(label.utf8))
        var sealed = [Self.version]
        sealed.reserveCapacity(1 + 12 + plaintext.count + 16)
        sealed.append(contentsOf: box.nonce)
        sealed.append(contentsOf: box.ciphertext)
        sealed.append(contentsOf: box.tag)
        return sealed
    }

    private func open(_ sealed: [UInt8], label: String) throws -> [UInt8] {
        guard sealed.count >= 1 + 12 + 16, sealed[0] == Self.version else { throw CipherProblem.notSealed }
        let box = try AES.GCM.SealedBox(combined: sealed[1...])
        return Array(try AES.GCM.open(box, using: encryptionKey, authenticating: Array(label.utf8)))
    }

    private enum CipherProblem: Error, CustomStringConvertible {
        case notSealed
        var description: String { "not a sealed value of this format" }
    }
}
