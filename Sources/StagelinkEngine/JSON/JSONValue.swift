/// A parsed JSON value that keeps what a payload said: key order, duplicate-free objects, and
/// number lexemes exactly as written (so `1.50` stays `1.50` and 20-digit ids lose nothing).
///
/// For example:
///
/// ```swift
/// let patient = try JSONValue(parsing: Array(#"{"id":"p1","birthDate":"1980-02-29"}"#.utf8))
/// patient["birthDate"]?.stringValue   // "1980-02-29"
/// ```
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number, as its exact lexeme from the payload.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Parses a complete JSON text.
    ///
    /// - Throws: `JSONError` naming the line and column of the first problem: invalid UTF-8,
    ///   a syntax error, a duplicate key, nesting deeper than `maximumDepth`, trailing bytes.
    public init(parsing bytes: some Collection<UInt8>, maximumDepth: Int = JSONParser.defaultMaximumDepth) throws(JSONError) {
        self = try JSONParser.parse(bytes, maximumDepth: maximumDepth)
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// What kind of value this is, in words a support person reads in an error message.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "text"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// A JSON object whose members keep the order in which the payload wrote them.
public struct JSONObject: Sendable, Hashable {
    public private(set) var members: [Member]

    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: JSONValue

        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    public init(_ members: [Member] = []) {
        self.members = members
    }

    public init(_ pairs: KeyValuePairs<String, JSONValue>) {
        self.members = pairs.map { Member(key: $0.key, value: $0.value) }
    }

    public var keys: [String] { members.map(\.key) }

    /// The value of `key`; setting one replaces it in place or appends it, setting nil removes it.
    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            let index = members.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let index?, let value?): members[index].value = value
            case (let index?, nil): members.remove(at: index)
            case (nil, let value?): members.append(Member(key: key, value: value))
            case (nil, nil): break
            }
        }
    }
}

// Not ExpressibleByNilLiteral on purpose: `nil` must always mean "absent", never JSON null (a
// ternary such as `blank ? nil : value` would otherwise turn into a null written to the wire).
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { JSONObject.Member(key: $0.0, value: $0.1) }))
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements.map { Member(key: $0.0, value: $0.1) })
    }
}
