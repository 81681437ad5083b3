/// A strict JSON reader (RFC 8259) for payloads that nobody here wrote.
///
/// Strict where lenient readers let damage through: invalid UTF-8, raw control characters in
/// strings, lone surrogates, duplicate keys and trailing bytes are errors, and nesting is bounded
/// so that a hostile payload cannot exhaust the stack. It can also hand back the exact bytes of
/// values inside a document without re-encoding them, which is how a Bundle entry's resource is
/// staged verbatim.
///
/// For example:
///
/// ```swift
/// let resources = try JSONParser.ranges(of: ["entry", .each, "resource"], in: bundleBytes)
/// let first = bundleBytes[resources[0]]   // the resource exactly as the server sent it
/// ```
public enum JSONParser {
    /// Nesting deeper than this is rejected; FHIR resources stay far below it.
    public static let defaultMaximumDepth = 100

    /// One step of a path into a document: an object key or every element of an array.
    public enum PathStep: Sendable, Hashable, ExpressibleByStringLiteral {
        case key(String)
        case each

        public init(stringLiteral value: String) { self = .key(value) }
    }

    public static func parse(_ bytes: some Collection<UInt8>, maximumDepth: Int = defaultMaximumDepth) throws(JSONError) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(JSONError) -> JSONValue in
            var reader = Reader(buffer: buffer, maximumDepth: maximumDepth)
            reader.skipWhitespace()
            let value = try reader.parseValue(depth: 0)
            reader.skipWhitespace()
            guard reader.isAtEnd else { throw reader.error("unexpected bytes after the end of the value") }
            return value
        }
    }

    /// Byte ranges of every value found at `path`, in document order, after checking that the
    /// whole document is well-formed.
    public static func ranges(of path: [PathStep], in bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth) throws(JSONError) -> [Range<Int>] {
        try ranges(of: [path], in: bytes, maximumDepth: maximumDepth)[0]
    }

    /// Byte ranges of the values found at each of `paths` (one list a path, in document order),
    /// after checking that the whole document is well-formed, in one pass that builds no values.
    /// Paths may share a prefix (`["meta", "versionId"]` and `["meta", "lastUpdated"]`).
    public static func ranges(of paths: [[PathStep]], in bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth) throws(JSONError) -> [[Range<Int>]] {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> [[Range<Int>]] in
            var reader = Reader(buffer: buffer, maximumDepth: maximumDepth)
            var found = [[Range<Int>]](repeating: [], count: paths.count)
            reader.skipWhitespace()
            precondition(paths.count <= UInt64.bitWidth, "at most \(UInt64.bitWidth) paths are located in one pass")
            try reader.locate(paths, active: paths.isEmpty ? 0 : UInt64.max >> (UInt64.bitWidth - paths.count), level: 0, depth: 0, into: &found)
            reader.skipWhitespace()
            guard reader.isAtEnd else { throw reader.error("unexpected bytes after the end of the value") }
            return found
        }
    }

    /// The first value found at each of `paths` (nil where there is none), after checking that
    /// the whole document is well-formed; only those values are built. This is how a staged
    /// resource's id, `meta.versionId` and `meta.lastUpdated` are read from its bytes.
    ///
    /// ```swift
    /// let found = try JSONParser.values(at: [["id"], ["meta", "versionId"]], in: line)
    /// let id = found[0]?.stringValue
    /// ```
    public static func values(at paths: [[PathStep]], in bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth) throws(JSONError) -> [JSONValue?] {
        let found = try ranges(of: paths, in: bytes, maximumDepth: maximumDepth)
        return try found.map { (ranges) throws(JSONError) -> JSONValue? in try ranges.first.map { (range) throws(JSONError) in try parse(bytes[range]) } }
    }
}

private struct Reader {
    let buffer: UnsafeBufferPointer<UInt8>
    let maximumDepth: Int
    var position = 0

    init(buffer: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.buffer = buffer
        self.maximumDepth = maximumDepth
    }

    var isAtEnd: Bool { position >= buffer.count }

