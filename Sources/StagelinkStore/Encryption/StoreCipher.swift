import Crypto
import Foundation
import StagelinkEngine

#if canImport(Glibc)
import Glibc
#endif

/// What an encrypted store does with its data key: seals payloads and the copies of field values
/// (AES-256-GCM), and turns content hashes into keyed hashes (HMAC-SHA-256) that reveal nothing
/// about the content to someone without the key.
///
/// Four keys are derived from the one data key with HKDF-SHA-256, one per use, so that no key
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
package struct StoreCipher: Sendable {
    private let encryptionKey: SymmetricKey
    /// The sealing key of the data key being replaced, while a rotation re-seals
    /// (`stagelink store rekey --data-key`): what does not open with the new key is opened with it.
    private let previousEncryptionKey: SymmetricKey?
    /// HMACs with their keys already processed: each use copies one (copy on write) and hashes
    /// only its message, which halves the cost of a keyed hash of a short text.
    private let hashMAC: HMAC<SHA256>
    private let nonceMAC: HMAC<SHA256>
    private let blindMAC: HMAC<SHA256>
    /// Identifies the data key (not the key-encryption key): two processes sealing with different
    /// data keys would make a store unreadable, so every write checks it.
    package let dataKeyID: String

    /// The prefix of a keyed content hash, and of a sealed value stored as text.
    package static let keyedHashPrefix = "hmac-sha256:"
    package static let sealedTextPrefix = "enc1:"
    private static let version: UInt8 = 1

    /// - Parameter previous: the data key a rotation is replacing, while it re-seals.
    package init(dataKey: SymmetricKey, previous: SymmetricKey? = nil) {
        func derive(_ info: String, from key: SymmetricKey = dataKey) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array(info.utf8), outputByteCount: 32)
        }
        encryptionKey = derive("stagelink store: AES-GCM encryption")
        previousEncryptionKey = previous.map { derive("stagelink store: AES-GCM encryption", from: $0) }
        hashMAC = HMAC(key: derive("stagelink store: keyed content hash"))
        nonceMAC = HMAC(key: derive("stagelink store: synthetic nonces"))
        blindMAC = HMAC(key: derive("stagelink store: blind person index"))
        dataKeyID = StoreKey.fingerprint(dataKey, label: "stagelink data key")
    }

    /// The keyed hash of a content hash (the lowercase hex SHA-256 of a payload): equal contents
    /// still have equal keyed hashes, so deduplication works as before.
    package func keyedHash(_ contentHash: String) -> String {
        var mac = hashMAC
        var text = contentHash
        text.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes { ContentHash.hex($0, prefix: Self.keyedHashPrefix) }
    }

    /// The blind token of one folded word of the person index (``PersonIndex/words(_:)``): the first
    /// 8 bytes of its HMAC, in hex. The same word always gives the same token, so that a search
    /// finds it; without the key a token says nothing of the word.
    package func blindToken(_ word: String) -> String {
        var token: [UInt8] = []
        appendBlindToken(of: word, to: &token)
        return String(decoding: token, as: UTF8.self)
    }

    /// ``blindToken(_:)``'s 16 hex digits appended to `bytes` (UTF-8), with no string between.
    package func appendBlindToken(of word: String, to bytes: inout [UInt8]) {
        var text = word
        text.withUTF8 { appendBlindToken(ofUTF8: UnsafeRawBufferPointer($0), to: &bytes) }
    }

    /// ``blindToken(_:)`` of a folded word given as its UTF-8 bytes.
    package func appendBlindToken(ofUTF8 word: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
        var mac = blindMAC
        mac.update(data: word)
        mac.finalize().withUnsafeBytes { ContentHash.appendHex(UnsafeRawBufferPointer(rebasing: $0.prefix(8)), to: &bytes) }
    }

    /// A payload's bytes, sealed and bound to its row's (keyed) content hash. An empty payload
    /// (purged by retention) stays empty.
    package func sealPayload(_ payload: [UInt8], contentHash: String, nonces: inout Nonces) throws -> [UInt8] {
        guard !payload.isEmpty else { return [] }
        return try seal(payload, label: "payload " + contentHash, nonce: nonces.next())
    }

    package func openPayload(_ sealed: [UInt8], contentHash: String, row: Int64) throws -> [UInt8] {
        guard !sealed.isEmpty else { return [] }
        do {
            return try open(sealed, label: "payload " + contentHash)
        } catch {
            throw StoreError.unreadable("the payload of row \(row) does not open with this store's data key (\(error))")
        }
    }

    /// A text value (a copy of field values), sealed with a random nonce, as text: `enc1:` and
    /// base64.
    package func sealText(_ text: [UInt8], label: String, nonces: inout Nonces) throws -> String {
        Self.sealedTextPrefix + (try sealedData(text, label: label, nonce: nonces.next())).base64EncodedString()
    }

    /// A text value (a copy of field values) sealed with a random nonce, as bytes: the version,
    /// the nonce, the ciphertext and its tag, the bytes ``sealText(_:label:nonces:)`` writes as
    /// base64. The SQLite store keeps them so, a BLOB about a third smaller than their text, which
    /// made an encrypted store's linking a third slower than a clear one's (docs/security.md).
    package func sealValue(_ text: [UInt8], label: String, nonces: inout Nonces) throws -> [UInt8] {
        try seal(text, label: label, nonce: nonces.next())
    }

    /// The `enc1:` text of sealed bytes (``sealValue(_:label:nonces:)``): how a value kept as bytes
    /// is read, and copied to PostgreSQL, which keeps sealed values as text.
    package static func sealedText(of sealed: [UInt8]) -> String {
        sealedTextPrefix + Data(sealed).base64EncodedString()
    }

    /// The sealed bytes an `enc1:` text holds; nil for any other text (a clear value).
    package static func sealedBytes(of text: String) -> [UInt8]? {
        guard text.hasPrefix(sealedTextPrefix), let data = Data(base64Encoded: String(text.dropFirst(sealedTextPrefix.count))) else { return nil }
        return [UInt8](data)
    }

    /// A text value sealed deterministically (a synthetic nonce from an HMAC of the value): equal
    /// values seal equally, so that a unique index over them still finds the same conflict. It
    /// reveals only whether two sealed values are equal.
    package func sealTextDeterministically(_ text: String, label: String) throws -> String {
        let bytes = Array(text.utf8)
        var mac = nonceMAC
        mac.update(data: Array(label.utf8) + [0] + bytes)
        let nonce = try AES.GCM.Nonce(data: Array(mac.finalize()).prefix(12))
        return Self.sealedTextPrefix + (try sealedData(bytes, label: label, nonce: nonce)).base64EncodedString()
    }

    /// The text a sealed value holds; `what` names the value in the error when it does not open.
    package func openText(_ stored: String, label: String, what: @autoclosure () -> String) throws -> String {
        guard stored.hasPrefix(Self.sealedTextPrefix) else { return stored }
        guard let sealed = Self.sealedBytes(of: stored) else { throw StoreError.unreadable("\(what()) is not sealed text") }
        return try openValue(sealed, label: label, what: what())
    }

    /// The text sealed bytes hold (``sealValue(_:label:nonces:)``); `what` names the value in the
    /// error when they do not open.
    package func openValue(_ sealed: [UInt8], label: String, what: @autoclosure () -> String) throws -> String {
        do {
            return String(decoding: try open(sealed, label: label), as: UTF8.self)
        } catch {
            throw StoreError.unreadable("\(what()) does not open with this store's data key (\(error))")
        }
    }

    private func seal(_ plaintext: [UInt8], label: String, nonce: AES.GCM.Nonce) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: encryptionKey, nonce: nonce, authenticating: Array(label.utf8))
        // A 12-byte nonce always has a combined form: nonce, ciphertext, tag.
        guard let combined = box.combined else { throw CipherProblem.notSealed }
        // One allocation: the version byte, then the box copied in.
        return [UInt8](unsafeUninitializedCapacity: 1 + combined.count) { sealed, count in
            sealed[0] = Self.version
            count = 1 + combined.copyBytes(to: UnsafeMutableBufferPointer(rebasing: sealed[1...]))
        }
    }

    /// The same sealed bytes as ``seal(_:label:nonce:)``, as `Data` for base64: one copy of the box,
    /// not a copy into an array and another into `Data`.
    private func sealedData(_ plaintext: [UInt8], label: String, nonce: AES.GCM.Nonce) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: encryptionKey, nonce: nonce, authenticating: Array(label.utf8))
        guard let combined = box.combined else { throw CipherProblem.notSealed }
        var sealed = Data(capacity: 1 + combined.count)
        sealed.append(Self.version)
        sealed.append(combined)
        return sealed
    }

    private func open(_ sealed: [UInt8], label: String) throws -> [UInt8] {
        guard sealed.count >= 1 + 12 + 16, sealed[0] == Self.version else { throw CipherProblem.notSealed }
        let box = try AES.GCM.SealedBox(combined: sealed[1...])
        do {
            return Array(try AES.GCM.open(box, using: encryptionKey, authenticating: Array(label.utf8)))
        } catch {
            // GCM authenticates: a value sealed by the other key fails, it never opens wrongly.
            guard let previousEncryptionKey else { throw error }
            return Array(try AES.GCM.open(box, using: previousEncryptionKey, authenticating: Array(label.utf8)))
        }
    }

    private enum CipherProblem: Error, CustomStringConvertible {
        case notSealed
        case noRandomness
        var description: String {
            switch self {
            case .notSealed: "not a sealed value of this format"
            case .noRandomness: "the kernel gave no random bytes for a nonce (/dev/urandom)"
            }
        }
    }

    /// Random 96-bit GCM nonces, read from the kernel's random source 100 at a time (one read
    /// instead of one call per value): a page of 500 payloads costs five reads. Random nonces under
    /// one data key stay far below the 2³² values NIST SP 800-38D allows for them.
    package struct Nonces {
        private var buffer = [UInt8](repeating: 0, count: 12 * 100)
        private var offset = 12 * 100

        package init() {}

        /// `/dev/urandom`, opened once per process; -1 when it cannot be (then each nonce comes
        /// from the system's generator, one call each).
        private static let source: Int32 = Glibc.open("/dev/urandom", O_RDONLY | O_CLOEXEC)

        package mutating func next() throws -> AES.GCM.Nonce {
            guard Self.source >= 0 else { return AES.GCM.Nonce() }
            if offset == buffer.count {
                var filled = 0
                while filled < buffer.count {
                    let count = buffer.withUnsafeMutableBytes { read(Self.source, $0.baseAddress! + filled, $0.count - filled) }
                    guard count > 0 else { throw CipherProblem.noRandomness }
                    filled += count
                }
                offset = 0
            }
            defer { offset += 12 }
            return try AES.GCM.Nonce(data: buffer[offset..<(offset + 12)])
        }
    }
}
