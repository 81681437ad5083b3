import Foundation
import Glibc
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// The keys of a full day of triage: backing out with `q`, half pages, searching a row's text,
/// un-ignoring, copying and paging, and refusals that come before any prompt.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct TriageKeyTests {
    private func openRow(_ id: Int64, in fixture: ConsoleFixture) async {
        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(id)\n")
    }

    @Test func qInADetailGoesBackQAtTheTopQuitsAndShiftQQuitsFromAnywhere() async throws {
        let fixture = try await ConsoleFixture.make()
        await openRow(fixture.contents.zoeRowID, in: fixture)
        #expect(fixture.screen.line(containing: "Row \(fixture.contents.zoeRowID) —") != nil)
        #expect(fixture.screen.text(row: 39).contains("<q> back"), "the footer says what q does here")
        await fixture.console.press(.character("q"))
        #expect(!fixture.console.hasQuit)
        #expect(fixture.screen.line(containing: "Staged[300]") != nil, "q went back to the list")
        #expect(fixture.screen.text(row: 39).contains("<q> quit"))
        await openRow(fixture.contents.zoeRowID, in: fixture)
        await fixture.console.press(.character("Q"))
        #expect(fixture.console.hasQuit, "Q quits from a detail")

        let top = try await ConsoleFixture.make()
        await top.console.press(.character("q"))
        #expect(top.console.hasQuit)
    }

    @Test func ctrlDAndCtrlUPageLikePgDnAndPgUp() async throws {
        let fixture = try await ConsoleFixture.make(height: 24)
        await fixture.console.press(.pageDown)
        let afterPageDown = try #require(fixture.screen.line(containing: "▸"))
        await fixture.console.press(.pageUp, .control("d"))
        #expect(fixture.screen.line(containing: "▸") == afterPageDown)
        await fixture.console.press(.control("u"))
        #expect(fixture.screen.line(containing: "▸")?.contains(" 1 ") == true)
    }

    @Test func iOnARowThatCannotBeIgnoredSaysWhyWithoutAskingForAReason() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(actions: actions)
        await openRow(fixture.contents.linkedRowID, in: fixture)
        await fixture.console.press(.character("i"))
        #expect(fixture.screen.line(containing: "reason:") == nil, "no prompt")
        #expect(fixture.screen.line(containing: "row \(fixture.contents.linkedRowID) is linked, not failed: only failed rows are ignored") != nil)
        #expect(actions.performed.isEmpty)
    }

    @Test func uOnAnIgnoredRowAsksForAReasonAndUnIgnoresItAsTheOperator() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(actions: actions)
        let id = fixture.contents.failedRowIDs[0]
        _ = try await fixture.store.setStatus(rowIDs: [id], to: .ignored, from: [.failed], actor: .operator("bob"), note: "test patient")
        await fixture.console.press(.character("/"))
        await fixture.console.type("ignored\n")
        #expect(fixture.screen.text(row: 39).contains("<u> un-ignore"), "the footer offers u on an ignored row")
        await fixture.console.press(.character("u"))
        #expect(fixture.screen.line(containing: "Un-ignore row \(id) — reason:") != nil)
        await fixture.console.type("not a test patient after all\n")
        #expect(actions.performed == [.unignore(rows: [id], reason: "not a test patient after all")])

        await openRow(fixture.contents.linkedRowID, in: fixture)
        await fixture.console.press(.character("u"))
        #expect(fixture.screen.line(containing: "reason:") == nil)
        #expect(fixture.screen.line(containing: "row \(fixture.contents.linkedRowID) is linked, not ignored: nothing to un-ignore") != nil)
        #expect(actions.performed.count == 1)
    }

    @Test func slashInADetailFindsTextIgnoringCaseAndAccentsAndNMovesBetweenMatches() async throws {
        let fixture = try await ConsoleFixture.make(height: 24)
        await openRow(fixture.contents.zoeRowID, in: fixture)
        await fixture.console.press(.character("/"))
        await fixture.console.type("muller\n")
        #expect(fixture.screen.role(of: "Müller") == .match, "muller finds Müller, highlighted")
        #expect(fixture.screen.line(containing: "match 1 of ") != nil, "the status line counts the matching lines")
        await fixture.console.press(.character("/"), .control("u"))
        await fixture.console.type("EXAMPLE\n")
        let first = try #require(fixture.screen.line(containing: "match 1 of "))
        let count = try #require(Int(first.split(separator: " ").drop { $0 != "of" }.dropFirst().first ?? ""))
        #expect(count >= 3, "the MRN system, the email and the practitioner")
        let screen = fixture.screen
        let mrn = try #require(screen.row(containing: "example.org/mrn"))
        let column = try #require(screen.column(of: "example", row: mrn))
        #expect(screen[column, mrn].role == .match && screen[column - 1, mrn].role != .match, "only the match is highlighted")
        await fixture.console.press(.character("n"))
        #expect(fixture.screen.line(containing: "match 2 of \(count)") != nil)
        await fixture.console.press(.character("N"))
        #expect(fixture.screen.line(containing: "match 1 of \(count)") != nil)
        await fixture.console.press(.character("N"))
        #expect(fixture.screen.line(containing: "match \(count) of \(count) lines with \"EXAMPLE\" (from the bottom)") != nil)
        await fixture.console.press(.character("/"), .control("u"))
        await fixture.console.type("no such text\n")
        #expect(fixture.screen.line(containing: "no match for \"no such text\" in row \(fixture.contents.zoeRowID)") != nil)
    }

    @Test func yCopiesTheErrorThroughOSC52AndIntoAnOwnerOnlyFileBesideTheStore() async throws {
        let fixture = try await ConsoleFixture.make()
        let id = fixture.contents.birthdateFailureRowID
        await openRow(id, in: fixture)
        await fixture.console.press(.character("y"))
        #expect(fixture.screen.line(containing: "Copy from row \(id)") != nil, "asks: the error or the payload")
        await fixture.console.press(.enter)
        let row = try #require(try await fixture.store.row(id: id))
        let error = try #require(row.error)
        let expected = RowActions.errorText(error)
        #expect(expected.hasPrefix("INVALID_FIELD [Birthdate]: ") && expected.contains("errorCode"), "code, fields, message and the remote answer")
        let handoffs = fixture.console.session.takeHandoffs()
        #expect(handoffs == [.clipboard("\u{1b}]52;c;" + Data(expected.utf8).base64EncodedString() + "\u{07}")])
        let path = URL(fileURLWithPath: fixture.store.path).deletingLastPathComponent().appendingPathComponent("stagelink-copied.txt").path
        #expect(try String(contentsOfFile: path, encoding: .utf8) == expected)
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        #expect(fixture.screen.line(containing: "copied the error of row \(id) to the clipboard (OSC 52) and to /") != nil)

        await fixture.console.press(.character("y"), .down, .enter)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == RowActions.payloadText(row), "the second choice is the payload, verbatim")
    }

    @Test func oHandsThePayloadToThePagerEscapedInAnOwnerOnlyFile() async throws {
        let fixture = try await ConsoleFixture.make()
        await openRow(fixture.contents.hostileRowID, in: fixture)
        await fixture.console.press(.character("o"))
        let handoffs = fixture.console.session.takeHandoffs()
        guard case .pager(let path) = try #require(handoffs.first) else {
            Issue.record("o hands a file to the pager, got \(handoffs)")
            return
        }
        defer { unlink(path) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(#"\u{9b}31m"#), "the hostile name's raw C1 control is escaped for the pager as for the screen")
        #expect(!text.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x9b })
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
    }

    @Test func yOnAListCopiesTheSelectedRowsErrorLine() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("/"))
        await fixture.console.type("failed\n")
        await fixture.console.press(.character("y"))
        let row = try #require(try await fixture.store.row(id: fixture.contents.failedRowIDs[0]))
        let line = "\(row.error?.code ?? ""): \(row.error?.message ?? "")\n"
        #expect(fixture.console.session.takeHandoffs() == [.clipboard(of: line)])
    }
}
