import Foundation
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// A row waiting on its parent shows the parent and where it stands, `P` opens the parent's row,
/// and the Failures view puts waiting rows apart from those to fix by hand.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct ParentRowViewTests {
    /// Stages an episode of Patient p5 (staged, not linked) and fails it as the linker does when
    /// Salesforce refuses it while the patient is not linked.
    static func waitingEpisode(in fixture: ConsoleFixture) async throws -> (episode: Int64, patient: Int64) {
        let text = #"{"resourceType":"EpisodeOfCare","id":"e5","status":"active","patient":{"reference":"Patient/p5"}}"#
        let staged = try await fixture.store.stage(
            [IncomingRecord(system: .emr, resourceType: "EpisodeOfCare", sourceID: "e5", version: "1", lastUpdated: nil, payload: Array(text.utf8))],
            job: nil, advancing: nil)
        let id = staged.rowIDs[0]
        let parent = try #require(try await fixture.store.parents(ofRows: [id])[id])
        _ = try await fixture.store.claimRows(ClaimRequest(rowIDs: [id]), limit: 1, actor: .system)
        let refused = LinkError(code: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [LastName]", fields: ["LastName"])
        try await fixture.store.record([
            LinkOutcome(rowID: id, actor: .system, at: Date(), status: .failed, attempt: .failed, error: .waitingOnParent(parent, after: refused))
        ])
        return (id, try #require(parent.row?.id))
    }

    @Test func theDetailShowsTheParentAndPOpensIt() async throws {
        let fixture = try await ConsoleFixture.make()
        let (episode, patient) = try await Self.waitingEpisode(in: fixture)
        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(episode)\n")
        let line = try #require(fixture.screen.line(containing: "parent"))
        #expect(line.contains("Patient p5 · row \(patient) · staged · not linked yet"), "\(line)")
        #expect(fixture.screen.line(containing: "WAITING_ON_PARENT") != nil)
        await fixture.console.press(.character("P"))
        #expect(fixture.screen.line(containing: "Row \(patient) — EMR Patient p5") != nil)
        await fixture.console.press(.character("q"))
        #expect(fixture.screen.line(containing: "Row \(episode) — EMR EpisodeOfCare e5") != nil, "q goes back to the waiting row")
    }

    /// Outbound: an admission of Contact 003… whose own row failed waits on that row; its detail
    /// names the Contact's row and `P` opens it.
    @Test func anAdmissionWaitingOnItsContactShowsTheContactAndPOpensIt() async throws {
        let fixture = try await ConsoleFixture.make()
        let contactID = "003000000000009AAA"
        let contact = #"{"attributes":{"type":"Contact"},"Id":"\#(contactID)","LastName":"Wartend","EMR_Patient_Id__c":"p404"}"#
        let admission = #"{"attributes":{"type":"Admission__c"},"Id":"a0A000000000009AAA","Contact__c":"\#(contactID)","Stage__c":"Ready for Intake"}"#
        let staged = try await fixture.store.stage(
            [
                IncomingRecord(system: .salesforce, resourceType: "Contact", sourceID: contactID, version: nil, lastUpdated: nil, payload: Array(contact.utf8)),
                IncomingRecord(
                    system: .salesforce, resourceType: "Admission__c", sourceID: "a0A000000000009AAA", version: nil, lastUpdated: nil,
                    payload: Array(admission.utf8)),
            ], job: nil, advancing: nil)
        let (contactRow, admissionRow) = (staged.rowIDs[0], staged.rowIDs[1])
        _ = try await fixture.store.claimRows(ClaimRequest(rowIDs: [contactRow, admissionRow]), limit: 2, actor: .system)
        try await fixture.store.record([
            LinkOutcome(
                rowID: contactRow, actor: .system, at: Date(), status: .failed, attempt: .failed,
                error: LinkError(.emrNotFound, message: "Patient/p404 is not in the EMR"))
        ])
        let parent = try #require(try await fixture.store.parents(ofRows: [admissionRow])[admissionRow])
        try await fixture.store.record([
            LinkOutcome(
                rowID: admissionRow, actor: .system, at: Date(), status: .failed, attempt: .failed,
                error: .waitingOnParent(parent, before: "its Patient is made"))
        ])
        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(admissionRow)\n")
        let line = try #require(fixture.screen.line(containing: "parent"))
        #expect(line.contains("Contact \(contactID) · row \(contactRow) ✗ failed EMR_NOT_FOUND"), "\(line)")
        #expect(line.contains("not linked yet"), "\(line)")
        await fixture.console.press(.character("P"))
        #expect(fixture.screen.line(containing: "Row \(contactRow) — Salesforce Contact \(contactID)") != nil)
    }

    @Test func aRowWithoutAParentSaysSoOnP() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(fixture.contents.zoeRowID)\n")
        await fixture.console.press(.character("P"))
        #expect(fixture.screen.line(containing: "row \(fixture.contents.zoeRowID) depends on no other record") != nil)
    }

    @Test func failuresPutWaitingRowsBetweenThoseToFixByHandAndThoseRetriedByThemselves() async throws {
        let fixture = try await ConsoleFixture.make(tab: .failures)
        _ = try await Self.waitingEpisode(in: fixture)
        await fixture.console.press(.control("r"))
        let screen = fixture.screen
        let waiting = try #require(screen.row(containing: "WAITING_ON_PARENT"))
        #expect(screen.text(row: waiting).contains("⏳ parent"))
        let byHand = try #require(screen.row(containing: "MAPPING_INVALID_DATE"))
        let auto = try #require(screen.row(containing: "UNABLE_TO_LOCK_ROW"))
        #expect(byHand < waiting && waiting < auto, "by hand, then waiting, then retried by itself")
    }
}
