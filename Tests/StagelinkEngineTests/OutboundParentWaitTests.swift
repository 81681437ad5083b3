import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

/// Outbound, an admission depends on its Contact: the Patient it makes is that Contact's.
/// While the Contact's own row here failed (its change to its Patient refused), the admission waits on it
/// (`WAITING_ON_PARENT`, naming the Contact's row) and sends nothing; it links by itself once the
/// Contact links. An outgoing record reports every problem of its fields at once.
struct OutboundParentWaitTests {
    static let contactID = EMRWriteModeTests.contactID
    static let admissionID = EMRWriteModeTests.admissionID

    /// A ready admission whose Contact's values differ from the fixture's by `contact`.
    static func admission(contact changes: [String: JSONValue]) -> IncomingRecord {
        var contact: JSONObject = [
            "FirstName": "Zoë", "LastName": "Müller", "Birthdate": "1984-02-29", "Gender__c": "Female", "Phone": "+1 555 0100",
            "Email": .null, "MailingStreet": .null, "MailingCity": .null, "MailingState": .null, "MailingPostalCode": .null,
        ]
        for (field, value) in changes { contact[field] = value }
        let record: JSONValue = [
            "attributes": ["type": "Admission__c"], "Id": .string(admissionID), "SystemModstamp": .string(Timestamp.format(Date())),
            "LastModifiedById": "005HUMAN", "Stage__c": "Ready for Intake", "Contact__c": .string(contactID), "EMR_ServiceRequest_Id__c": .null,
            "Referral_Source__c": "Dr. Hale", "Contact__r": .object(contact),
        ]
        return IncomingRecord(
            system: .salesforce, resourceType: "Admission__c", sourceID: admissionID, version: nil, lastUpdated: Date(), payload: JSONWriter.compact(record))
    }

    static func harness() async throws -> Harness {
        let harness = try await Harness.make()
        harness.target.seed("Contact", id: contactID)
        harness.target.seed("Admission__c", id: admissionID)
        return harness
    }

    /// The Contact carries EMR id p1, a Patient the EMR does not have yet: its change fails.
    static func stageContactWhosePatientIsMissingAndItsAdmission(_ harness: Harness) async throws -> (contact: Int64, admission: Int64) {
        let contact = try await harness.stage([
            Fixtures.salesforceContact(id: contactID, patientID: "p1", changes: ["Phone": "+1 555 0199"], modified: Date(timeIntervalSince1970: 1_790_000_000))
        ])
        let admission = try await harness.stage([EMRWriteModeTests.admission()])
        return (contact.rowIDs[0], admission.rowIDs[0])
    }

    @Test func anAdmissionWhoseContactFailedWaitsNamingTheContactsRowAndSendsNothing() async throws {
        let harness = try await Self.harness()
        let rows = try await Self.stageContactWhosePatientIsMissingAndItsAdmission(harness)
        try await harness.linkOutbound()
        let contact = try await harness.row(rows.contact)
        let admission = try await harness.row(rows.admission)
        #expect(contact.status == .failed)
        #expect(contact.error?.code == "EMR_NOT_FOUND", "\(contact.error?.description ?? "")")
        #expect(admission.status == .failed)
        #expect(admission.error?.code == "WAITING_ON_PARENT", "\(admission.error?.description ?? "")")
        #expect(admission.error?.message.contains("Contact \(Self.contactID) (row \(rows.contact), failed EMR_NOT_FOUND)") == true, "\(admission.error?.message ?? "")")
        #expect(harness.emr.resources("Patient").isEmpty, "no Patient made for a Contact whose own Patient is in doubt")
        #expect(harness.emr.resources("ServiceRequest").isEmpty)
        let parent = try #require(try await harness.store.parents(ofRows: [rows.admission])[rows.admission])
        #expect(parent.key == SourceKey(system: .salesforce, resourceType: "Contact", sourceID: Self.contactID))
        #expect(parent.row?.id == rows.contact)
        #expect(!parent.isLinked)
        let facts = try await ServiceHealth.read(from: harness.store)
        #expect(facts.failedRows == 1, "the Contact is to fix; the admission waits")
    }

