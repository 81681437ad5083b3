import Crypto

/// The content hash that identifies a payload's bytes: lowercase hex SHA-256. An encrypted store
/// keeps a keyed hash of it instead (`hmac-sha256:` and hex), which deduplicates the same way.
public enum ContentHash {
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).withUnsafeBytes { hex($0) }
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex($0) }
    }

    /// Lowercase hex of `bytes` after `prefix`, written straight into the string's storage (a
    /// content hash is made for every row staged).
    public static func hex(_ bytes: UnsafeRawBufferPointer, prefix: String = "") -> String {
        let prefix = prefix.utf8
        return String(unsafeUninitializedCapacity: prefix.count + 2 * bytes.count) { text in
            var index = text.initialize(fromContentsOf: prefix)
            for byte in bytes {
                text[index] = digits[Int(byte >> 4)]
                text[index + 1] = digits[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }

    /// Appends the lowercase hex of `bytes` to `out` (UTF-8).
    public static func appendHex(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A stored hash as people read it: `sha256 …`, or `hmac-sha256 …` for a keyed one.
    public static func display(_ stored: String) -> String {
        if let colon = stored.firstIndex(of: ":") {
            return "\(stored[..<colon]) \(stored[stored.index(after: colon)...])"
        }
        return "sha256 \(stored)"
    }
}
