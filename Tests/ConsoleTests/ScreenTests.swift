import Testing

@testable import Console

/// The screen model: wide characters, escaping of untrusted text, clipping.
struct ScreenTests {
    @Test func wideCharactersTakeTwoCellsAndReadBackOnce() {
        var screen = Screen(width: 20, height: 1)
        let end = screen.write("王芳 Zoë", x: 0, y: 0, role: .body)
        #expect(end == 8)
        #expect(screen[0, 0].character == "王")
        #expect(screen[1, 0].isContinuation)
        #expect(screen[2, 0].character == "芳")
        #expect(screen[3, 0].isContinuation)
        #expect(screen[7, 0].character == "ë")
        #expect(screen.text(row: 0).hasPrefix("王芳 Zoë "))
    }

    @Test func aDecomposedLetterIsOneCell() {
        var screen = Screen(width: 10, height: 1)
        let end = screen.write("Zoe\u{308}", x: 0, y: 0, role: .body)
        #expect(end == 3)
        #expect(screen[2, 0].character == "e\u{308}")
    }

    @Test func controlCharactersAndEscapeSequencesAreShownEscapedNeverWritten() {
        var screen = Screen(width: 80, height: 1)
        screen.write("a\u{1b}]0;pwned\u{07}\u{1b}[2Jb\u{9b}31mc\u{202e}d\nz", x: 0, y: 0, role: .body)
        let text = screen.text(row: 0)
        #expect(text.hasPrefix(#"a\u{1b}]0;pwned\u{7}\u{1b}[2Jb\u{9b}31mc\u{202e}d\u{a}z"#))
        #expect(screen.cells.allSatisfy { cell in cell.character.unicodeScalars.allSatisfy { $0.value >= 0x20 && !(0x7F..<0xA0).contains($0.value) } })
        #expect(screen[1, 0].role == .escaped)
        #expect(screen[0, 0].role == .body)
    }

    @Test func textThatDoesNotFitEndsInAnEllipsisAndNeverSplitsAWideCharacter() {
        var screen = Screen(width: 10, height: 1)
        screen.write("王芳王芳王芳", x: 0, y: 0, role: .body, limit: 6)
        #expect(screen.text(row: 0).hasPrefix("王芳… "))
        #expect(!screen[5, 0].isContinuation)
        var plain = Screen(width: 10, height: 1)
        plain.write("abcdefghijkl", x: 0, y: 0, role: .body)
        #expect(plain.text(row: 0) == "abcdefghi…")
    }

    @Test func overwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var screen = Screen(width: 6, height: 1)
        screen.write("王芳", x: 0, y: 0, role: .body)
        screen.write("x", x: 1, y: 0, role: .body)
        #expect(screen.text(row: 0).hasPrefix(" x芳"))
    }

    @Test func aNarrowTableLeavesOutLowPriorityColumnsRatherThanSqueezingThem() {
        let table = Table(columns: RowsView.columns, rows: [])
        let wide = table.layout(width: 200)
        let narrow = table.layout(width: 78)
        #expect(wide.allSatisfy { $0 != nil })
        let kept = RowsView.columns.indices.filter { narrow[$0] != nil }.map { RowsView.columns[$0].title }
        #expect(kept == ["STATUS", "ID", "OBJECT", "SOURCE ID", "ERROR"], "the error keeps its room before the time received")
        #expect(narrow.compactMap { $0 }.reduce(0, +) + Table.gap * (kept.count - 1) + 2 == 78)
    }

    @Test func sparklinesAndProgressBarsScaleToTheirWidth() {
        #expect(Sparkline.text([0, 1, 2, 4, 8], width: 5) == "▁▂▃▅█")
        #expect(Sparkline.text([0, 0], width: 5) == "▁▁")
        #expect(Sparkline.text([50_000, 10, 20, 30, 40], width: 5) == "█▃▅▇█", "one first load does not flatten the cycles after it")
        #expect(Sparkline.text([1_000, 10, 20, 30, 40], width: 5) == "█▃▅▇█")
        #expect(Sparkline.text([100, 30, 40], width: 3) == "█▄▄", "a maximum under four times the next is the scale")
        #expect(ProgressBar.text(fraction: 0.5, width: 10) == "█████░░░░░")
        #expect(ProgressBar.text(fraction: 1, width: 4) == "████")
        #expect(DisplayWidth.of(ProgressBar.text(fraction: 0.33, width: 12)) == 12)
    }

    @Test func theLineEditorEditsAndWalksItsHistory() {
        var editor = LineEditor(history: ["jobs", "row 12"])
        for key in Key.typing("rwo") { _ = editor.handle(key) }
        _ = editor.handle(.left)
        _ = editor.handle(.backspace)
        _ = editor.handle(.end)
        #expect(editor.text == "ro")
        _ = editor.handle(.up)
        #expect(editor.text == "row 12")
        _ = editor.handle(.up)
        #expect(editor.text == "jobs")
        _ = editor.handle(.down)
        _ = editor.handle(.down)
        #expect(editor.text == "ro")
        _ = editor.handle(.control("w"))
        #expect(editor.text.isEmpty)
    }

    @Test func theFilterLanguageReadsStatusesColumnsTextAndInversion() {
        let filter = RowFilterSyntax.parse("!failed object:Patient code:INVALID_FIELD system:sf job:4 müller p1")
        #expect(filter.inverted)
        #expect(filter.statuses == [.failed])
        #expect(filter.resourceType == "Patient")
        #expect(filter.errorCode == "INVALID_FIELD")
        #expect(filter.system == .salesforce)
        #expect(filter.jobID == 4)
        #expect(filter.text == "müller p1")
        #expect(RowFilterSyntax.text(filter) == "!failed system:sf object:Patient code:INVALID_FIELD job:4 müller p1")
        #expect(RowFilterSyntax.parse("status:failed,held").statuses == [.failed, .held])
    }

    @Test func kindWordsFilterDeletionsAndMerges() {
        #expect(RowFilterSyntax.parse("kind:deletion").kind == .deletion)
        let merges = RowFilterSyntax.parse("held kind:MERGE Patient")
        #expect(merges.kind == .merge)
        #expect(merges.statuses == [.held])
        #expect(RowFilterSyntax.text(merges) == "held kind:merge Patient")
        // An unknown kind is free text, never a silently empty filter.
        #expect(RowFilterSyntax.parse("kind:purge").kind == nil)
        #expect(RowFilterSyntax.parse("kind:purge").text == "kind:purge")
    }

    @Test func commandsAreParsedAndCompleted() {
        #expect(ConsoleCommands.parse("failures") == .view(.failures))
        #expect(ConsoleCommands.parse("row 123") == .row(123))
        #expect(ConsoleCommands.parse("theme light") == .theme("light"))
        #expect(ConsoleCommands.parse("failures INVALID_FIELD") == .failures(code: "INVALID_FIELD"))
        #expect(ConsoleCommands.parse("row twelve") == .unknown("row twelve"))
        #expect(ConsoleCommands.completion(of: "fa") == "failures")
        #expect(ConsoleCommands.completion(of: "jo") == nil, "job and jobs both start with jo")
    }
}
