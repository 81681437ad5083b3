/// Writes `JSONValue`s back out: compact for the wire, pretty for people.
///
/// Text is escaped so that what comes out is always valid JSON and never carries a raw control
/// character: a patient name holding `ESC ]0;` is written as `\u001b]0;`.
///
/// For example:
///
/// ```swift
/// JSONWriter.compactString(["resourceType": "Patient", "active": true])
/// // {"resourceType":"Patient","active":true}
/// ```
public enum JSONWriter {
    public static func compact(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        writeCompact(value, into: &out)
        return out
    }

    public static func compactString(_ value: JSONValue) -> String {
        String(decoding: compact(value), as: UTF8.self)
    }

    /// One line of a pretty-printed document, with the path of the value it shows, so that a
    /// viewer can highlight the field an error names.
    public struct Line: Sendable, Hashable {
        public var text: String
        /// Dotted path of the member or element on this line (`name[0].family`); empty for brackets
        /// that close a container.
        public var path: String
        public var depth: Int
    }

    /// The document as indented lines, keys in their original order.
    public static func prettyLines(_ value: JSONValue, indent: Int = 2) -> [Line] {
        var lines: [Line] = []
        var current: [UInt8] = []
        func flush(path: String, depth: Int) {
            lines.append(Line(text: String(repeating: " ", count: depth * indent) + String(decoding: current, as: UTF8.self), path: path, depth: depth))
            current.removeAll(keepingCapacity: true)
        }
        func write(_ value: JSONValue, path: String, depth: Int, trailingComma: Bool) {
            switch value {
            case .object(let object) where !object.members.isEmpty:
                current.append(UInt8(ascii: "{"))
                flush(path: path, depth: depth)
                for (index, member) in object.members.enumerated() {
                    let childPath = path.isEmpty ? member.key : path + "." + member.key
                    writeString(member.key, into: &current, forDisplay: true)
                    current.append(contentsOf: Array(": ".utf8))
                    write(member.value, path: childPath, depth: depth + 1, trailingComma: index < object.members.count - 1)
                }
                current.append(UInt8(ascii: "}"))
                if trailingComma { current.append(UInt8(ascii: ",")) }
                flush(path: "", depth: depth)
            case .array(let items) where !items.isEmpty:
                current.append(UInt8(ascii: "["))
                flush(path: path, depth: depth)
                for (index, item) in items.enumerated() {
                    write(item, path: "\(path)[\(index)]", depth: depth + 1, trailingComma: index < items.count - 1)
                }
                current.append(UInt8(ascii: "]"))
                if trailingComma { current.append(UInt8(ascii: ",")) }
                flush(path: "", depth: depth)
            case .string(let text):
                writeString(text, into: &current, forDisplay: true)
                if trailingComma { current.append(UInt8(ascii: ",")) }
                flush(path: path, depth: depth)
            default:
                writeCompact(value, into: &current)
                if trailingComma { current.append(UInt8(ascii: ",")) }
                flush(path: path, depth: depth)
            }
        }
        write(value, path: "", depth: 0, trailingComma: false)
        return lines
    }

    public static func prettyString(_ value: JSONValue, indent: Int = 2) -> String {
        prettyLines(value, indent: indent).map(\.text).joined(separator: "\n")
    }

    static func writeCompact(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let flag): out.append(contentsOf: Array((flag ? "true" : "false").utf8))
        case .number(let lexeme): out.append(contentsOf: Array(lexeme.utf8))
        case .string(let text): writeString(text, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeCompact(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                writeCompact(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Writes `text` as a JSON string. For people (`forDisplay`), C1 control characters, which some
    /// terminals obey like escape sequences, are escaped too.
    static func writeString(_ text: String, into out: inout [UInt8], forDisplay: Bool = false) {
        func escaped(_ code: UInt8) -> [UInt8] {
            func hex(_ digit: UInt8) -> UInt8 { digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10 }
            return [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex(code >> 4), hex(code & 0xF)]
        }
        out.append(UInt8(ascii: "\""))
        // Most text needs no escaping: copy it in one go.
        var text = text
        let copied = text.withUTF8 { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F || (forDisplay && byte == 0xC2) {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if copied {
            out.append(UInt8(ascii: "\""))
            return
        }
        var pendingC2 = false
        for byte in text.utf8 {
            if pendingC2 {
                pendingC2 = false
                if byte < 0xA0 {
                    out.append(contentsOf: escaped(byte))
                    continue
                }
                out.append(0xC2)
            }
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20, 0x7F: out.append(contentsOf: escaped(byte))
            case 0xC2 where forDisplay: pendingC2 = true
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Writes JSON text directly, without building a `JSONValue` first, for the store's hot paths.
///
/// For example:
///
/// ```swift
/// var text = JSONTextBuilder()
/// text.beginObject(); text.key("field"); text.string("Birthdate"); text.endObject()
/// text.utf8  // the bytes of {"field":"Birthdate"}
/// ```
public struct JSONTextBuilder: Sendable {
    private var bytes: [UInt8] = []
    private var needsComma = false

    public init() {
        bytes.reserveCapacity(512)
    }

    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma = false }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma = false }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    public mutating func key(_ name: String) {
        separate()
        JSONWriter.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A key written as given: for the store's own fixed keys, which need no escaping.
    public mutating func plainKey(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    public mutating func string(_ text: String) {
        separate()
        JSONWriter.writeString(text, into: &bytes)
        needsComma = true
    }

    public mutating func value(_ value: FieldValue) {
        separate()
        switch value {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .text(let text): JSONWriter.writeString(text, into: &bytes)
        case .number(let lexeme): bytes.append(contentsOf: lexeme.utf8)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        }
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// The text as UTF-8: the store binds it as it is, without making a `String` of it.
    public var utf8: [UInt8] { bytes }
}
