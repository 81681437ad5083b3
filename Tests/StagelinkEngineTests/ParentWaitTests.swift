import Foundation
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import Testing

/// A row refused while its parent is not linked yet waits for it (`WAITING_ON_PARENT`, naming the
/// parent's row), is not a failure to fix by hand, and links by itself once the parent links.
struct ParentWaitTests {
    static func episode(_ id: String, patient: String) -> IncomingRecord {
        Fixtures.rawRecord(
            #"{"resourceType":"EpisodeOfCare","id":"\#(id)","status":"active","patient":{"reference":"Patient/\#(patient)"},"period":{"start":"2026-01-05"}}"#,
            id: id, resourceType: "EpisodeOfCare")
    }

    /// The Patient named Lock hits a row lock; a Contact upsert without a LastName (an episode
    /// whose Contact does not exist yet) is refused as Salesforce refuses it.
    static let lockedThenRequired: InMemoryUpsertTarget.FailureRule = { object, fields in
        if fields["LastName"] == .text("Lock") { return LinkError(code: "UNABLE_TO_LOCK_ROW", message: "unable to obtain exclusive access to this record") }
        if object == "Contact", fields["LastName"] == nil {
            return LinkError(
                code: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [LastName]", fields: ["LastName"],
                remoteBody: #"[{"errorCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]"#)
        }
        return nil
    }

    @Test func anEpisodeWhosePatientHitARowLockWaitsNamingThePatientsRow() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords(Self.lockedThenRequired)
        let staged = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Lock")), Self.episode("e1", patient: "p1")])
        try await harness.link()
        let patient = try await harness.row(staged.rowIDs[0])
        let episode = try await harness.row(staged.rowIDs[1])
        #expect(patient.error?.code == "UNABLE_TO_LOCK_ROW")
        #expect(episode.status == .failed)
        #expect(episode.error?.code == "WAITING_ON_PARENT")
        #expect(episode.error?.message.contains("Patient p1 (row \(staged.rowIDs[0]), failed UNABLE_TO_LOCK_ROW)") == true, "\(episode.error?.message ?? "")")
        #expect(episode.error?.remoteBody?.contains("REQUIRED_FIELD_MISSING") == true, "the other system's answer is kept")
        let parent = try #require(try await harness.store.parents(ofRows: [episode.id])[episode.id])
        #expect(parent.key == SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1"))
        #expect(parent.row?.id == staged.rowIDs[0])
        #expect(!parent.isLinked)
        #expect(try await harness.store.rowsWaitingOnLinkedParents(system: .emr, limit: 10).isEmpty, "its parent is not linked yet")
    }

    @Test func onceThePatientLinksTheCyclesLinkStepLinksTheWaitingEpisodeToo() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords(Self.lockedThenRequired)
        let staged = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Lock")), Self.episode("e1", patient: "p1")])
        try await harness.link()
        // The lock is gone: the next cycle's link step retries the transient failure, then the
        // rows that waited on it, in the same job.
        harness.target.failRecords(nil)
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: harness.store, meters: [], logger: .init(label: "test"))
        try await harness.linker.link(
            ClaimRequest(system: .emr, statuses: [.failed], errorCodes: LinkError.transientCodes), recorder: recorder, stop: StopSignal())
        try await harness.linker.linkPending(recorder: recorder, stop: StopSignal())
        try await harness.linker.linkWaitingChildren(recorder: recorder, stop: StopSignal())
        let job = try await recorder.finish()
        #expect(try await harness.row(staged.rowIDs[0]).status == .linked)
        #expect(try await harness.row(staged.rowIDs[1]).status == .linked, "the episode linked in the same job as its patient")
        #expect(job.counts.linked == 2)
        #expect(harness.target.record("Contact", externalID: "p1")?["Clinical_Status__c"] == .text("Active"))
    }

    @Test func aRetryByHandOfThePatientTakesItsWaitingEpisodeAlong() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords(Self.lockedThenRequired)
        let staged = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Lock")), Self.episode("e1", patient: "p1")])
        try await harness.link()
        harness.target.failRecords(nil)
        _ = try await harness.operations.retry(.rows([staged.rowIDs[0]]), by: "dana")
        #expect(try await harness.row(staged.rowIDs[1]).status == .linked)
    }

    @Test func aRowWhoseParentIsLinkedOrWhoseOwnMappingFailsIsAFailureToFixByHand() async throws {
        let harness = try await Harness.make()
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1"))])
        try await harness.link()
        // Salesforce refuses this episode although its Contact exists: not the parent's doing.
        harness.target.failRecords { object, fields in
            fields["Clinical_Status__c"] != nil ? LinkError(code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", message: "Discharge needs a date") : nil
        }
        let linkedParent = try await harness.stage([Self.episode("e1", patient: "p1")])
        // An episode of an unlinked patient whose own date is wrong fails by its mapping.
        let badDate = try await harness.stage([
            Fixtures.rawRecord(
                #"{"resourceType":"EpisodeOfCare","id":"e2","status":"active","patient":{"reference":"Patient/p9"},"period":{"start":"yesterday"}}"#,
                id: "e2", resourceType: "EpisodeOfCare")
        ])
        try await harness.link()
        #expect(try await harness.row(linkedParent.rowIDs[0]).error?.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION")
        // An episode of a patient never staged here (a dangling reference) waits for nothing.
        harness.target.failRecords(Self.lockedThenRequired)
        let dangling = try await harness.stage([Self.episode("e3", patient: "p404")])
        try await harness.link()
        #expect(try await harness.row(dangling.rowIDs[0]).error?.code == "REQUIRED_FIELD_MISSING")
        #expect(try await harness.row(badDate.rowIDs[0]).error?.code.hasPrefix("MAPPING_") == true)
    }

    /// An encrypted store writes no person document, but still each row's parent (read from the
    /// payloads that declare one, before they are sealed): its rows wait on their parent the same way.
    @Test func inAnEncryptedStoreAnEpisodeStillWaitsOnItsPatient() async throws {
        let harness = try await Harness.make(encrypted: true)
        harness.target.failRecords(Self.lockedThenRequired)
        let staged = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Lock")), Self.episode("e1", patient: "p1")])
        #expect(try await harness.store.parents(ofRows: [staged.rowIDs[0]]).isEmpty, "a Patient has no parent")
        try await harness.link()
        let episode = try await harness.row(staged.rowIDs[1])
        #expect(episode.error?.code == "WAITING_ON_PARENT")
        #expect(try await harness.store.parents(ofRows: [episode.id])[episode.id]?.row?.id == staged.rowIDs[0])
    }

    @Test func healthDoesNotCountRowsWaitingOnTheirParentAsFailures() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords(Self.lockedThenRequired)
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Lock")), Self.episode("e1", patient: "p1")])
        try await harness.link()
        let facts = try await ServiceHealth.read(from: harness.store)
        #expect(facts.failedRows == 1, "the Patient's row lock; the episode waits")
    }
}
