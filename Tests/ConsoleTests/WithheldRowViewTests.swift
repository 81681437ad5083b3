import Foundation
import StagelinkEngine
import StagelinkFakes
import Testing
@testable import Console

/// A row a security label withheld reads as a reason, not a failure, and the Staged list filters it.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct WithheldRowViewTests {
    @Test func theDetailOfAWithheldRowNamesItsLabelAsTheReasonNotAsAFailure() async throws {
        let fixture = try await ConsoleFixture.make()
        let labelled = #"{"resourceType":"Patient","id":"w1","meta":{"versionId":"1","security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"42CFRPart2"}]},"name":[{"family":"Withheld"}]}"#
        let staged = try await fixture.store.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "w1", version: "1", lastUpdated: Date(), payload: Array(labelled.utf8))],
            job: nil, advancing: nil)
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: fixture.store, meters: [], logger: .init(label: "test"))
        let linker = InboundLinker(store: fixture.store, target: InMemoryUpsertTarget(), mapping: fixture.mapping)
        try await linker.link(ClaimRequest(statuses: [.staged], rowIDs: staged.rowIDs), recorder: recorder, stop: StopSignal())
        _ = try await recorder.finish()

        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(staged.rowIDs[0])\n")
        let screen = fixture.screen
        #expect(screen.line(containing: "⊗ withheld") != nil)
        #expect(screen.role(of: "⊗ withheld") == .warning)
        #expect(screen.line(containing: "Withheld") != nil)
        #expect(screen.line(containing: "code         WITHHELD_BY_LABEL") != nil)
        #expect(screen.role(of: "WITHHELD_BY_LABEL") == .warning, "not coloured as an error")
        #expect(screen.line(containing: "42CFRPart2 (http://terminology.hl7.org/CodeSystem/v3-ActCode)") != nil)
        #expect(screen.line(containing: "why the last link failed") == nil)
        #expect(RowFilterSyntax.parse("status:withheld").statuses == [.withheld])
    }
}

/// Opening a row's detail in the console is a read of its evidence: it is logged.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct DetailAccessLogTests {
    @Test func openingARowsDetailRecordsTheOperatorOnceNotOnEveryRefresh() async throws {
        let fixture = try await ConsoleFixture.make()
        let id = fixture.contents.birthdateFailureRowID
        #expect(try await fixture.store.accessLog(AccessQuery(rowID: id)).isEmpty)
        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(id)\n")
        await fixture.console.poll()
        let log = try await fixture.store.accessLog(AccessQuery(rowID: id))
        #expect(log.count == 1)
        #expect(log.first?.via == .console)
        #expect(log.first?.operatorName == fixture.console.session.operatorName)
    }
}
