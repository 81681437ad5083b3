/// A FHIR resource `id`: 1 to 64 of `A–Z a–z 0–9 - .` (FHIR R4, datatypes § id:
/// `[A-Za-z0-9\-\.]{1,64}`), and not `.` or `..`.
///
/// Every id that comes from the other system and is about to name an EMR resource (in a URL, a
/// reference, an upsert key) is checked here first: `1011/../1015` or `../../metadata` is not an
/// id, and must never become a request.
///
/// For example:
///
/// ```swift
/// FHIRID("1015")                 // FHIRID("1015")
/// FHIRID("1011/../1015")         // nil
/// try FHIRID.validated(text, field: "EMR_Patient_Id__c")   // throws INVALID_IDENTIFIER naming the field
/// ```
public struct FHIRID: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ text: String) {
        guard Self.isValid(text) else { return nil }
        value = text
    }

    public var description: String { value }

    /// Whether `text` is a FHIR id. `.` and `..` match the pattern but are refused too: in a
    /// RESTful URL they are path navigation (RFC 3986 § 5.2.4), never a resource.
    public static func isValid(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text != "." && text != ".."
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
    }

    /// `text` as a FHIR id, or a lasting row failure `INVALID_IDENTIFIER` naming `field`. The
    /// message never quotes the value.
    public static func validated(_ text: String, field: String, of what: String = "the EMR id") throws(LinkError) -> FHIRID {
        guard let id = FHIRID(text) else { throw .notAnIdentifier(field: field, what: what, kind: "a FHIR id (1 to 64 of A-Z, a-z, 0-9, - and .)") }
        return id
    }
}

/// A Salesforce record id: 15 case-sensitive alphanumeric characters, or the 18-character
/// case-insensitive form whose last three characters encode which of each five of the first
/// fifteen are upper case (Salesforce API Developer Guide, Field Types, "ID": "15 or 18
/// alphanumeric characters"). An 18-character id is case-insensitive, so its suffix is read
/// without regard to case; it must name upper case only where a letter stands.
///
/// For example:
///
/// ```swift
/// SalesforceID("003000000000001AAA")    // valid when AAA is the checksum of the first 15
/// SalesforceID("003/../005")            // nil
/// ```
public struct SalesforceID: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 15 || bytes.count == 18,
            bytes.allSatisfy({ Self.isAlphanumeric($0) })
        else { return nil }
        if bytes.count == 18 && !Self.suffixFits(bytes) { return nil }
        value = text
    }

    public var description: String { value }

    /// `text` as a Salesforce id, or a lasting row failure `INVALID_IDENTIFIER` naming `field`.
    public static func validated(_ text: String, field: String, of what: String = "the Salesforce id") throws(LinkError) -> SalesforceID {
        guard let id = SalesforceID(text) else { throw .notAnIdentifier(field: field, what: what, kind: "a Salesforce id (15 or 18 letters and digits)") }
        return id
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static let suffixAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345".utf8)

    /// Whether the 18-character id's suffix is the case-safe suffix of some casing of its first
    /// fifteen characters: each suffix character is in the alphabet (whatever its case) and its
    /// bits mark letters only.
    private static func suffixFits(_ bytes: [UInt8]) -> Bool {
        (0..<3).allSatisfy { chunk in
            let character = bytes[15 + chunk]
            let upper = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(character) ? character - 32 : character
            guard let bits = suffixAlphabet.firstIndex(of: upper) else { return false }
            return (0..<5).allSatisfy { position in
                bits & (1 << position) == 0 || !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[chunk * 5 + position])
            }
        }
    }
}

extension LinkError {
    /// `INVALID_IDENTIFIER` for `field`, which holds `what` but not `kind`; the value is not quoted.
    static func notAnIdentifier(field: String, what: String, kind: String) -> LinkError {
        LinkError(.invalidIdentifier, message: "\(field) (\(what)) is not \(kind): nothing was sent", fields: [field])
    }
}
