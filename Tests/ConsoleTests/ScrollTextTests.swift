import Testing

@testable import Console

/// How the detail pane, the preview and the help wrap a line wider than themselves.
struct ScrollTextTests {
    func rows(_ text: String, width: Int, role: Role = .body) -> [String] {
        ScrollText.wrap([ScrollText.Line(StyledLine(text, role))], width: width).map(\.content.plainText)
    }

    @Test func aLineBreaksAtItsLastSpaceThatFitsNeverInsideAWord() {
        // 20 columns: 18 of text beside the gutter.
        let message = "Birthdate must be a valid date in the past for patient p-1"
        let wrapped = rows(message, width: 20)
        #expect(wrapped == ["Birthdate must be", "  a valid date in", "  the past for", "  patient p-1"])
        #expect(wrapped.allSatisfy { $0.count <= 18 })
        #expect(wrapped.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ") == message, "every word once, whole")
    }

    @Test func aWordWiderThanARowIsCutAtTheRowsEdge() {
        let token = String(repeating: "x", count: 30)
        #expect(rows("id \(token)", width: 20) == ["id " + String(repeating: "x", count: 15), "  " + String(repeating: "x", count: 15)])
        #expect(rows(token, width: 12) == ["xxxxxxxxxx", "  xxxxxxxx", "  xxxxxxxx", "  xxxx"])
    }

    @Test func continuationsHangPastTheLinesOwnIndentAndKeepTheirRoles() {
        let line = ScrollText.Line(
            StyledLine([Span("    \"message\": ", .body), Span("\"value too long for the field\"", .error)]), mark: Span("▶", .error))
        let wrapped = ScrollText.wrap([line], width: 26)
        #expect(wrapped.map(\.content.plainText) == ["    \"message\": \"value", "      too long for the", "      field\""])
        #expect(wrapped.map(\.mark) == [Span("▶", .error), nil, nil], "the gutter mark on the first row only")
        #expect(wrapped[1].content.spans.map(\.role) == [.body, .error], "the hang, then the value's role")
        #expect(wrapped[1].content.spans.last?.text == "too long for the")
    }

    @Test func theSpacesABreakFallsOnAreDropped() {
        #expect(rows("eighteen columns!!   next", width: 20) == ["eighteen columns!!", "  next"])
        #expect(rows("eighteen columns!!      ", width: 20) == ["eighteen columns!!"])
    }

    @Test func aLineThatFitsIsLeftAsItIs() {
        #expect(rows("short enough", width: 20) == ["short enough"])
        #expect(rows("  exactly eighteen!", width: 21) == ["  exactly eighteen!"])
    }
}
