/// One RFC 6902 JSON Patch operation, and the smallest list of them that turns one resource into
/// another: what a `PATCH` to an EMR that updates by JSON Patch carries (`emr.writes.update: patch`).
///
/// Only what differs is named: a changed member is replaced where it is, a new one added, a gone
/// one removed; an array whose length changed is replaced whole (index operations on a list the
/// server may have reordered would land on the wrong element). `meta` is the server's and never
/// patched.
///
/// For example:
///
/// ```swift
/// let operations = JSONPatchOperation.changes(from: current, to: wanted)
/// // [{"op":"replace","path":"/telecom/0/value","value":"555-0199"}]
/// let body = JSONWriter.compact(JSONPatchOperation.document(operations))
/// ```
public struct JSONPatchOperation: Sendable, Hashable {
    /// `add`, `remove` or `replace`.
    public var op: String
    /// An RFC 6901 JSON Pointer (`/name/0/family`).
    public var path: String
    /// The new value (nil for `remove`).
    public var value: JSONValue?

    public init(op: String, path: String, value: JSONValue?) {
        self.op = op
        self.path = path
        self.value = value
    }

    /// The operations that turn `old` into `new` (both resources), `meta` left out.
    public static func changes(from old: JSONValue, to new: JSONValue) -> [JSONPatchOperation] {
        var operations: [JSONPatchOperation] = []
        diff(old, new, path: "", into: &operations, skipping: ["meta"])
        return operations
    }

    /// The patch document: a JSON array of the operations.
    public static func document(_ operations: [JSONPatchOperation]) -> JSONValue {
        .array(
            operations.map { operation in
                var object = JSONObject()
                object["op"] = .string(operation.op)
                object["path"] = .string(operation.path)
                if let value = operation.value { object["value"] = value }
                return .object(object)
            })
    }

    /// `document` with `add`, `remove` and `replace` operations applied in order (what an EMR does
    /// with them; the in-memory writer uses it); nil when one names a path that does not exist.
    public static func applying(_ operations: [JSONPatchOperation], to document: JSONValue) -> JSONValue? {
        var document = document
        for operation in operations {
            let tokens = operation.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
            guard let changed = set(operation.op == "remove" ? nil : operation.value, at: tokens[...], in: document, op: operation.op) else { return nil }
            document = changed
        }
        return document
    }

    private static func set(_ value: JSONValue?, at tokens: ArraySlice<String>, in document: JSONValue, op: String) -> JSONValue? {
        guard let token = tokens.first else { return value }
        let rest = tokens.dropFirst()
        switch document {
        case .object(var object):
            if rest.isEmpty {
                guard op == "add" || object[token] != nil else { return nil }
                object[token] = value
            } else {
                guard let child = object[token], let changed = set(value, at: rest, in: child, op: op) else { return nil }
                object[token] = changed
            }
            return .object(object)
        case .array(var elements):
            if rest.isEmpty && op == "add" {
                guard token == "-" || Int(token).map({ (0...elements.count).contains($0) }) == true else { return nil }
                if let value { elements.insert(value, at: token == "-" ? elements.count : Int(token)!) }
                return .array(elements)
            }
            guard let index = Int(token), elements.indices.contains(index) else { return nil }
            if rest.isEmpty {
                if let value { elements[index] = value } else { elements.remove(at: index) }
            } else {
                guard let changed = set(value, at: rest, in: elements[index], op: op) else { return nil }
                elements[index] = changed
            }
            return .array(elements)
        default:
            return nil
        }
    }

    /// A member name as one JSON Pointer reference token (RFC 6901 §3: `~` → `~0`, `/` → `~1`).
    static func token(_ name: String) -> String {
        name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    private static func diff(_ old: JSONValue, _ new: JSONValue, path: String, into operations: inout [JSONPatchOperation], skipping: Set<String> = []) {
        guard old != new else { return }
        switch (old, new) {
        case (.object(let before), .object(let after)):
            for key in before.keys where after[key] == nil && !skipping.contains(key) {
                operations.append(JSONPatchOperation(op: "remove", path: path + "/" + token(key), value: nil))
            }
            for key in after.keys where !skipping.contains(key) {
                let child = path + "/" + token(key)
                if let previous = before[key] {
                    diff(previous, after[key]!, path: child, into: &operations)
                } else {
                    operations.append(JSONPatchOperation(op: "add", path: child, value: after[key]))
                }
            }
        case (.array(let before), .array(let after)) where before.count == after.count:
            for index in before.indices { diff(before[index], after[index], path: path + "/\(index)", into: &operations) }
        default:
            operations.append(JSONPatchOperation(op: "replace", path: path, value: new))
        }
    }
}
