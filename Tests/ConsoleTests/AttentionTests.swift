import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// Nothing piles up unseen: counts on the tabs, held conflicts flagged in the header, and every
/// event (cycles, conflicts, operators' actions) in a view that scrolls, filters and opens.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct AttentionTests {
    @Test func theTabsCountFailuresAndHeldConflictsAndTheHeaderFlagsThem() async throws {
        let fixture = try await ConsoleFixture.make(tab: .live)
        let held = try await fixture.store.countConflicts(status: .open)
        #expect(held == 1, "the seeded store holds one conflict for a person")
        var screen = fixture.screen
        #expect(screen.text(row: 3).contains(" 3 Failures 40 "))
        #expect(screen.text(row: 3).contains(" 6 Conflicts 1 held "))
        #expect(screen.text(row: 3).contains("⚑ 1 held for review  alice"), "on the tab bar, before the operator")
        #expect(screen.text(row: 1).contains("health ◐ degraded"), "the header keeps its health")
        #expect(screen.role(of: "⚑ 1") == .warning)

        let id = fixture.contents.failedRowIDs[0]
        _ = try await fixture.store.setStatus(rowIDs: [id], to: .ignored, from: [.failed], actor: .operator("bob"), note: "test patient")
        await fixture.console.poll()
        screen = fixture.screen
        #expect(screen.text(row: 3).contains(" 3 Failures 39 "), "the count follows the store")
    }

    @Test func eOnLiveOpensEveryEventNewestFirstToScrollFilterAndOpen() async throws {
        let fixture = try await ConsoleFixture.make(tab: .live)
        let id = fixture.contents.failedRowIDs[0]
        try await fixture.store.appendEvents([SyncEvent(at: fixture.now, jobID: nil, level: .info, message: "alice ignored 1 row (\(id))")])
        await fixture.console.press(.character("e"))
        var screen = fixture.screen
        #expect(screen.line(containing: "Events[31]") != nil, "the 30 seeded events and the new one")
        #expect(screen.line(containing: "▸")?.contains("alice ignored 1 row (\(id))") == true, "newest first")
        #expect(screen.text(row: 37).contains("live  ›  events"))
        await fixture.console.press(.character("G"))
        #expect(fixture.screen.line(containing: "▸")?.contains("pulled 200 Patient (page 1)") == true, "it scrolls to the oldest")

        await fixture.console.press(.character("/"))
        await fixture.console.type("warning\n")
        screen = fixture.screen
        #expect(screen.line(containing: "Events(warning)[6]") != nil)
        await fixture.console.press(.enter)
        #expect(fixture.screen.line(containing: "Job 51 ") != nil, "an event that names no row opens its job")
        await fixture.console.press(.character("q"), .character("/"), .control("u"))
        await fixture.console.type("ignored\n")
        await fixture.console.press(.enter)
        #expect(fixture.screen.line(containing: "Row \(id) — EMR Patient") != nil, "an event that names a row opens it")
    }

    @Test func aColonCommandOpensTheEventsAndAnEventNamesItsRowByNumber() async throws {
        #expect(EventsView.rowNamed(in: "alice retried 3 rows (12, 13, 14): 2 linked, 1 failed") == 12)
        #expect(EventsView.rowNamed(in: "Patient row 4211 failed: INVALID_FIELD") == 4211)
        #expect(EventsView.rowNamed(in: "2 rows failed: INVALID_FIELD") == nil)
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character(":"))
        await fixture.console.type("events\n")
        #expect(fixture.screen.line(containing: "Events[30]") != nil)
    }
}

/// Space for what matters: on a wide terminal the selected row's whole error has a pane.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct WideTerminalTests {
    @Test func atOneHundredSixtyColumnsAPreviewPaneShowsTheSelectedRowsWholeError() async throws {
        let fixture = try await ConsoleFixture.make(width: 200, height: 40)
        await fixture.console.press(.character("/"))
        await fixture.console.type("code:INVALID_FIELD\n")
        let screen = fixture.screen
        let row = try #require(try await fixture.store.row(id: fixture.contents.birthdateFailureRowID))
        #expect(screen.line(containing: " Row \(row.id) ")?.contains("Staged(code:INVALID_FIELD)[") == true, "the pane's title, beside the list's")
        #expect(screen.line(containing: "enter: all of it") != nil)
        #expect(screen.line(containing: "EMR Patient \(row.sourceID)") != nil)
        let message = try #require(row.error?.message)
        let shown = (4..<36).map { screen.text(row: $0) }.filter { $0.contains("│") }
        let pane = shown.map { String($0.split(separator: "│").last ?? "").trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        #expect(pane.contains(message), "the whole message, wrapped: \(pane)")

        let narrow = try await ConsoleFixture.make(width: 159, height: 40)
        #expect(narrow.screen.line(containing: "enter: all of it") == nil, "no pane under 160 columns")
    }
}
