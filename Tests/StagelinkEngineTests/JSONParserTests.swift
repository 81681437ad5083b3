import Testing
@testable import StagelinkEngine

struct JSONParserTests {
    @Test func keepsKeyOrderAndNumberLexemes() throws {
        let value = try JSONValue(parsing: Array(#"{"z":1.50,"a":[true,null],"m":"Zoë"}"#.utf8))
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value["z"] == .number("1.50"))
        #expect(value["a"] == [true, .null])
        #expect(value["m"]?.stringValue == "Zoë")
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: Array(#""a\n\u00e9\ud83d\ude00\"""#.utf8))
        #expect(value.stringValue == "a\né😀\"")
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "duplicate key"),
        (#"{"a":1"#, "unexpected end"),
        (#"[1,]"#, "unexpected character"),
        (#""\ud800""#, "lone surrogate"),
        ("\"tab\there\"", "control character"),
        (#"{"a":01}"#, "expected ',' or '}'"),
        (#"{} x"#, "unexpected bytes after"),
        (#"nul"#, "unexpected end"),
    ])
    func rejectsMalformedText(text: String, reason: String) {
        #expect {
            _ = try JSONValue(parsing: Array(text.utf8))
        } throws: { error in
            (error as? JSONError)?.reason.contains(reason) == true
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONError.self) { try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect {
            _ = try JSONValue(parsing: Array(deep.utf8))
        } throws: { error in
            (error as? JSONError)?.reason.contains("nesting deeper") == true
        }
    }

    @Test func namesLineAndColumnOfAnError() {
        #expect {
            _ = try JSONValue(parsing: Array("{\n  \"a\": tru\n}".utf8))
        } throws: { error in
            guard let error = error as? JSONError else { return false }
            return error.line == 2 && error.column == 8
        }
    }

    @Test func findsTheExactBytesOfBundleEntries() throws {
        let bundle = #"{"resourceType":"Bundle","entry":[{"resource":{ "id" : "a",  "x":[1, 2]}},{"fullUrl":"u","resource":{"id":"b"}}]}"#
        let bytes = Array(bundle.utf8)
        let ranges = try JSONParser.ranges(of: ["entry", .each, "resource"], in: bytes)
        #expect(ranges.map { String(decoding: bytes[$0], as: UTF8.self) } == [#"{ "id" : "a",  "x":[1, 2]}"#, #"{"id":"b"}"#])
    }

    @Test func readsSeveralPathsInOnePassWithoutBuildingTheRest() throws {
        let text = #"{"resourceType":"Patient","name":[{"family":"Zoë","given":["A","B"]}],"meta":{"versionId":"2","lastUpdated":"2026-01-02T03:04:05Z"},"id":"p1"}"#
        let found = try JSONParser.values(
            at: [["id"], ["meta", "versionId"], ["meta", "lastUpdated"], ["gender"], ["name", .each, "family"], ["meta"]], in: Array(text.utf8))
        #expect(found[0] == "p1")
        #expect(found[1] == "2")
        #expect(found[2] == "2026-01-02T03:04:05Z")
        #expect(found[3] == nil)
        #expect(found[4] == "Zoë")
        #expect(found[5]?["versionId"] == "2", "a path may end where another goes deeper")
    }

    @Test(arguments: [
        #"{"id":"p1","name":[{"family":"a","family":"b"}]}"#,
        #"{"id":"p1","name":[{"family":"a"}],}"#,
        #"{"id":"p1","x":"\ud800"}"#,
        #"{"id":"p1","x":[1,2,tru]}"#,
        #"{"id":"p1"} {}"#,
    ])
    func pathsStillCheckTheWholeDocument(text: String) {
        #expect(throws: JSONError.self) { try JSONParser.values(at: [["id"]], in: Array(text.utf8)) }
    }

    @Test func skippingBoundsNestingLikeParsing() {
        let deep = #"{"id":"p1","x":"# + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}"
        #expect(throws: JSONError.self) { try JSONParser.values(at: [["id"]], in: Array(deep.utf8)) }
    }

    @Test func rangesStillRejectAMalformedDocument() {
        #expect(throws: JSONError.self) {
            try JSONParser.ranges(of: ["entry", .each, "resource"], in: Array(#"{"entry":[{"resource":{}}],}"#.utf8))
        }
    }
}

struct JSONWriterTests {
    @Test func compactRoundTripsKeyOrder() throws {
        let text = #"{"b":1,"a":{"y":"é","x":[]}}"#
        #expect(JSONWriter.compactString(try JSONValue(parsing: Array(text.utf8))) == text)
    }

    @Test func escapesControlCharactersSoTheyNeverReachATerminal() {
        let hostile: JSONValue = ["name": .string("Evil\u{1B}]0;pwned\u{07}\u{1B}[2J\u{9B}31m")]
        let compact = JSONWriter.compactString(hostile)
        #expect(!compact.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        #expect(compact.contains(#"\u001b]0;pwned\u0007\u001b[2J"#))
        let pretty = JSONWriter.prettyString(hostile)
        #expect(!pretty.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F...0x9F).contains($0.value) })
        #expect(pretty.contains(#"\u009b31m"#))
    }

    @Test func prettyLinesCarryThePathOfTheirValue() throws {
        let value = try JSONValue(parsing: Array(#"{"name":[{"family":"Peña","given":["José"]}],"birthDate":"1985-13-45"}"#.utf8))
        let lines = JSONWriter.prettyLines(value)
        #expect(lines.first { $0.path == "birthDate" }?.text == #"  "birthDate": "1985-13-45""#)
        #expect(lines.first { $0.path == "name[0].given[0]" }?.text == #"        "José""#)
        #expect(lines.first { $0.path == "name[0].family" }?.text == #"      "family": "Peña","#)
    }
}

/// The keys of an object are checked for repeats however many it has: the first sixteen are kept
/// inline, the rest in a set.
struct JSONObjectKeyTests {
    static func object(keys: [String]) -> [UInt8] {
        Array(("{" + keys.map { #""\#($0)":1"# }.joined(separator: ",") + "}").utf8)
    }

    @Test(arguments: [2, 16, 17, 40])
    func aRepeatedKeyIsRefusedAmongAnyNumberOfKeys(count: Int) {
        let keys = (0..<count).map { "key\($0)" }
        #expect(throws: Never.self) { try JSONValue(parsing: Self.object(keys: keys)) }
        #expect(throws: Never.self) { try JSONParser.values(at: [["key0"]], in: Self.object(keys: keys)) }
        for repeated in [keys[0], keys[count / 2], keys[count - 1]] {
            #expect(throws: JSONError.self) { try JSONValue(parsing: Self.object(keys: keys + [repeated])) }
            #expect(throws: JSONError.self) { try JSONParser.values(at: [["key0"]], in: Self.object(keys: keys + [repeated])) }
        }
    }
}
