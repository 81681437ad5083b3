import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The key-encryption key named by `encryption.keyFile`: 32 random bytes, base64 in a file of mode
/// 0600. It never encrypts data itself: it wraps the store's data key (AES key wrap, RFC 3394), so
/// that replacing it (`stagelink store rekey`) rewrites one row, not every payload.
///
/// For example:
///
/// ```swift
/// let key = try StoreKey.generate(at: "/etc/stagelink/store.key")
/// let store = try SQLiteStore(path: "stagelink.sqlite", key: key)
/// ```
public struct StoreKey: Sendable {
    /// The file the key was read from or written to, named in every error about it.
    public let file: String
    package let key: SymmetricKey

    /// A short fingerprint of the key (not the key): the store records the one that wrapped its
    /// data key, so that a wrong key is told apart from a damaged store.
    public var id: String { Self.fingerprint(key, label: "stagelink key-encryption key") }

    package init(file: String, key: SymmetricKey) {
        self.file = file
        self.key = key
    }

    /// Reads the key at `file`. Refused, naming the file, when it is missing, when its group or
    /// others may read it (unlike the API key files, which only warn: this key opens every payload),
    /// or when it does not hold 32 bytes of base64.
    public static func load(file: String) throws(StoreKeyError) -> StoreKey {
        var status = stat()
        guard stat(file, &status) == 0 else {
            throw StoreKeyError(file: file, problem: "cannot be read: \(String(cString: strerror(errno)))")
        }
        let mode = Int(status.st_mode) & 0o777
        guard mode & 0o077 == 0 else {
            throw StoreKeyError(
                file: file, problem: "may be read by its group or others (mode 0\(String(mode, radix: 8))): make it private with chmod 600")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw StoreKeyError(file: file, problem: "cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: text), bytes.count == 32 else {
            throw StoreKeyError(file: file, problem: "does not hold a store key (32 bytes in base64, as `stagelink store rekey` and `stagelink demo --encrypt` write)")
        }
        return StoreKey(file: file, key: SymmetricKey(data: bytes))
    }

    /// Writes a new random key to `file`, created with mode 0600; refused when the file exists.
    public static func generate(at file: String) throws(StoreKeyError) -> StoreKey {
        let key = SymmetricKey(size: .bits256)
        let text = Array((key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n").utf8)
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw StoreKeyError(file: file, problem: "cannot be created: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.count, fchmod(descriptor, 0o600) == 0, fsync(descriptor) == 0 else {
            throw StoreKeyError(file: file, problem: "cannot be written: \(String(cString: strerror(errno)))")
        }
        return StoreKey(file: file, key: key)
    }

    /// The first 8 bytes of an HMAC of `label` under `key`, in hex.
    package static func fingerprint(_ key: SymmetricKey, label: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: key)
        return Array(mac).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

/// A store key file that cannot be used: the message names the file and the problem.
public struct StoreKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var problem: String

    public var description: String { "the store key file \(file) \(problem)" }
}
