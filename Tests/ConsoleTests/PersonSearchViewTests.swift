import Foundation
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// A support person finds a patient by name: `/müller` (or `/muller`) lists that person's rows with
/// a NAME column, the conflicts name the person, and the header counts down to the next cycle.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct PersonSearchViewTests {
    @Test func slashMullerListsThePersonsRowsWithTheirNames() async throws {
        let fixture = try await ConsoleFixture.make()
        let expected = try await fixture.store.countRows(RowFilter(text: "müller"))
        #expect(expected > 10, "one seeded patient in eight is a Müller")
        await fixture.console.press(.character("/"))
        await fixture.console.type("müller\n")
        let screen = fixture.screen
        #expect(screen.line(containing: "Staged(müller)[\(expected)]") != nil, "\(screen.text(row: 3))")
        #expect(screen.line(containing: "NAME") != nil, "the list has a NAME column at 120 columns")
        let selected = try #require(screen.line(containing: "▸"))
        #expect(selected.contains("Zoë Müller"), "\(selected)")
        #expect(!screen.text.contains("José Peña"), "nobody else is listed")
    }

    @Test func theNameIsFoundWithoutItsAccentsAndInAnyCase() async throws {
        let fixture = try await ConsoleFixture.make()
        let expected = try await fixture.store.countRows(RowFilter(text: "müller"))
        await fixture.console.press(.character("/"))
        await fixture.console.type("ZOE muller\n")
        #expect(fixture.screen.line(containing: "Staged(ZOE muller)[\(expected)]") != nil)
        #expect(fixture.screen.line(containing: "▸")?.contains("Zoë Müller") == true)
    }

    @Test func anMRNFindsOnePatient() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("/"))
        await fixture.console.type("MRN100009\n")
        #expect(fixture.screen.line(containing: "Staged(MRN100009)[1]") != nil)
        #expect(fixture.screen.line(containing: "▸")?.contains("p9") == true)
    }

    @Test func theNameColumnGivesWayOnANarrowTerminalAndTheErrorKeepsItsRoom() async throws {
        let fixture = try await ConsoleFixture.make(width: 80, height: 24)
        #expect(fixture.screen.line(containing: "NAME") == nil, "at 80 columns the name gives way")
        #expect(fixture.screen.line(containing: "ERROR") != nil)
    }

    @Test func conflictsNameThePerson() async throws {
        let fixture = try await ConsoleFixture.make(tab: .conflicts)
        let open = try #require(try await fixture.store.conflicts(ConflictQuery(statuses: [.open])).first)
        #expect(open.personName == "Zoë Müller")
        let line = try #require(fixture.screen.line(containing: "? open"))
        #expect(line.contains("Zoë Müller"), "\(line)")
        #expect(fixture.screen.line(containing: "Selected conflict: Zoë Müller · Contact p0 Phone") != nil)
    }

    @Test func theHeaderCountsDownToTheNextScheduledCycle() async throws {
        let store = try SQLiteStore.temporary("console-next-cycle")
        let mapping = try MappingDocument.load(contentsOf: ConsoleFixture.repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        let now = Date()
        _ = try await store.acquireLease(LeaseHolder(name: "stagelink", host: "demo-host", pid: 4242), for: .seconds(600))
        var link = try await store.startJob(kind: .link, direction: .inbound, actor: .system)
        link.status = .succeeded
        link.startedAt = now.addingTimeInterval(-320)
        link.finishedAt = now.addingTimeInterval(-300)
        try await store.updateJob(link)
        // A person's retry after the cycle does not move the schedule.
        var retry = try await store.startJob(kind: .retry, direction: nil, actor: .operator("dana"), trigger: .manual)
        retry.status = .succeeded
        retry.finishedAt = now.addingTimeInterval(-10)
        try await store.updateJob(retry)
        var configuration = ConsoleFixture.configuration(store: store, mapping: mapping, now: now, tab: .live, readOnly: false)
        configuration.healthThresholds = ServiceHealth.Thresholds(every: .seconds(900))
        let console = try HeadlessConsole(store: store, actions: RecordingActions(), configuration: configuration, width: 160, height: 40)
        await console.start()
        #expect(console.screen.line(containing: "idle · next cycle in 10m") != nil, "\(console.screen.text(row: 1))")

        configuration.healthThresholds = ServiceHealth.Thresholds(every: .seconds(60))
        let late = try HeadlessConsole(store: store, actions: RecordingActions(), configuration: configuration, width: 160, height: 40)
        await late.start()
        #expect(late.screen.line(containing: "idle · next cycle due now") != nil, "\(late.screen.text(row: 1))")
    }
}
