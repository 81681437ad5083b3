/// Reads the frame of a search Bundle that is not valid JSON as a whole: where each entry, its
/// `fullUrl` and its `resource` start and end, and where the Bundle's own `resourceType`, `link`
/// and `total` are.
///
/// One damaged resource (invalid UTF-8, a raw control character, a bare word, a duplicate key,
/// nesting past the strict reader's bound) makes the whole Bundle invalid JSON, yet its
/// neighbours are fine and the damage is confined between brackets that still balance. This
/// scanner follows only strings, brackets and commas, so it finds those boundaries whatever lies
/// between them; each piece is then read strictly on its own. A body whose brackets do not balance
/// (a truncated answer) has no frame, and `frame(of:)` returns nil.
///
/// For example:
///
/// ```swift
/// let frame = BundleSalvage.frame(of: Array(#"{"resourceType":"Bundle","entry":[{"resource":{"id":"a","x":tru}}]}"#.utf8))
/// frame?.entries.first?.resource   // the byte range of {"id":"a","x":tru}
/// ```
enum BundleSalvage {
    /// Byte ranges of one entry and of its members. An entry whose own members cannot be told
    /// apart has its whole bytes as `resource`, so that it is handed on rather than dropped.
    struct Entry {
        var whole: Range<Int>
        var fullURL: Range<Int>?
        var resource: Range<Int>?
        var search: Range<Int>?
    }

    /// Byte ranges of the Bundle's members that paging needs, and of its entries.
    struct Frame {
        var resourceType: Range<Int>?
        var link: Range<Int>?
        var total: Range<Int>?
        var entries: [Entry] = []
    }

    /// The frame of `body`, or nil when its brackets, strings or commas do not frame an object.
    static func frame(of body: [UInt8]) -> Frame? {
        let scanner = Scanner(bytes: body)
        var frame = Frame()
        let members = scanner.objectMembers(at: scanner.skippingWhitespace(from: 0))
        guard let members, scanner.skippingWhitespace(from: members.end) == body.count else { return nil }
        for (key, value) in members.list {
            switch key {
            case "resourceType": frame.resourceType = value
            case "link": frame.link = value
            case "total": frame.total = value
            case "entry":
                guard let elements = scanner.arrayElements(at: value.lowerBound) else { return nil }
                for element in elements {
                    var entry = Entry(whole: element)
                    if let entryMembers = scanner.objectMembers(at: element.lowerBound) {
                        for (entryKey, entryValue) in entryMembers.list {
                            switch entryKey {
                            case "fullUrl": entry.fullURL = entryValue
                            case "resource": entry.resource = entryValue
                            case "search": entry.search = entryValue
                            default: break
                            }
                        }
                    } else {
                        entry.resource = element
                    }
                    frame.entries.append(entry)
                }
            default: break
            }
        }
        return frame
    }

    /// A lenient walker over bytes: strings end at an unescaped quote, containers at their matching
    /// bracket; nothing else is checked. Iterative, so any nesting depth is safe.
    private struct Scanner {
        let bytes: [UInt8]

        func skippingWhitespace(from start: Int) -> Int {
            var index = start
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
            return index
        }

        /// The end (exclusive) of the value starting at `start`.
        func valueEnd(at start: Int) -> Int? {
            guard start < bytes.count else { return nil }
            switch bytes[start] {
            case UInt8(ascii: "\""):
                return stringEnd(at: start)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var closers: [UInt8] = []
                var index = start
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""):
                        guard let end = stringEnd(at: index) else { return nil }
                        index = end
                        continue
                    case UInt8(ascii: "{"): closers.append(UInt8(ascii: "}"))
                    case UInt8(ascii: "["): closers.append(UInt8(ascii: "]"))
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        guard closers.popLast() == bytes[index] else { return nil }
                        if closers.isEmpty { return index + 1 }
                    default: break
                    }
                    index += 1
                }
                return nil
            default:
                // A scalar (a number, a literal, or a damaged bare word) ends at any structural byte.
                var index = start
                while index < bytes.count, !",:[]{}\"\u{20}\u{09}\u{0A}\u{0D}".utf8.contains(bytes[index]) { index += 1 }
                return index > start ? index : nil
            }
        }

        func stringEnd(at start: Int) -> Int? {
            var index = start + 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""): return index + 1
                default: index += 1
                }
            }
            return nil
        }

        /// `{ "key": value, … }` at `start`: each key (undecoded) with its value's range.
        func objectMembers(at start: Int) -> (list: [(String, Range<Int>)], end: Int)? {
            guard start < bytes.count, bytes[start] == UInt8(ascii: "{") else { return nil }
            var list: [(String, Range<Int>)] = []
            var index = skippingWhitespace(from: start + 1)
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { return (list, index + 1) }
            while index < bytes.count {
                guard bytes[index] == UInt8(ascii: "\""), let keyEnd = stringEnd(at: index) else { return nil }
                let key = String(decoding: bytes[(index + 1)..<(keyEnd - 1)], as: UTF8.self)
                index = skippingWhitespace(from: keyEnd)
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                let valueStart = skippingWhitespace(from: index + 1)
                guard let valueEnd = valueEnd(at: valueStart) else { return nil }
                list.append((key, valueStart..<valueEnd))
                index = skippingWhitespace(from: valueEnd)
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: "}") { return (list, index + 1) }
                guard bytes[index] == UInt8(ascii: ",") else { return nil }
                index = skippingWhitespace(from: index + 1)
            }
            return nil
        }

        /// `[ value, … ]` at `start`: each element's range.
        func arrayElements(at start: Int) -> [Range<Int>]? {
            guard start < bytes.count, bytes[start] == UInt8(ascii: "[") else { return nil }
            var elements: [Range<Int>] = []
            var index = skippingWhitespace(from: start + 1)
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { return elements }
            while index < bytes.count {
                guard let end = valueEnd(at: index) else { return nil }
                elements.append(index..<end)
                index = skippingWhitespace(from: end)
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: "]") { return elements }
                guard bytes[index] == UInt8(ascii: ",") else { return nil }
                index = skippingWhitespace(from: index + 1)
            }
            return nil
        }
    }
}
