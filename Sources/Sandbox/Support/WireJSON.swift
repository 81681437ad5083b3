import Foundation

/// A JSON document as the sandbox stores and serves it: ordered objects, integers kept apart from decimals.
///
/// Both simulators keep their records as `WireJSON` so that what a client sent is what it reads back,
/// key order included. For example:
///
/// ```swift
/// let value = try WireJSON.parse(#"{"resourceType":"Patient","active":true}"#)
/// value["resourceType"]?.stringValue  // "Patient"
/// ```
public enum WireJSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([WireJSON])
    case object(WireObject)

    /// The string this value holds, if it is a string.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The integer this value holds, if it is an integer.
    public var intValue: Int? {
        if case .int(let number) = self { return number }
        return nil
    }

    /// The number this value holds, integer or decimal.
    public var doubleValue: Double? {
        switch self {
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: return nil
        }
    }

    /// The Boolean this value holds, if it is one.
    public var boolValue: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    /// The elements of this value, if it is an array.
    public var arrayValue: [WireJSON]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The members of this value, if it is an object.
    public var objectValue: WireObject? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// Whether this value is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member named `key` of an object, or nil for any other value.
    public subscript(key: String) -> WireJSON? {
        get { objectValue?[key] }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }

    /// The element at `index` of an array, or nil when out of range or not an array.
    public subscript(index: Int) -> WireJSON? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}

/// The members of a JSON object, in the order they were written.
///
/// For example:
///
/// ```swift
/// var patient = WireObject()
/// patient["resourceType"] = "Patient"
/// patient["id"] = "123"
/// patient.keys  // ["resourceType", "id"]
/// ```
public struct WireObject: Sendable, Hashable, Sequence {
    /// The member names in order.
    public private(set) var keys: [String] = []
    private var storage: [String: WireJSON] = [:]

    /// An empty object.
    public init() {}

    /// An object with these members, in this order; a repeated key keeps its last value.
    public init(_ members: [(String, WireJSON)]) {
        for (key, value) in members { self[key] = value }
    }

    /// The number of members.
    public var count: Int { keys.count }

    /// The value of member `key`; setting nil removes the member.
    public subscript(key: String) -> WireJSON? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Iterates the members in order.
    public func makeIterator() -> AnyIterator<(key: String, value: WireJSON)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            let key = keys[index]
            return (key, storage[key]!)
        }
    }

    public static func == (lhs: WireObject, rhs: WireObject) -> Bool {
        lhs.storage == rhs.storage
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage)
    }
}

extension WireJSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: WireJSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, WireJSON)...) { self = .object(WireObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

extension WireJSON {
    /// A string value, or `null` when `text` is nil.
    static func string(orNull text: String?) -> WireJSON {
        text.map(WireJSON.string) ?? .null
    }
}

extension WireObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, WireJSON)...) { self.init(elements) }
}
