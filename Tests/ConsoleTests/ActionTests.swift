import Foundation
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import Testing
@testable import Console

/// Actions from the keyboard: what is asked first, what the actions are handed, who is named,
/// and what the status line says.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct ActionTests {
    private func open(_ fixture: ConsoleFixture, filter: String) async {
        await fixture.console.press(.character("/"))
        await fixture.console.type(filter + "\n")
    }

    @Test func rRetriesTheMarkedRowsAsTheOperator() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(actions: actions)
        await open(fixture, filter: "failed")
        await fixture.console.press(.character(" "), .character(" "), .character("r"))
        #expect(actions.performed == [.retryRows(Array(fixture.contents.failedRowIDs.prefix(2)))])
        #expect(actions.operators == ["alice"])
        #expect(fixture.screen.line(containing: "✓ did retry") != nil)
        #expect(fixture.screen.line(containing: "marked") == nil, "marks are cleared once the action ran")
    }

    @Test func rOnARowThatIsNotFailedSaysSoInsteadOfRetrying() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(actions: actions)
        await fixture.console.press(.character("r"))
        #expect(actions.performed.isEmpty)
        #expect(fixture.screen.line(containing: "row 1 is linked: only failed or staged rows are retried") != nil)
    }

    @Test func shiftRAsksWithTheCountBeforeRetryingAWholeErrorCode() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(actions: actions)
        await open(fixture, filter: "code:INVALID_FIELD")
        await fixture.console.press(.character("R"))
        var screen = fixture.screen
        #expect(screen.line(containing: "Retry all 16 failed rows with error code") != nil)
        #expect(screen.line(containing: "as alice?") != nil)
        #expect(screen.text(row: 39).contains("<y> yes") && screen.text(row: 39).contains("<n> no"))
        await fixture.console.press(.character("n"))
        #expect(actions.performed.isEmpty)
        #expect(fixture.screen.line(containing: "cancelled") != nil)
        await fixture.console.press(.character("R"), .character("y"))
        #expect(actions.performed == [.retryErrorCode("INVALID_FIELD")])
        screen = fixture.screen
        #expect(screen.line(containing: "Retry all") == nil)
    }

    @Test func iAsksForAReasonAndWillNotTakeAnEmptyOne() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(actions: actions)
        await open(fixture, filter: "failed")
        await fixture.console.press(.character("i"))
        let id = fixture.contents.failedRowIDs[0]
        #expect(fixture.screen.line(containing: "Ignore row \(id) — reason:") != nil)
        await fixture.console.press(.enter)
        #expect(actions.performed.isEmpty)
        #expect(fixture.screen.line(containing: "required: why these rows are set aside") != nil)
        await fixture.console.type("duplicate of p17, merged in the EMR\n")
        #expect(actions.performed == [.ignore(rows: [id], reason: "duplicate of p17, merged in the EMR")])
    }

    @Test func pPushesASalesforceRowAndShowsTheIDTheEMRReturned() async throws {
        let actions = RecordingActions()
        actions.outcome = { _ in ActionOutcome(summary: "pushed Admission__c a0B5g0000000099", emrIDs: ["Patient/8812", "ServiceRequest/77"]) }
        let fixture = try await ConsoleFixture.make(actions: actions)
        await open(fixture, filter: "object:Admission__c")
        await fixture.console.press(.character("p"))
        #expect(actions.performed == [.push(.row(fixture.contents.admissionRowID))])
        #expect(fixture.screen.line(containing: "✓ pushed Admission__c a0B5g0000000099 → EMR Patient/8812, ServiceRequest/77") != nil)
    }

    @Test func pOnAnEMRRowAsksForTheSalesforceID() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(actions: actions)
        await fixture.console.press(.character("p"))
        #expect(fixture.screen.line(containing: "Push to the EMR — Salesforce id:") != nil)
        await fixture.console.type("a0B5g00000XyZ12\n")
        #expect(actions.performed == [.push(.salesforceID("a0B5g00000XyZ12"))])
    }

    @Test func sRunsASyncNowAndEAndFResolveAnOpenConflictWithAReason() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(tab: .conflicts, actions: actions)
        await fixture.console.press(.character("s"))
        #expect(actions.performed == [.syncNow])
        let open = try #require(await fixture.store.conflicts(ConflictQuery(statuses: [.open])).first)
        await fixture.console.press(.character("/"))
        await fixture.console.type("open\n")
        await fixture.console.press(.character("f"))
        #expect(fixture.screen.line(containing: "Take the Salesforce value for Contact p0 Phone — reason:") != nil)
        await fixture.console.type("the front desk confirmed the new number\n")
        #expect(actions.performed.last == .resolveConflict(id: open.id, taking: .salesforce, reason: "the front desk confirmed the new number"))
        await fixture.console.press(.escape)
        await fixture.console.press(.character("/"))
        await fixture.console.type("decided\n")
        await fixture.console.press(.character("e"))
        #expect(fixture.screen.line(containing: "is decided: only open conflicts wait for a person") != nil)
    }

    @Test func enterOnAPolicyFieldPicksARuleThenAsksWhy() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(tab: .policy, actions: actions)
        await fixture.console.press(.character("/"))
        await fixture.console.type("Birthdate\n")
        await fixture.console.press(.enter)
        var screen = fixture.screen
        #expect(screen.line(containing: "Rule for Contact.Birthdate") != nil)
        #expect(screen.line(containing: "▸ emr") != nil, "the current rule is chosen to start with")
        #expect(screen.line(containing: "a conflict waits for a person") != nil)
        await fixture.console.press(.down, .down, .enter)
        screen = fixture.screen
        #expect(screen.line(containing: "Contact.Birthdate: emr → emr-unless-blank — reason:") != nil)
        await fixture.console.type("the EMR sends blanks for unknown dates\n")
        #expect(
            actions.performed == [.setPolicy(object: "Contact", field: "Birthdate", rule: .emrUnlessBlank, reason: "the EMR sends blanks for unknown dates")])
    }

    @Test func readOnlyRefusesEveryActionAndSaysSo() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(readOnly: true, actions: actions)
        #expect(fixture.screen.text(row: 3).contains("alice  read-only"))
        #expect(!fixture.screen.text(row: 39).contains("<r> retry"))
        for key: Key in [.character("r"), .character("i"), .character("p"), .character("s")] { await fixture.console.press(key) }
        #expect(actions.performed.isEmpty)
        #expect(fixture.screen.line(containing: "! read-only console (--read-only): sync now is disabled") != nil)
        await fixture.console.press(.character("?"))
        #expect(fixture.screen.line(containing: "This console is read-only (--read-only): every action is disabled.") != nil)
    }

    @Test func anActionTheConsoleCannotDoHereSaysWhyWithoutPrompting() async throws {
        let actions = RecordingActions()
        actions.unavailable[.push] = "pushing needs the service's EMR connection"
        let fixture = try await ConsoleFixture.make(actions: actions)
        #expect(!fixture.screen.text(row: 39).contains("<p> push"))
        await fixture.console.press(.character("p"))
        #expect(fixture.screen.line(containing: "push is not available here: pushing needs the service's EMR connection") != nil)
        #expect(fixture.screen.line(containing: "Salesforce id:") == nil)
    }

    @Test func aRetryThroughTheEngineTurnsTheFailedRowLinkedInPlace() async throws {
        let store = try SQLiteStore.temporary("console-retry")
        let mapping = try MappingDocument.load(contentsOf: ConsoleFixture.repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        let contents = try await SeededStore.fill(store, mapping: mapping, rows: 100, failures: 10)
        let linker = InboundLinker(store: store, target: InMemoryUpsertTarget(), mapping: mapping)
        let actions = OperationsConsoleActions(operations: Operations(store: store, mapping: mapping, inbound: linker))
        let configuration = ConsoleFixture.configuration(store: store, mapping: mapping, now: Date(), tab: .failures, readOnly: false)
        let console = try HeadlessConsole(store: store, actions: actions, configuration: configuration, width: 120, height: 40)
        await console.start()
        await console.press(.enter)
        let id = contents.failedRowIDs[0]
        let before = try #require(console.screen.line(containing: "▸"))
        #expect(before.contains("✗ failed") && before.contains(" \(id) "))
        await console.press(.character("r"))
        let after = try #require(console.screen.line(containing: "▸"))
        #expect(after.contains("✓ linked") && after.contains(" \(id) "), "the row stays where it was, now linked, though the list is of failures")
        #expect(console.screen.line(containing: "✓ retried 1 row (job") != nil)
        #expect(console.screen.line(containing: ": 1 linked") != nil)
        #expect(try await store.history(ofRow: id).last?.actor == .job(try #require(await store.jobs(before: nil, limit: 1).first?.id)))
        #expect(try await store.jobs(before: nil, limit: 1).first?.actor == .operator("alice"))
        await console.press(.character("j"), .character("k"))
        _ = try await SQLiteStore(path: store.path).setStatus(rowIDs: [contents.failedRowIDs[1]], to: .ignored, from: [.failed], actor: .operator("bob"), note: "x")
        await console.poll()
        #expect(console.screen.line(containing: " \(id) ") == nil, "once the person has moved on, the next refresh shows failures only")
    }
}
