import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// Identifiers and values at the boundary between the two systems, through the sandbox: an id from
/// one system that is not an id of the other is a lasting row failure and never a request; a value
/// the EMR would refuse to hand back never goes out; an entry that claims another identity than its
/// `fullUrl` fails alone.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct IdentifierBoundaryTests {
    /// Issue 13's repro: a Contact whose `EMR_Patient_Id__c` is `1011/../1015` once wrote its phone,
    /// email and address into Patient 1015.
    @Test(arguments: ["{victim}/../{other}", "../../metadata", "..", "{victim}%2F..%2F{other}"])
    func aContactWhoseEMRIdIsAPathFailsWithInvalidIdentifierAndNoPatientChanges(_ template: String) async throws {
        let sync = try await SyncHarness.start(patients: 6, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let patientIDs = contacts.keys.sorted()
        let victim = patientIDs[0]
        let other = patientIDs[1]
        let contactID = try #require(contacts[victim]?.first?["Id"]?.stringValue)
        let hostile = template.replacingOccurrences(of: "{victim}", with: victim).replacingOccurrences(of: "{other}", with: other)
        let before = Set(sync.inspection.fhirResources("Patient"))
        let writesBefore = sync.writes

        try sync.inspection.editSalesforceRecord("Contact", id: contactID, fields: ["EMR_Patient_Id__c": .string(hostile), "Phone": "+1-555-000-1111"])
        try await sync.sync()

        let row = try #require(try await sync.rows(.salesforce, "Contact", contactID).last)
        #expect(row.status == .failed)
        #expect(row.error?.code == ErrorCode.invalidIdentifier.rawValue)
        #expect(row.error?.fields == ["EMR_Patient_Id__c"])
        #expect(Set(sync.inspection.fhirResources("Patient")) == before, "no Patient changed")

        // A retry has the same answer, and sends nothing either.
        let retry = try await sync.operations.retry(.rows([row.id]), by: "dana")
        #expect(retry.rows.first?.status == .failed)
        #expect(try await sync.store.row(id: row.id)?.error?.code == ErrorCode.invalidIdentifier.rawValue)
        #expect(Set(sync.inspection.fhirResources("Patient")) == before, "no Patient changed on retry")
        #expect(sync.writes - writesBefore <= 1, "no write reached the EMR (the edit's own echo aside)")
    }

    /// Issue 13's repro: a Salesforce Phone holding terminal escapes was written into a Patient,
    /// and every inbound pull of that Patient failed from then on.
    @Test func aPhoneWithControlCharactersFailsTheContactRowAndNeverReachesTheEMR() async throws {
        let sync = try await SyncHarness.start(patients: 4, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let patientID = try #require(contacts.keys.sorted().first)
        let contactID = try #require(contacts[patientID]?.first?["Id"]?.stringValue)
        let before = sync.inspection.fhirResource("Patient", id: patientID)

        try sync.inspection.editSalesforceRecord("Contact", id: contactID, fields: ["Phone": .string("\u{1B}]0;X\u{07}\u{1B}[2J555")])
        try await sync.sync()

        let row = try #require(try await sync.rows(.salesforce, "Contact", contactID).last)
        #expect(row.status == .failed)
        #expect(row.error?.code == "MAPPING_CONTROL_CHARACTER")
        #expect(row.error?.fields == ["Phone"])
        #expect(sync.inspection.fhirResource("Patient", id: patientID) == before, "the Patient is unchanged")

        // The Patient's own EMR changes still come in.
        var patient = try #require(sync.inspection.fhirResource("Patient", id: patientID)?.objectValue)
        patient["birthDate"] = "1971-03-04"
        try sync.inspection.editFHIRResource("Patient", id: patientID, resource: .object(patient))
        try await sync.sync()
        #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["Birthdate"]?.stringValue == "1971-03-04")
    }

    /// Issue 13's repro: a search entry at `Patient/hx-idmismatch` whose body says another
    /// patient's id replaced that patient's Contact.
    @Test func anEntryWhoseBodyClaimsAnotherIdFailsAloneAndTheOtherContactStays() async throws {
        let sync = try await SyncHarness.start(patients: 4, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let victim = try #require(contacts.keys.sorted().first)
        let lastName = contacts[victim]?.first?["LastName"]?.stringValue
        var impostor = try #require(sync.inspection.fhirResource("Patient", id: victim)?.objectValue)
        impostor["name"] = [["family": "Impostor", "given": ["Ivy"]]]
        impostor["meta"] = ["versionId": "9", "lastUpdated": "2030-01-01T00:00:00Z"]
        sync.inspection.plantRawFHIRResource("Patient", id: "hx-idmismatch", body: SandboxJSON.object(impostor).serialized())
        _ = sync.sandbox.mutations.step(count: 3)
        try await sync.sync()

        let row = try #require(try await sync.rows(.emr, "Patient", "hx-idmismatch").last)
        #expect(row.status == .failed)
        #expect(row.error?.code == ErrorCode.identityMismatch.rawValue)
        #expect(try await sync.rows(.emr, "Patient", victim).allSatisfy { !String(decoding: $0.payload, as: UTF8.self).contains("Impostor") })
        let after = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        #expect(after[victim]?.count == 1)
        #expect(after[victim]?.first?["LastName"]?.stringValue == lastName, "the other patient's Contact is untouched")
    }

    /// A manual push of something that is not a Salesforce id asks nothing of Salesforce and
    /// starts no job.
    @Test func aPushOfAnIdThatIsNotASalesforceIdIsRefusedBeforeAnyRequest() async throws {
        let sync = try await SyncHarness.start(patients: 2, badShare: 0)
        defer { Task { await sync.stop() } }
        let jobsBefore = try await sync.store.jobs(before: nil, limit: 100).count
        for id in ["003/../005", "\u{1B}[2J", "1' OR '1'='1", "003000000000001ZZZ"] {
            await #expect(throws: OperationError.self) { _ = try await sync.operations.push(salesforceID: id, by: "dana") }
        }
        #expect(try await sync.store.jobs(before: nil, limit: 100).count == jobsBefore)
    }
}
