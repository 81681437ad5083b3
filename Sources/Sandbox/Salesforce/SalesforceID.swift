/// Salesforce record ids: 15 case-sensitive characters with the object's key prefix, plus the
/// three-character case-safe suffix that makes the 18-character form.
///
/// For example:
///
/// ```swift
/// SalesforceID.make(prefix: "003", sequence: 1)  // "0038d000000000BAAQ"-shaped, 18 characters
/// ```
enum SalesforceID {
    private static let base62 = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    private static let suffixAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345")

    /// The 18-character id of the `sequence`-th record with this key prefix.
    static func make(prefix: String, sequence: Int) -> String {
        var digits: [Character] = []
        var remaining = sequence
        for _ in 0..<9 {
            digits.append(base62[remaining % 62])
            remaining /= 62
        }
        let fifteen = prefix + "8d0" + String(digits.reversed())
        return fifteen + checksum(fifteen)
    }

    /// The case-safe suffix of a 15-character id.
    static func checksum(_ fifteen: String) -> String {
        let characters = Array(fifteen)
        var suffix = ""
        for chunk in 0..<3 {
            var bits = 0
            for position in 0..<5 where characters[chunk * 5 + position].isUppercase
                && characters[chunk * 5 + position].isASCII
            {
                bits |= 1 << position
            }
            suffix.append(suffixAlphabet[bits])
        }
        return suffix
    }

    /// The 18-character form of a 15- or 18-character id; nil when it is neither.
    static func normalize(_ text: String) -> String? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        switch text.count {
        case 15: return text + checksum(text)
        case 18: return String(text.prefix(15)) + checksum(String(text.prefix(15)))
        default: return nil
        }
    }
}