    func error(_ reason: String, at offset: Int? = nil) -> JSONError {
        let offset = min(offset ?? position, buffer.count)
        var line = 1
        var column = 1
        for index in 0..<offset {
            if buffer[index] == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if buffer[index] & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONError(reason: reason, offset: offset, line: line, column: column)
    }

    mutating func skipWhitespace() {
        while position < buffer.count {
            switch buffer[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    func peek() throws(JSONError) -> UInt8 {
        guard position < buffer.count else { throw error("unexpected end of the text") }
        return buffer[position]
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONError) {
        guard position < buffer.count, buffer[position] == byte else {
            throw error(isAtEnd ? "unexpected end of the text, expected \(what)" : "expected \(what)")
        }
        position += 1
    }

    // MARK: - Building values

    mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"): return .object(try parseObject(depth: depth + 1))
        case UInt8(ascii: "["): return .array(try parseArray(depth: depth + 1))
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try parseNumber())
        }
    }

    mutating func parseObject(depth: Int) throws(JSONError) -> JSONObject {
        var members: [JSONObject.Member] = []
        var seen = KeySet()
        guard try openContainer(UInt8(ascii: "}"), depth: depth) else { return JSONObject(members) }
        repeat {
            let key = try memberKey(&seen)
            members.append(JSONObject.Member(key: key, value: try parseValue(depth: depth)))
        } while try nextElement(closing: UInt8(ascii: "}"), "',' or '}' in an object")
        return JSONObject(members)
    }

    mutating func parseArray(depth: Int) throws(JSONError) -> [JSONValue] {
        var items: [JSONValue] = []
        guard try openContainer(UInt8(ascii: "]"), depth: depth) else { return items }
        repeat {
            items.append(try parseValue(depth: depth))
        } while try nextElement(closing: UInt8(ascii: "]"), "',' or ']' in a list")
        return items
    }

    // The three steps of walking an object or a list, shared by building values and locating them.

    /// Moves past `{` or `[`; false (and past the closing bracket) when the container is empty.
    mutating func openContainer(_ closing: UInt8, depth: Int) throws(JSONError) -> Bool {
        guard depth <= maximumDepth else { throw error("nesting deeper than \(maximumDepth) levels") }
        position += 1
        skipWhitespace()
        if try peek() == closing {
            position += 1
            return false
        }
        return true
    }

    /// Reads `"key":`, refusing a key the object already had; leaves the position at the value.
    mutating func memberKey(_ seen: inout KeySet) throws(JSONError) -> String {
        skipWhitespace()
        let keyOffset = position
        guard try peek() == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
        let key = try parseString()
        guard seen.insert(key) else { throw error("duplicate key in an object", at: keyOffset) }
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "':' after a key")
        skipWhitespace()
        return key
    }

    /// After a value: true past a `,` (another element follows), false past the closing bracket.
    mutating func nextElement(closing: UInt8, _ expected: String) throws(JSONError) -> Bool {
        skipWhitespace()
        if try peek() == UInt8(ascii: ",") {
            position += 1
            skipWhitespace()
            return true
        }
        try expect(closing, expected)
        return false
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= buffer.count else { throw error("unexpected end of the text") }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for index in 0..<count where buffer[position + index] != expected[index] {
            throw error("unexpected character")
        }
        position += count
    }