    @Test func onceTheContactLinksTheWaitingAdmissionLinksInTheSameRetry() async throws {
        let harness = try await Self.harness()
        let rows = try await Self.stageContactWhosePatientIsMissingAndItsAdmission(harness)
        try await harness.linkOutbound()
        // The Patient reaches the EMR; the Contact is retried by hand and takes its admission along.
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1"))
        _ = try await harness.operations.retry(.rows([rows.contact]), by: "dana")
        #expect(try await harness.row(rows.contact).status == .linked)
        let admission = try await harness.row(rows.admission)
        #expect(admission.status == .linked, "\(admission.error?.description ?? "")")
        #expect(harness.emr.resources("ServiceRequest").count == 1)
        #expect(harness.target.records(of: "Admission__c")[Self.admissionID]?["EMR_ServiceRequest_Id__c"] != nil)
    }

    @Test func theOutboundCycleStepLinksAdmissionsWhoseContactLinkedInIt() async throws {
        let harness = try await Self.harness()
        let rows = try await Self.stageContactWhosePatientIsMissingAndItsAdmission(harness)
        try await harness.linkOutbound()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1"))
        // As the cycle's push step: the Contact's failure retried, then what waited on it.
        let recorder = try await JobRecorder.start(.push, direction: .outbound, actor: .system, store: harness.store, meters: [], logger: .init(label: "test"))
        try await harness.outbound.link(ClaimRequest(system: .salesforce, statuses: [.failed], rowIDs: [rows.contact]), recorder: recorder, stop: StopSignal())
        try await harness.outbound.linkPending(recorder: recorder, stop: StopSignal())
        #expect(try await harness.row(rows.admission).error?.code == "WAITING_ON_PARENT", "not claimed by the pending pass")
        #expect(try await harness.store.rowsWaitingOnLinkedParents(system: .salesforce, limit: 10) == [rows.admission])
        try await harness.outbound.linkWaitingChildren(recorder: recorder, stop: StopSignal())
        let job = try await recorder.finish()
        #expect(try await harness.row(rows.admission).status == .linked)
        #expect(job.counts.linked == 2, "the Contact and its admission in one job")
    }

    @Test func anAdmissionWhoseContactIsSettledOrNeverStagedDoesNotWait() async throws {
        let harness = try await Self.harness()
        // A referral Contact without an EMR id links with nothing to send: settled.
        let referral = Fixtures.salesforceContact(
            id: Self.contactID, patientID: "", changes: ["EMR_Patient_Id__c": .null], modified: Date(timeIntervalSince1970: 1_790_000_000))
        let contact = try await harness.stage([referral])
        let admission = try await harness.stage([EMRWriteModeTests.admission()])
        // The EMR refuses the Patient for a lasting reason: the admission's own failure, not a wait.
        harness.emr.failNextWrite(with: LinkError(code: "business-rule", message: "the EMR refused the Patient"))
        try await harness.linkOutbound()
        #expect(try await harness.row(contact.rowIDs[0]).status == .linked)
        #expect(try await harness.row(admission.rowIDs[0]).error?.code == "business-rule")
    }

    @Test func anAdmissionReportsEveryProblemOfItsFieldsAtOnce() async throws {
        let harness = try await Self.harness()
        let staged = try await harness.stage([Self.admission(contact: ["Birthdate": "1985-13-45", "Gender__c": "Robot", "FirstName": "Zo\u{1B}[31m"])])
        try await harness.linkOutbound()
        let error = try #require(try await harness.row(staged.rowIDs[0]).error)
        let fields = Set(error.all.flatMap(\.fields))
        #expect(error.all.count == 3, "\(error.all.map(\.description))")
        #expect(fields == ["FirstName", "Birthdate", "Gender__c"])
        #expect(error.all.map(\.code).allSatisfy { $0.hasPrefix("MAPPING_") })
        #expect(harness.emr.resources("Patient").isEmpty)
    }

    @Test func aContactChangeReportsEveryProblemOfItsFieldsAtOnce() async throws {
        let harness = try await Self.harness()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1"))
        let staged = try await harness.stage([
            Fixtures.salesforceContact(
                id: Self.contactID, patientID: "p1", changes: ["Phone": "+1 555\u{7}0100", "MailingCity": "Bad\u{1B}City"],
                modified: Date(timeIntervalSince1970: 1_790_000_000))
        ])
        try await harness.linkOutbound()
        let row = try await harness.row(staged.rowIDs[0])
        let error = try #require(row.error)
        #expect(Set(error.all.flatMap(\.fields)) == ["Phone", "MailingCity"], "\(error.all.map(\.description))")
        #expect(harness.emr.resource("Patient", id: "p1")?["meta"]?["versionId"] == "1", "nothing sent")
    }
}
