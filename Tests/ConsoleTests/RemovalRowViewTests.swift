import Foundation
import StagelinkEngine
import StagelinkFakes
import Testing
@testable import Console

/// A merge staged from the EMR reads as one: the detail names the loser and the survivor.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct RemovalRowViewTests {
    @Test func theDetailOfAMergeShowsItsLoserAndSurvivor() async throws {
        let fixture = try await ConsoleFixture.make()
        let merged = #"{"resourceType":"Patient","id":"m1","meta":{"versionId":"2"},"active":false,"link":[{"other":{"reference":"Patient/s9"},"type":"replaced-by"}]}"#
        let staged = try await fixture.store.stage(
            [
                IncomingRecord(
                    system: .emr, resourceType: "Patient", sourceID: "m1", version: "2", lastUpdated: Date(), payload: Array(merged.utf8),
                    kind: .merge, survivorID: "s9")
            ],
            job: nil, advancing: nil)
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: fixture.store, meters: [], logger: .init(label: "test"))
        let linker = InboundLinker(store: fixture.store, target: InMemoryUpsertTarget(), mapping: fixture.mapping)
        try await linker.link(ClaimRequest(statuses: [.staged], rowIDs: staged.rowIDs), recorder: recorder, stop: StopSignal())
        _ = try await recorder.finish()
        #expect(try await fixture.store.row(id: staged.rowIDs[0])?.status == .linked, "no Contact to move: linked with a note")

        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(staged.rowIDs[0])\n")
        let screen = fixture.screen
        #expect(screen.line(containing: "kind         merge") != nil)
        #expect(screen.line(containing: "loser        Patient m1 (merged away)") != nil)
        #expect(screen.line(containing: "survivor     Patient s9") != nil)
        #expect(screen.line(containing: "was merged away in the EMR; it has no Contact to update") != nil)
    }
}
