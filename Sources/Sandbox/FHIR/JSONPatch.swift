/// An RFC 6902 JSON Patch document, as the FHIR `patch` interaction takes it
/// (`PATCH [base]/[type]/[id]`, `Content-Type: application/json-patch+json`; FHIR R4 http.html#patch).
///
/// Applying it is all or nothing (RFC 6902 §5): the first operation that cannot be applied
/// refuses the whole document and the resource is left as it was. Paths are RFC 6901 JSON
/// Pointers (`/telecom/0/value`, `~1` for `/` and `~0` for `~`, `-` for the end of an array).
///
/// For example:
///
/// ```swift
/// let patch = try JSONPatch(parsing: WireJSON.parse(Array(#"[{"op":"replace","path":"/gender","value":"female"}]"#.utf8)))
/// let patched = try patch.applied(to: .object(patient))
/// ```
struct JSONPatch: Sendable {
    enum Operation: Sendable {
        case add([String], WireJSON)
        case remove([String])
        case replace([String], WireJSON)
        case move(from: [String], to: [String])
        case copy(from: [String], to: [String])
        case test([String], WireJSON)
    }

    /// The media type of a JSON Patch document (RFC 6902 §6).
    static let mediaType = "application/json-patch+json"

    var operations: [Operation]

    /// Reads a patch document; anything that is not an array of well-formed operations is a
    /// malformed patch document (RFC 5789 §2.2: 400).
    init(parsing document: WireJSON) throws(FHIRError) {
        guard let items = document.arrayValue else { throw Self.malformed("the body must be a JSON array of patch operations") }
        operations = []
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue, let op = object["op"]?.stringValue else {
                throw Self.malformed("operation \(index) has no \"op\"")
            }
            func pointer(_ member: String) throws(FHIRError) -> [String] {
                guard let text = object[member]?.stringValue else { throw Self.malformed("operation \(index) (\(op)) has no \"\(member)\"") }
                guard let tokens = Self.tokens(text) else { throw Self.malformed("operation \(index): \"\(member)\" is not a JSON Pointer") }
                return tokens
            }
            func value() throws(FHIRError) -> WireJSON {
                guard let value = object["value"] else { throw Self.malformed("operation \(index) (\(op)) has no \"value\"") }
                return value
            }
            switch op {
            case "add": operations.append(.add(try pointer("path"), try value()))
            case "remove": operations.append(.remove(try pointer("path")))
            case "replace": operations.append(.replace(try pointer("path"), try value()))
            case "move": operations.append(.move(from: try pointer("from"), to: try pointer("path")))
            case "copy": operations.append(.copy(from: try pointer("from"), to: try pointer("path")))
            case "test": operations.append(.test(try pointer("path"), try value()))
            default: throw Self.malformed("operation \(index): \"op\" must be add, remove, replace, move, copy or test")
            }
        }
    }

    /// The document with every operation applied in order.
    func applied(to document: WireJSON) throws(FHIRError) -> WireJSON {
        var document = document
        for (index, operation) in operations.enumerated() {
            document = try Self.apply(operation, to: document, index: index)
        }
        return document
    }

    private static func apply(_ operation: Operation, to document: WireJSON, index: Int) throws(FHIRError) -> WireJSON {
        switch operation {
        case .add(let path, let value):
            return try add(value, at: path, in: document, index: index)
        case .remove(let path):
            return try remove(path, from: document, index: index).document
        case .replace(let path, let value):
            guard self.value(at: path, in: document) != nil else { throw unprocessable(index, "replace", "the path does not exist") }
            return try add(value, at: path, in: document, index: index, replacing: true)
        case .move(let from, let path):
            if path.count > from.count && Array(path.prefix(from.count)) == from {
                throw unprocessable(index, "move", "a value cannot be moved into one of its own children")
            }
            let (rest, moved) = try remove(from, from: document, index: index)
            return try add(moved, at: path, in: rest, index: index)
        case .copy(let from, let path):
            guard let copied = value(at: from, in: document) else { throw unprocessable(index, "copy", "\"from\" does not exist") }
            return try add(copied, at: path, in: document, index: index)
        case .test(let path, let expected):
            guard let actual = value(at: path, in: document), equal(actual, expected) else {
                throw unprocessable(index, "test", "the value at the path is not the one given")
            }
            return document
        }
    }

    /// The value a pointer names, nil when it names nothing.
    static func value(at path: [String], in document: WireJSON) -> WireJSON? {
        var current = document
        for token in path {
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let elements):
                guard let position = arrayIndex(token), position < elements.count else { return nil }
                current = elements[position]
            default:
                return nil
            }
        }
        return current
    }

    /// `add`, or with `replacing` the value of an existing array element set in place.
    private static func add(
        _ value: WireJSON, at path: [String], in document: WireJSON, index: Int, replacing: Bool = false
    ) throws(FHIRError) -> WireJSON {
        guard let last = path.last else { return value }
        return try atParent(of: path, in: document, index: index, "add") { (parent) throws(FHIRError) -> WireJSON in
            switch parent {
            case .object(var members):
                members[last] = value
                return .object(members)
            case .array(var elements):
                if replacing, let position = arrayIndex(last), position < elements.count {
                    elements[position] = value
                } else if last == "-" {
                    elements.append(value)
                } else {
                    guard let position = arrayIndex(last), position <= elements.count else {
                        throw unprocessable(index, "add", "the array index is out of range")
                    }
                    elements.insert(value, at: position)
                }
                return .array(elements)
            default:
                throw unprocessable(index, "add", "the parent is not an object or an array")
            }
        }
    }

    private static func remove(_ path: [String], from document: WireJSON, index: Int) throws(FHIRError) -> (document: WireJSON, removed: WireJSON) {
        guard let last = path.last else { throw unprocessable(index, "remove", "the whole resource cannot be removed") }
        guard let removed = value(at: path, in: document) else { throw unprocessable(index, "remove", "the path does not exist") }
        let rest = try atParent(of: path, in: document, index: index, "remove") { (parent) throws(FHIRError) -> WireJSON in
            switch parent {
            case .object(var members):
                members[last] = nil
                return .object(members)
            case .array(var elements):
                elements.remove(at: arrayIndex(last)!)
                return .array(elements)
            default:
                throw unprocessable(index, "remove", "the path does not exist")
            }
        }
        return (rest, removed)
    }

    /// The document with the parent of `path` replaced by `change(parent)`.
    private static func atParent(
        of path: [String], in document: WireJSON, index: Int, _ op: String, _ change: (WireJSON) throws(FHIRError) -> WireJSON
    ) throws(FHIRError) -> WireJSON {
        guard path.count > 1 else { return try change(document) }
        let token = path[0]
        let rest = Array(path.dropFirst())
        switch document {
        case .object(var members):
            guard let child = members[token] else { throw unprocessable(index, op, "the parent of the path does not exist") }
            members[token] = try atParent(of: rest, in: child, index: index, op, change)
            return .object(members)
        case .array(var elements):
            guard let position = arrayIndex(token), position < elements.count else {
                throw unprocessable(index, op, "the parent of the path does not exist")
            }
            elements[position] = try atParent(of: rest, in: elements[position], index: index, op, change)
            return .array(elements)
        default:
            throw unprocessable(index, op, "the parent of the path does not exist")
        }
    }

    /// An array index token: `0`, or digits without a leading zero (RFC 6901 §4).
    private static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.allSatisfy(\.isASCII), token.allSatisfy(\.isNumber), token == "0" || !token.hasPrefix("0") else {
            return nil
        }
        return Int(token)
    }

    /// The reference tokens of a JSON Pointer (RFC 6901 §3): `""` is the whole document.
    static func tokens(_ pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { return nil }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    /// JSON equality (RFC 6902 §4.6): numbers compare by value, objects by members in any order.
    private static func equal(_ lhs: WireJSON, _ rhs: WireJSON) -> Bool {
        if let left = lhs.doubleValue, let right = rhs.doubleValue { return left == right }
        return lhs == rhs
    }

    private static func malformed(_ problem: String) -> FHIRError {
        FHIRError(status: 400, code: "structure", diagnostics: "Malformed JSON Patch: \(problem)")
    }

    /// A patch that is well formed but cannot be applied: RFC 5789 §2.2 "unprocessable request".
    private static func unprocessable(_ index: Int, _ op: String, _ problem: String) -> FHIRError {
        FHIRError(status: 422, code: "processing", diagnostics: "JSON Patch operation \(index) (\(op)) cannot be applied: \(problem)")
    }
}
