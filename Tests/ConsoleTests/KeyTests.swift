import StagelinkEngine
import Testing

@testable import Console

/// Moving, filtering, sorting, marking, commands and crumbs, through the keys a person presses.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct KeyTests {
    private func selectedID(_ fixture: ConsoleFixture) throws -> Int64 {
        let screen = fixture.screen
        let row = try #require(screen.row(containing: "▸"))
        let words = screen.text(row: row).split(separator: " ")
        return try #require(words.compactMap { Int64($0) }.first)
    }

    @Test func movingReadsOnlyTheWindowAndReachesBothEnds() async throws {
        let fixture = try await ConsoleFixture.make(height: 24)
        #expect(try selectedID(fixture) == 1)
        await fixture.console.press(.character("j"), .down)
        #expect(try selectedID(fixture) == 3)
        await fixture.console.press(.character("G"))
        #expect(try selectedID(fixture) == 300)
        #expect(fixture.screen.line(containing: "▸")?.contains("a0B5g0000000299") == true, "every hundredth row is a Salesforce admission")
        await fixture.console.press(.character("j"))
        #expect(try selectedID(fixture) == 300, "nothing after the last row")
        await fixture.console.press(.character("g"))
        #expect(try selectedID(fixture) == 1)
        await fixture.console.press(.pageDown)
        let afterPage = try selectedID(fixture)
        #expect(afterPage > 1)
        await fixture.console.press(.pageUp)
        #expect(try selectedID(fixture) == 1)
        let capacity = RowsView.capacity(for: ConsoleLayout(width: 120, height: 24).body)
        for _ in 0..<capacity { await fixture.console.press(.character("j")) }
        #expect(try selectedID(fixture) == Int64(capacity + 1), "the window scrolled by one row")
        #expect(fixture.screen.line(containing: "p0 ") == nil)
        await fixture.console.press(.character("k"))
        #expect(try selectedID(fixture) == Int64(capacity))
    }

    @Test func aFilterAppliesAsItIsTypedAndAnInverseFilterShowsTheRest() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("/"))
        await fixture.console.type("failed")
        #expect(fixture.screen.line(containing: "Staged(failed)[40]") != nil)
        #expect(fixture.screen.text(row: 38).hasPrefix(" / failed"))
        await fixture.console.press(.enter)
        var screen = fixture.screen
        let shown = (6..<36).map(screen.text(row:)).filter { $0.contains(" EMR ") || $0.contains(" SF ") }
        #expect(!shown.isEmpty && shown.allSatisfy { $0.contains("✗ failed") })
        await fixture.console.press(.character("/"), .control("u"))
        await fixture.console.type("!failed\n")
        screen = fixture.screen
        #expect(screen.line(containing: "Staged(!failed)[260]") != nil)
        #expect(screen.line(containing: "✗ failed") == nil)
        await fixture.console.press(.escape)
        #expect(fixture.screen.line(containing: "Staged[300]") != nil, "esc clears the filter of a root view")
    }

    @Test func escapeInAFilterPromptPutsTheFilterBack() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("/"))
        await fixture.console.type("code:DUPLICATE_VALUE")
        #expect(fixture.screen.line(containing: "Staged(code:DUPLICATE_VALUE)[") != nil)
        await fixture.console.press(.escape)
        #expect(fixture.screen.line(containing: "Staged[300]") != nil)
    }

    @Test func escapeThenSlashStraightAwayStartsFromTheFilterPutBack() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("/"), settling: .none)
        await fixture.console.type("p4", settling: .none)
        await fixture.console.press(.escape, .character("/"), settling: .none)
        #expect(fixture.screen.text(row: 38).trimmingCharacters(in: .whitespaces).hasPrefix("/ failed"), "the empty prompt shows its example")
        await fixture.console.settle()
        #expect(fixture.screen.line(containing: "Staged[300]") != nil, "no preview typed before Esc lands after it")
    }

    @Test func shiftLettersSortAndPressingAgainReverses() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("O"))
        #expect(fixture.screen.line(containing: "OBJECT↑") != nil)
        #expect(fixture.screen.line(containing: "▸")?.contains("Admission__c") == true)
        await fixture.console.press(.character("O"))
        #expect(fixture.screen.line(containing: "OBJECT↓") != nil)
        #expect(fixture.screen.line(containing: "▸")?.contains("Patient") == true)
        await fixture.console.press(.character("S"))
        #expect(fixture.screen.line(containing: "STATUS↑") != nil)
        #expect(fixture.screen.line(containing: "▸")?.contains("✗ failed") == true)
    }

    @Test func spaceMarksRowsAndEscapeUnmarksThem() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character(" "), .character(" "))
        var screen = fixture.screen
        #expect(screen.line(containing: "● 2 marked") != nil)
        let marked = try #require(screen.row(containing: "p0 "))
        #expect(screen.text(row: marked).hasPrefix("│●"))
        #expect(screen[10, marked].role == .marked)
        await fixture.console.press(.escape)
        screen = fixture.screen
        #expect(screen.line(containing: "marked") == nil)
    }

    @Test func commandsSwitchViewsOpenRowsAndChangeTheTheme() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character(":"))
        await fixture.console.type("fa")
        #expect(fixture.screen.text(row: 38).contains(": fa") && fixture.screen.text(row: 38).contains("ilures"), "the completion is shown greyed")
        await fixture.console.press(.tab, .enter)
        #expect(fixture.screen.line(containing: "Failures[40 rows · 5 codes]") != nil)
        await fixture.console.press(.character(":"))
        await fixture.console.type("theme light\n")
        #expect(fixture.console.theme.name == "light")
        #expect(fixture.screen.line(containing: "✓ theme light") != nil)
        await fixture.console.press(.character(":"))
        await fixture.console.type("theme nosuch\n")
        #expect(fixture.screen.line(containing: "nosuch: no such theme (known themes: dark, high-contrast, light, monochrome)") != nil)
        await fixture.console.press(.character(":"), .up, .up)
        #expect(fixture.screen.text(row: 38).contains(": theme light"), "↑ walks back through earlier commands")
        await fixture.console.press(.escape, .character(":"))
        await fixture.console.type("row 5\n")
        #expect(fixture.screen.line(containing: "Row 5 — EMR Patient p4") != nil)
        #expect(fixture.screen.text(row: 37).contains("failures  ›  row 5"))
        await fixture.console.press(.character(":"))
        await fixture.console.type("row 99999\n")
        #expect(fixture.screen.line(containing: "no staged row has id 99999") != nil)
        await fixture.console.press(.character(":"))
        await fixture.console.type("jobs\n")
        #expect(fixture.screen.line(containing: "Jobs[newest first]") != nil)
        await fixture.console.press(.character(":"))
        await fixture.console.type("q\n")
        #expect(fixture.console.hasQuit)
    }

    @Test func numbersAndTabSwitchViewsAndEachKeepsItsPlace() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("j"), .character("j"))
        await fixture.console.press(.character("5"))
        #expect(fixture.screen.line(containing: "Jobs[newest first]") != nil)
        await fixture.console.press(.tab)
        #expect(fixture.screen.line(containing: "Conflicts(open)[") != nil)
        await fixture.console.press(.tab)
        #expect(fixture.screen.line(containing: "Events") != nil)
        await fixture.console.press(.tab)
        #expect(fixture.screen.line(containing: "Staged[300]") != nil)
        #expect(fixture.screen.line(containing: "▸")?.contains("p2 ") == true)
    }

    @Test func qQuits() async throws {
        let fixture = try await ConsoleFixture.make()
        #expect(!fixture.console.hasQuit)
        await fixture.console.press(.character("q"))
        #expect(fixture.console.hasQuit)
    }
}
