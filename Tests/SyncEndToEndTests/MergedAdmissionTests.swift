import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// An admission of a Contact whose Patient was merged away in the EMR (issue 16): it never writes
/// into the merged-away Patient. It goes to the survivor when the merge handed the Contact to it, and
/// is held with `COUNTERPART_REMOVED` naming both records when the survivor stands for another Contact.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct MergedAdmissionTests {
    static let admissionSystem = "https://stagelink.dev/sid/salesforce-admission"

    /// A seeded admission made ready and pushed (its Patient created with the Contact's identifier and
    /// read back), and a second admission of the same Contact, not ready yet.
    static func pushedAdmission(_ sync: SyncHarness) async throws -> (contact: String, patient: String, second: String) {
        let admissions = sync.inspection.salesforceRecords("Admission__c").filter { $0["Contact__c"]?.stringValue != nil }
        try #require(admissions.count >= 2)
        let first = try #require(admissions[0]["Id"]?.stringValue)
        let contact = try #require(admissions[0]["Contact__c"]?.stringValue)
        try sync.inspection.editSalesforceRecord("Admission__c", id: first, fields: ["Stage__c": "Ready for Intake"])
        try await sync.sync()
        let patient = try #require(sync.inspection.salesforceRecord("Contact", id: contact)?["EMR_Patient_Id__c"]?.stringValue)
        let second = try #require(admissions[1]["Id"]?.stringValue)
        try sync.inspection.editSalesforceRecord("Admission__c", id: second, fields: ["Contact__c": .string(contact), "Stage__c": "New"])
        sync.sandbox.clock.advance(by: .seconds(10))
        try await sync.sync()
        // The pushed Patient was read back and linked to its Contact.
        let link = try await sync.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: patient)]).values.first
        #expect(link?.targetID == contact)
        return (contact, patient, second)
    }

    /// The ServiceRequest made for an admission, by its identifier.
    static func serviceRequest(for admission: String, _ sync: SyncHarness) -> [SandboxJSON] {
        sync.fhir("ServiceRequest", identifiedBy: admissionSystem)[admission] ?? []
    }

    @Test func anAdmissionWhosePatientWasMergedIntoOneWithoutAContactGoesToTheSurvivor() async throws {
        let sync = try await SyncHarness.start(patients: 8, badShare: 0)
        defer { Task { await sync.stop() } }
        let (contact, patient, second) = try await Self.pushedAdmission(sync)
        // A survivor the sync has never seen: created in the EMR and merged into.
        try sync.inspection.editFHIRResource(
            "Patient", id: "keeper", resource: ["resourceType": "Patient", "id": "keeper", "name": [["family": "Keeper"]], "gender": "female"])
        try sync.inspection.mergeFHIRPatients(survivor: "keeper", loser: patient)
        sync.sandbox.clock.advance(by: .seconds(10))
        try await sync.sync()
        #expect(sync.inspection.salesforceRecord("Contact", id: contact)?["EMR_Patient_Id__c"] == "keeper")
        let writesToLoser = sync.inspection.history(.fhir, "Patient", patient).filter { $0.endpoint != nil }.count

        // The second admission becomes ready: the identifier search finds the merged-away Patient.
        try sync.inspection.editSalesforceRecord("Admission__c", id: second, fields: ["Stage__c": "Ready for Intake"])
        sync.sandbox.clock.advance(by: .seconds(10))
        try await sync.sync()

        let row = try #require(try await sync.rows(.salesforce, "Admission__c", second).last)
        #expect(row.status == .linked, "\(row.error?.description ?? "")")
        #expect(row.note?.hasPrefix("Patient/keeper ") == true, "\(row.note ?? "")")
        let requests = Self.serviceRequest(for: second, sync)
        #expect(requests.count == 1)
        #expect(requests.first?["subject"]?["reference"] == "Patient/keeper")
        // Nothing was written into the merged-away Patient, and the Contact still stands for the survivor.
        #expect(sync.inspection.history(.fhir, "Patient", patient).filter { $0.endpoint != nil }.count == writesToLoser)
        #expect(sync.inspection.salesforceRecord("Contact", id: contact)?["EMR_Patient_Id__c"] == "keeper")
        #expect(sync.inspection.salesforceRecord("Admission__c", id: second)?["EMR_ServiceRequest_Id__c"] == requests.first?["id"])
    }

    @Test func anAdmissionWhosePatientWasMergedIntoAnotherContactsPatientIsHeldNamingBoth() async throws {
        let sync = try await SyncHarness.start(patients: 8, badShare: 0)
        defer { Task { await sync.stop() } }
        let (contact, patient, second) = try await Self.pushedAdmission(sync)
        // The survivor is a seeded Patient with a Contact of its own: the merge is held.
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let survivor = try #require(
            sync.inspection.fhirResources("Patient").compactMap { $0["id"]?.stringValue }.first { $0 != patient && contacts[$0]?.count == 1 })
        let survivorContact = try #require(contacts[survivor]?.first?["Id"]?.stringValue)
        try sync.inspection.mergeFHIRPatients(survivor: survivor, loser: patient)
        sync.sandbox.clock.advance(by: .seconds(10))
        try await sync.sync()
        #expect(try await sync.rows(.emr, "Patient", patient).last?.status == .held)
        let writesToLoser = sync.inspection.history(.fhir, "Patient", patient).filter { $0.endpoint != nil }.count
        let writesToContact = sync.inspection.history(.salesforce, "Contact", contact).filter { $0.endpoint != nil }.count

        try sync.inspection.editSalesforceRecord("Admission__c", id: second, fields: ["Stage__c": "Ready for Intake"])
        sync.sandbox.clock.advance(by: .seconds(10))
        try await sync.sync()

        let row = try #require(try await sync.rows(.salesforce, "Admission__c", second).last)
        #expect(row.status == .failed)
        #expect(row.error?.code == ErrorCode.counterpartRemoved.rawValue)
        let message = row.error?.message ?? ""
        #expect(message.contains("Patient/\(patient)") && message.contains("Patient/\(survivor)") && message.contains("Contact \(survivorContact)"), "\(message)")
        #expect(message.contains("row \(row.id)"))
        // Nothing made, nothing written: no ServiceRequest, no write into either Patient or back into the Contact.
        #expect(Self.serviceRequest(for: second, sync).isEmpty)
        #expect(sync.inspection.history(.fhir, "Patient", patient).filter { $0.endpoint != nil }.count == writesToLoser)
        #expect(sync.inspection.history(.salesforce, "Contact", contact).filter { $0.endpoint != nil }.count == writesToContact)
        #expect(sync.inspection.salesforceRecord("Contact", id: contact)?["EMR_Patient_Id__c"] == .string(patient))
    }
}
