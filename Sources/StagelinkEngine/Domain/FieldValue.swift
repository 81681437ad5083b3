import Foundation

/// A mapped field's value as it is compared, stored and written: text, a number, a flag, or nothing.
///
/// Numbers are kept in a canonical form (`12.0` and `12` are the same score) so that a value read
/// back from the other system compares equal to the one written.
public enum FieldValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case text(String)
    case number(String)
    case bool(Bool)

    /// A number from its decimal text, canonicalised; nil if the text is not a finite number.
    public static func number(canonicalizing text: String) -> FieldValue? {
        guard let decimal = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), !decimal.isNaN else { return nil }
        return .number(decimal.description)
    }

    /// Blank: nothing, or text that is only whitespace. "Owner wins unless blank" looks at this.
    public var isBlank: Bool {
        switch self {
        case .null: true
        case .text(let text): text.allSatisfy(\.isWhitespace)
        case .number, .bool: false
        }
    }

    public var json: JSONValue {
        switch self {
        case .null: .null
        case .text(let text): .string(text)
        case .number(let lexeme): .number(lexeme)
        case .bool(let flag): .bool(flag)
        }
    }

    public init?(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .string(let text): self = .text(text)
        case .number(let lexeme): self = FieldValue.number(canonicalizing: lexeme) ?? .number(lexeme)
        case .bool(let flag): self = .bool(flag)
        case .array, .object: return nil
        }
    }

    /// The value as compact JSON text, which is how the store keeps it.
    public var storageText: String { JSONWriter.compactString(json) }

    public init(storageText: String) {
        self = (try? JSONValue(parsing: Array(storageText.utf8))).flatMap(FieldValue.init(json:)) ?? .text(storageText)
    }

    /// The value for a person to read (the console, `why`): text unquoted, nothing as `∅`.
    public var description: String {
        switch self {
        case .null: "∅"
        case .text(let text): text
        case .number(let lexeme): lexeme
        case .bool(let flag): flag ? "true" : "false"
        }
    }
}
