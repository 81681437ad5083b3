import Crypto

/// The content hash that identifies a payload's bytes: lowercase hex SHA-256. An encrypted store
/// keeps a keyed hash of it instead (`hmac-sha256:` and hex), which deduplicates the same way.
public enum ContentHash {
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        hex(Array(SHA256.hash(data: bytes)))
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A stored hash as people read it: `sha256 …`, or `hmac-sha256 …` for a keyed one.
    public static func display(_ stored: String) -> String {
        if let colon = stored.firstIndex(of: ":") {
            return "\(stored[..<colon]) \(stored[stored.index(after: colon)...])"
        }
        return "sha256 \(stored)"
    }
}
