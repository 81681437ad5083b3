import Foundation
import StagelinkEngine
import StagelinkFakes
import Testing
@testable import Console

/// A record with several problems shows them all in its detail, each with its field, so that one
/// fix-and-retry settles them instead of failing again on the next.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct EveryProblemDetailTests {
    @Test func theDetailListsEveryProblemOfTheRecordWithItsFieldAndMarksEachInThePayload() async throws {
        let fixture = try await ConsoleFixture.make(height: 60)
        let patient = #"{"resourceType":"Patient","id":"two-problems","meta":{"versionId":"1"},"name":[{"family":"Zed","given":["Zo\u001b[2Jë"]}],"birthDate":"1985-13-45","gender":"female"}"#
        let staged = try await fixture.store.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "two-problems", version: "1", lastUpdated: Date(), payload: Array(patient.utf8))],
            job: nil, advancing: nil)
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: fixture.store, meters: [], logger: .init(label: "test"))
        let linker = InboundLinker(store: fixture.store, target: InMemoryUpsertTarget(), mapping: fixture.mapping)
        try await linker.link(ClaimRequest(statuses: [.staged], rowIDs: staged.rowIDs), recorder: recorder, stop: StopSignal())
        _ = try await recorder.finish()
        let stored = try #require(try await fixture.store.row(id: staged.rowIDs[0])?.error)
        #expect(stored.all.map(\.code) == [ErrorCode.mappingControlCharacter.rawValue, ErrorCode.mappingInvalidDate.rawValue])

        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(staged.rowIDs[0])\n")
        let screen = fixture.screen
        #expect(screen.line(containing: "code         MAPPING_CONTROL_CHARACTER") != nil, "the first problem is the row's code")
        #expect(screen.line(containing: "fields       FirstName") != nil)
        #expect(screen.line(containing: "also         1 more problem in this record") != nil)
        let further = try #require(screen.line(containing: "MAPPING_INVALID_DATE [Birthdate]"))
        #expect(further.contains("Birthdate (birthDate) is not a valid full date"))
        #expect(screen.role(of: "MAPPING_INVALID_DATE") == .error)
        // Both fields are marked in the payload.
        #expect(screen.line(containing: #""birthDate": "1985-13-45""#)?.contains("▶") == true)
        #expect(screen.line(containing: #""given": ["#)?.contains("▶") == true || screen.line(containing: #"Zo"#)?.contains("▶") == true)
    }
}