    mutating func parseNumber() throws(JSONError) -> String {
        let start = position
        try scanNumber()
        return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<position]), as: UTF8.self)
    }

    mutating func scanNumber() throws(JSONError) {
        let start = position
        if position < buffer.count, buffer[position] == UInt8(ascii: "-") { position += 1 }
        guard position < buffer.count, isDigit(buffer[position]) else {
            throw error(position == start ? "unexpected character" : "expected a digit", at: start)
        }
        if buffer[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < buffer.count, isDigit(buffer[position]) { position += 1 }
        }
        if position < buffer.count, buffer[position] == UInt8(ascii: ".") {
            position += 1
            guard position < buffer.count, isDigit(buffer[position]) else { throw error("expected a digit after '.'") }
            while position < buffer.count, isDigit(buffer[position]) { position += 1 }
        }
        if position < buffer.count, buffer[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < buffer.count, buffer[position] == UInt8(ascii: "+") || buffer[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < buffer.count, isDigit(buffer[position]) else { throw error("expected a digit in the exponent") }
            while position < buffer.count, isDigit(buffer[position]) { position += 1 }
        }
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    mutating func parseString() throws(JSONError) -> String {
        let start = position + 1
        let (end, hasEscapes, isASCII) = try scanString()
        if !hasEscapes {
            // ASCII is valid UTF-8 by itself: only other text needs the (much slower) validation.
            if isASCII { return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self) }
            guard let text = String(validating: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self) else {
                throw error("text that is not valid UTF-8", at: start)
            }
            return text
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(end - start)
        var index = start
        while index < end {
            let byte = buffer[index]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                index += 1
                continue
            }
            let escape = buffer[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            default:
                var scalar = try hex4(at: index)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 6 <= end, buffer[index] == UInt8(ascii: "\\"), buffer[index + 1] == UInt8(ascii: "u") else {
                        throw error("a lone surrogate in a \\u escape", at: index)
                    }
                    let low = try hex4(at: index + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("a lone surrogate in a \\u escape", at: index) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("a lone surrogate in a \\u escape", at: index - 6)
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error("an invalid \\u escape", at: index - 6) }
                bytes.append(contentsOf: Array(String(Character(unicode)).utf8))
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw error("text that is not valid UTF-8", at: start)
        }
        return text
    }

    func hex4(at index: Int) throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = buffer[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("an invalid \\u escape", at: index - 2)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Moves past a string and returns the offset of its closing quote, checking escapes' shape
    /// and that no raw control character appears.
    mutating func scanString() throws(JSONError) -> (end: Int, hasEscapes: Bool, isASCII: Bool) {
        position += 1
        var hasEscapes = false
        var highBits: UInt8 = 0
        while position < buffer.count {
            let byte = buffer[position]
            highBits |= byte
            if byte == UInt8(ascii: "\"") {
                let end = position
                position += 1
                return (end, hasEscapes, highBits < 0x80)
            }
            if byte < 0x20 { throw error("a control character inside text (it must be escaped)") }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                guard position + 1 < buffer.count else { break }
                switch buffer[position + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 2
                case UInt8(ascii: "u"):
                    guard position + 6 <= buffer.count else { break }
                    _ = try hex4(at: position + 2)
                    position += 6
                default:
                    throw error("an invalid escape in text")
                }
                continue
            }
            position += 1
        }
        throw error("unexpected end of the text inside a string")
    }

    // MARK: - Locating raw values

    /// Moves past one value, checking it exactly as building it would (duplicate keys included),
    /// without building it: only keys become strings, and those of FHIR fit inline.
    mutating func skipValue(depth: Int) throws(JSONError) {
        switch try peek() {
        case UInt8(ascii: "{"):
            var seen = KeySet()
            guard try openContainer(UInt8(ascii: "}"), depth: depth + 1) else { return }
            repeat {
                _ = try memberKey(&seen)
                try skipValue(depth: depth + 1)
            } while try nextElement(closing: UInt8(ascii: "}"), "',' or '}' in an object")
        case UInt8(ascii: "["):
            guard try openContainer(UInt8(ascii: "]"), depth: depth + 1) else { return }
            repeat {
                try skipValue(depth: depth + 1)
            } while try nextElement(closing: UInt8(ascii: "]"), "',' or ']' in a list")
        case UInt8(ascii: "\""):
            let start = position + 1
            let (end, hasEscapes, isASCII) = try scanString()
            if !hasEscapes, !isASCII, String(validating: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self) == nil {
                throw error("text that is not valid UTF-8", at: start)
            } else if hasEscapes {
                position = start - 1
                _ = try parseString()
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try scanNumber()
        }
    }

    /// Walks one value `level` steps into the `paths` whose bits are set in `active` (all of them
    /// have taken the same `level` steps to get here), recording its range for each of them that
    /// ends here (in `found`, at the path's index); what no path enters is skipped, and checked.
    /// Paths are a bit set rather than a list so that walking a payload allocates nothing but the
    /// keys it reads: building lists of the paths entering each member made locating as slow as
    /// building every value (docs/performance.md, "Staging prepares a page while it writes it").
    mutating func locate(
        _ paths: [[JSONParser.PathStep]], active: UInt64, level: Int, depth: Int, into found: inout [[Range<Int>]]
    ) throws(JSONError) {
        let start = position
        var (ended, intoObject, intoList): (UInt64, UInt64, UInt64) = (0, 0, 0)
        for index in Self.indexes(of: active) {
            if paths[index].count == level {
                ended |= 1 << index
            } else if paths[index][level] == .each {
                intoList |= 1 << index
            } else {
                intoObject |= 1 << index
            }
        }
        switch try peek() {
        case UInt8(ascii: "{") where intoObject != 0:
            var seen = KeySet()
            if try openContainer(UInt8(ascii: "}"), depth: depth + 1) {
                repeat {
                    let key = try memberKey(&seen)
                    var entering: UInt64 = 0
                    for index in Self.indexes(of: intoObject) {
                        if case .key(let step) = paths[index][level], step == key { entering |= 1 << index }
                    }
                    if entering != 0 {
                        try locate(paths, active: entering, level: level + 1, depth: depth + 1, into: &found)
                    } else {
                        try skipValue(depth: depth + 1)
                    }
                } while try nextElement(closing: UInt8(ascii: "}"), "',' or '}' in an object")
            }
        case UInt8(ascii: "[") where intoList != 0:
            if try openContainer(UInt8(ascii: "]"), depth: depth + 1) {
                repeat {
                    try locate(paths, active: intoList, level: level + 1, depth: depth + 1, into: &found)
                } while try nextElement(closing: UInt8(ascii: "]"), "',' or ']' in a list")
            }
        default:
            try skipValue(depth: depth)
        }
        for index in Self.indexes(of: ended) { found[index].append(start..<position) }
    }

    /// The indexes of the bits set in `bits`, lowest first.
    static func indexes(of bits: UInt64) -> some Sequence<Int> {
        sequence(state: bits) { rest -> Int? in
            guard rest != 0 else { return nil }
            defer { rest &= rest - 1 }
            return rest.trailingZeroBitCount
        }
    }
}

/// The keys seen in one object, to refuse duplicates. Objects are small: a linear scan beats
/// hashing until they are not.
///
/// The first 16 keys are kept inline, so that an object's keys take no allocation of their own (a
/// list allocated for each object was a tenth of reading a payload's person fields).
struct KeySet {
    private var small = InlineArray<16, String>(repeating: "")
    private var count = 0
    private var large: Set<String>?

    mutating func insert(_ key: String) -> Bool {
        if large != nil { return large!.insert(key).inserted }
        for index in 0..<count where small[index] == key { return false }
        guard count < small.count else {
            var keys = Set([key])
            for index in small.indices { keys.insert(small[index]) }
            large = keys
            return true
        }
        small[count] = key
        count += 1
        return true
    }
}
