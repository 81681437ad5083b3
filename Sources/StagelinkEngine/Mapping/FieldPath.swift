/// A path into a FHIR resource, in the small FHIRPath subset the mapping file uses:
/// `birthDate`, `name[0].given[0]`, `telecom[system=phone].value`.
///
/// For example:
///
/// ```swift
/// let phone = try FieldPath("telecom[system=phone].value")
/// phone.value(in: patient)          // .string("+1 555 0100")
/// phone.set(.string("+1 555 0199"), in: &patient)
/// ```
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public enum Step: Sendable, Hashable {
        case key(String)
        case index(Int)
        /// The first element of a list whose `key` equals `value`.
        case match(key: String, value: String)
    }

    public let steps: [Step]
    public let description: String

    public init(_ text: String) throws(FieldPathError) {
        var steps: [Step] = []
        for segment in Self.segments(text) {
            var rest = Substring(segment)
            let name = rest.prefix { $0 != "[" }
            guard Self.isElementName(name) else {
                throw FieldPathError(path: text, message: "each step must start with a field name (ASCII letters, digits and _)")
            }
            steps.append(.key(String(name)))
            rest = rest.dropFirst(name.count)
            while rest.first == "[" {
                guard let close = rest.firstIndex(of: "]") else { throw FieldPathError(path: text, message: "an unclosed '['") }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                if inside.allSatisfy({ $0.isASCII && $0.isNumber }), !inside.isEmpty {
                    // Bounded, so that writing the path can never grow a list by millions of elements.
                    guard let index = Int(inside), index <= Self.largestIndex else {
                        throw FieldPathError(path: text, message: "'[\(inside)]': an index is at most \(Self.largestIndex)")
                    }
                    steps.append(.index(index))
                } else if let equals = inside.firstIndex(of: "="), Self.isElementName(inside[..<equals]),
                    inside.index(after: equals) < inside.endIndex
                {
                    steps.append(.match(key: String(inside[..<equals]), value: String(inside[inside.index(after: equals)...])))
                } else {
                    throw FieldPathError(path: text, message: "'[\(inside)]' is neither an index nor key=value")
                }
                rest = rest[rest.index(after: close)...]
            }
            guard rest.isEmpty else { throw FieldPathError(path: text, message: "unexpected text after ']'") }
        }
        self.steps = steps
        self.description = text
    }

    /// The largest list index a path may name (`name[999]`).
    public static let largestIndex = 999

    /// A FHIR element name as JSON spells it: ASCII letters, digits and `_`, not starting with a digit.
    private static func isElementName(_ name: Substring) -> Bool {
        guard let first = name.first, !first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// The dot-separated segments of a path; dots inside `[...]` (a URL in `[system=…]`) do not split.
    private static func segments(_ text: String) -> [Substring] {
        var segments: [Substring] = []
        var start = text.startIndex
        var depth = 0
        for index in text.indices {
            switch text[index] {
            case "[": depth += 1
            case "]": depth = max(0, depth - 1)
            case "." where depth == 0:
                segments.append(text[start..<index])
                start = text.index(after: index)
            default: break
            }
        }
        segments.append(text[start...])
        return segments
    }

    /// The value at this path, or nil when any step is absent.
    public func value(in root: JSONValue) -> JSONValue? {
        var current = root
        for step in steps {
            switch step {
            case .key(let key):
                guard let next = current[key] else { return nil }
                current = next
            case .index(let index):
                guard let next = current[index] else { return nil }
                current = next
            case .match(let key, let value):
                guard let next = current.arrayValue?.first(where: { $0[key]?.stringValue == value }) else { return nil }
                current = next
            }
        }
        return current
    }

    /// The path as `JSONWriter.prettyLines` names it in this document (`telecom[1].value`), down to
    /// the deepest step that exists: what a viewer highlights for an error about this field.
    public func locate(in root: JSONValue) -> String? {
        var current = root
        var located = ""
        for step in steps {
            switch step {
            case .key(let key):
                guard let next = current[key] else { return located.isEmpty ? nil : located }
                located += located.isEmpty ? key : ".\(key)"
                current = next
            case .index(let index):
                guard let next = current[index] else { return located }
                located += "[\(index)]"
                current = next
            case .match(let key, let value):
                guard let index = current.arrayValue?.firstIndex(where: { $0[key]?.stringValue == value }) else { return located }
                located += "[\(index)]"
                current = current[index]!
            }
        }
        return located
    }

    /// Sets the value at this path, creating the objects and list elements on the way; nil removes
    /// the last step's member.
    public func set(_ value: JSONValue?, in root: inout JSONValue) {
        Self.set(value, steps: steps[...], in: &root)
    }

    private static func set(_ value: JSONValue?, steps: ArraySlice<Step>, in node: inout JSONValue) {
        guard let step = steps.first else {
            if let value { node = value }
            return
        }
        let rest = steps.dropFirst()
        switch step {
        case .key(let key):
            var object = node.objectValue ?? JSONObject()
            if rest.isEmpty {
                object[key] = value
            } else {
                var child = object[key] ?? .null
                if value == nil && object[key] == nil { return }
                set(value, steps: rest, in: &child)
                object[key] = child
            }
            node = .object(object)
        case .index(let index):
            var items = node.arrayValue ?? []
            if index >= items.count {
                if value == nil { return }
                items.append(contentsOf: Array(repeating: JSONValue.object(JSONObject()), count: index - items.count + 1))
            }
            if rest.isEmpty {
                if let value { items[index] = value } else { items.remove(at: index) }
            } else {
                set(value, steps: rest, in: &items[index])
            }
            node = .array(items)
        case .match(let key, let matchValue):
            var items = node.arrayValue ?? []
            var position = items.firstIndex { $0[key]?.stringValue == matchValue }
            if position == nil {
                if value == nil { return }
                items.append(.object(JSONObject([.init(key: key, value: .string(matchValue))])))
                position = items.count - 1
            }
            guard let position else { return }
            if rest.isEmpty {
                if let value { items[position] = value } else { items.remove(at: position) }
            } else if value == nil, rest.count == 1 {
                // Clearing the one value of a matched element (a phone number) removes the element.
                items.remove(at: position)
            } else {
                set(value, steps: rest, in: &items[position])
            }
            node = .array(items)
        }
    }
}

/// A mapping-file path that does not follow the supported syntax.
public struct FieldPathError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "path \"\(path)\": \(message)" }
}
