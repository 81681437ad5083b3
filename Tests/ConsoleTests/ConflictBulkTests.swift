import Foundation
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import Testing
@testable import Console

/// Conflicts in bulk: open ones first and alone, decided ones behind the filter, marked with space
/// or all at once, settled with one reason.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct ConflictBulkTests {
    /// Holds a Phone conflict for a person on each of these rows (Contact p1, p2, …).
    static func holdConflicts(on rows: [Int64], in store: SQLiteStore) async throws {
        let outcomes = rows.enumerated().map { index, row in
            LinkOutcome(
                rowID: row, actor: .system, at: Date(), status: .linked, attempt: .linked,
                conflicts: [
                    ConflictRecord(
                        record: MappedRecordKey(object: "Contact", key: "p\(index + 1)"), field: "Phone", rowID: row, emrValue: .text("+1 555 020\(index)"),
                        salesforceValue: .text("+1 555 030\(index)"), rule: .hold, winner: nil)
                ])
        }
        try await store.record(outcomes)
    }

    @Test func openConflictsComeFirstAndAloneAndDecidedOnesAreBehindTheFilter() async throws {
        let fixture = try await ConsoleFixture.make(tab: .conflicts)
        var screen = fixture.screen
        #expect(screen.line(containing: "Conflicts(open)[1 open]") != nil)
        #expect(screen.line(containing: "? open") != nil)
        #expect(screen.line(containing: "⚖ decided") == nil, "decided conflicts are not mixed in")
        await fixture.console.press(.character("/"), .control("u"))
        await fixture.console.type("decided\n")
        screen = fixture.screen
        #expect(screen.line(containing: "⚖ decided")?.contains("zoe.m@example.org") == true)
        #expect(screen.line(containing: "? open") == nil)
    }

    @Test func spaceMarksAndEResolvesEveryMarkedConflictWithOneReason() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(tab: .conflicts, actions: actions)
        try await Self.holdConflicts(on: Array(fixture.contents.failedRowIDs.prefix(3)), in: fixture.store)
        await fixture.console.press(.control("r"))
        let open = try await fixture.store.conflicts(ConflictQuery(statuses: [.open])).map(\.id)
        #expect(open.count == 4)
        #expect(fixture.screen.line(containing: "Conflicts(open)[4 open]") != nil)
        await fixture.console.press(.character("g"), .character(" "), .character(" "), .character(" "))
        #expect(fixture.screen.line(containing: "● 3 marked") != nil)
        await fixture.console.press(.character("e"))
        #expect(fixture.screen.line(containing: "Take the EMR value for 3 marked conflicts — reason:") != nil)
        await fixture.console.type("the EMR is where patients update their numbers\n")
        #expect(actions.performed == [.resolveConflicts(ids: Array(open.prefix(3)).sorted(), taking: .emr, reason: "the EMR is where patients update their numbers")])
        #expect(fixture.screen.line(containing: "marked") == nil, "the marks were for that action")
    }

    @Test func aMarksEveryOpenConflictTheFilterShowsAndEscUnmarks() async throws {
        let fixture = try await ConsoleFixture.make(tab: .conflicts)
        try await Self.holdConflicts(on: Array(fixture.contents.failedRowIDs.prefix(5)), in: fixture.store)
        await fixture.console.press(.control("r"))
        await fixture.console.press(.character("a"))
        #expect(fixture.screen.line(containing: "● 6 marked") != nil)
        #expect(fixture.screen.line(containing: "marked 6 open conflicts") != nil)
        await fixture.console.press(.escape)
        #expect(fixture.screen.line(containing: "● 6 marked") == nil)
        await fixture.console.press(.character("/"), .control("u"))
        await fixture.console.type("decided\n")
        await fixture.console.press(.character(" "))
        #expect(fixture.screen.line(containing: "only open conflicts are marked to resolve") != nil)
    }

    @Test func threeConflictsAreResolvedAtOnceThroughTheEngine() async throws {
        let store = try SQLiteStore.temporary("console-bulk-conflicts")
        let mapping = try MappingDocument.load(contentsOf: ConsoleFixture.repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        let contents = try await SeededStore.fill(store, mapping: mapping, rows: 120, failures: 10)
        try await Self.holdConflicts(on: Array(contents.failedRowIDs.prefix(2)), in: store)
        let target = InMemoryUpsertTarget()
        let operations = Operations(store: store, mapping: mapping, inbound: InboundLinker(store: store, target: target, mapping: mapping))
        let console = try HeadlessConsole(
            store: store, actions: OperationsConsoleActions(operations: operations),
            configuration: ConsoleFixture.configuration(store: store, mapping: mapping, now: Date(), tab: .conflicts, readOnly: false))
        await console.start()
        await console.press(.character("a"), .character("e"))
        await console.type("the EMR has what the patient gave at intake\n")
        #expect(console.screen.line(containing: "✓ resolved 3 of 3 conflicts: the emr value taken (audited)") != nil)
        #expect(try await store.countConflicts(status: .open) == 0)
        let resolved = try await store.conflicts(ConflictQuery(statuses: [.resolved]))
        #expect(resolved.count == 3 && resolved.allSatisfy { $0.reason == "the EMR has what the patient gave at intake" && $0.resolvedBy == .operator("alice") })
        #expect(console.screen.line(containing: "no conflicts wait for a person") != nil)
        #expect(console.screen.text(row: 3).contains(" 6 Conflicts ") && !console.screen.text(row: 3).contains("held"))
    }
}
