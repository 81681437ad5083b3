import Foundation
import StagelinkEngine
import Testing

@testable import FHIRClient

/// NDJSON lines cut from pieces as they arrive: a line split across pieces is joined, CRLF and a
/// last line without its line end are read, and each line's identity is read from its bytes.
struct NDJSONStreamingTests {
    static let lines = [
        #"{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2026-11-26T07:26:25.123+00:00"}}"#,
        #"{"resourceType":"Patient","id":"p2","name":[{"family":"Zoë"}]}"#,
        #"{"resourceType":"Patient","id":"p3"}"#,
    ]

    /// The text cut into pieces of `size` bytes, fed in order.
    static func feed(_ text: [UInt8], piecesOf size: Int) -> [[UInt8]] {
        var splitter = NDJSONLines()
        var out: [[UInt8]] = []
        for start in stride(from: 0, to: text.count, by: size) {
            out += splitter.feed(Array(text[start..<min(start + size, text.count)]))
        }
        if let last = splitter.finish() { out.append(last) }
        return out
    }

    @Test(arguments: [1, 2, 7, 64, 10_000])
    func everyLineComesOutWholeWhateverThePieces(size: Int) {
        let text = Array((Self.lines.joined(separator: "\n") + "\n").utf8)
        #expect(Self.feed(text, piecesOf: size) == Self.lines.map { Array($0.utf8) })
    }

    @Test func crlfLineEndsBlankLinesAndALastLineWithoutItsEnd() {
        let text = Array((Self.lines[0] + "\r\n\r\n" + Self.lines[1] + "\r\n\n" + Self.lines[2]).utf8)
        for size in [1, 3, 50, text.count] {
            #expect(Self.feed(text, piecesOf: size) == Self.lines.map { Array($0.utf8) }, "pieces of \(size)")
        }
        // A CR split from its LF across pieces is still a line end, never part of the line.
        var splitter = NDJSONLines()
        #expect(splitter.feed(Array((Self.lines[2] + "\r").utf8)).isEmpty)
        #expect(splitter.feed(Array("\n".utf8)) == [Array(Self.lines[2].utf8)])
        #expect(splitter.finish() == nil)
    }

    @Test func aLineIsKeptAsItsExactBytes() {
        // Whitespace, key order, escapes and non-ASCII text stay as the server sent them.
        let line = #"{ "id" : "p9",  "resourceType":"Patient", "text":"caf\u00e9 Zoë\n" }"#
        let records = Self.feed(Array((line + "\n").utf8), piecesOf: 5).map { NDJSONLines.record($0, type: "Patient") }
        #expect(records.map(\.payload) == [Array(line.utf8)])
        #expect(records.first?.sourceID == "p9")
    }

    @Test func aCutLastLineIsNotWholeAndAWholeOneIs() {
        #expect(NDJSONLines.isWhole(Array(Self.lines[0].utf8)))
        #expect(!NDJSONLines.isWhole(Array(Self.lines[0].utf8.dropLast(3))))
    }

    @Test func theIdentityIsReadFromTheBytesAsFromTheParsedResource() throws {
        for text in Self.lines + [
            #"{"resourceType":"Patient","meta":{"lastUpdated":"2026-01-02T03:04:05Z","versionId":"9"},"id":"late-id"}"#,
            #"{"resourceType":"Patient","id":42,"meta":{"versionId":7}}"#,
            #"{"resourceType":"Patient","id":"","meta":"not an object"}"#,
            #"[{"resourceType":"Patient","id":"in-a-list"}]"#,
            #"{"resourceType":"Patient","id":"dup","id":"twice"}"#,
            #"{"resourceType":"Patient","id":"cut""#,
        ] {
            let bytes = Array(text.utf8)
            #expect(ResourceIdentity(bytes: bytes) == ResourceIdentity(try? JSONValue(parsing: bytes)), "\(text)")
        }
        let identity = ResourceIdentity(bytes: Array(Self.lines[0].utf8))
        #expect(identity.id == "p1" && identity.versionID == "3")
        #expect(identity.lastUpdated == Timestamp.parse("2026-11-26T07:26:25.123+00:00"))
    }

    @Test func aLineThatIsNotJSONIsNamedByItsHashNotByTheIdItClaims() {
        let notJSON = Array(#"{"resourceType":"Patient","id":"p1","x":tru}"#.utf8)
        let record = NDJSONLines.record(notJSON, type: "Patient")
        #expect(record.sourceID.hasPrefix("unidentified-"))
        #expect(record.payload == notJSON)
        let hostile = NDJSONLines.record(Array(#"{"resourceType":"Patient","id":"../Contact/003"}"#.utf8), type: "Patient")
        #expect(hostile.sourceID.hasPrefix("unidentified-"))
    }
}
