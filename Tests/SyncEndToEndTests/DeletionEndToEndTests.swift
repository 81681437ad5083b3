import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// Deletions and merges in the EMR, end to end against the sandbox: each is staged as a row of its
/// own, linked by the mapping's onDelete / onMerge rule, and nothing reaches a retired counterpart.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DeletionEndToEndTests {
    /// Two seeded patients, both linked as Contacts after a first cycle.
    static func linkedPair(_ sync: SyncHarness) async throws -> (String, String, [String: [SandboxJSON]]) {
        _ = try await sync.sync()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let good = sync.inspection.truth().filter { $0.system == .fhir && $0.type == "Patient" && $0.fault == nil && $0.withheldBy == nil }
            .map(\.id).filter { contacts[$0]?.count == 1 }
        try #require(good.count >= 2)
        return (good[0], good[1], contacts)
    }

    @Test func aPatientDeletedInTheEMRFlagsItsContactAndNothingMoreReachesIt() async throws {
        let sync = try await SyncHarness.start(patients: 12, badShare: 0)
        defer { Task { await sync.stop() } }
        let (patient, _, contacts) = try await Self.linkedPair(sync)
        let contactID = try #require(contacts[patient]?.first?["Id"]?.stringValue)
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.deleteFHIRResource("Patient", id: patient)
        _ = try await sync.sync()

        let rows = try await sync.rows(.emr, "Patient", patient)
        let deletion = try #require(rows.last)
        #expect(deletion.kind == .deletion)
        #expect(deletion.status == .linked)
        #expect(String(decoding: deletion.payload, as: UTF8.self).contains(#""method":"DELETE""#))
        #expect(deletion.note?.contains("flagged EMR_Deleted__c") == true)
        let contact = try #require(sync.inspection.salesforceRecord("Contact", id: contactID))
        #expect(contact["EMR_Deleted__c"] == true)
        // Nothing is deleted on the Salesforce side by default.
        #expect(contact["IsDeleted"] == false)
        let link = try #require(try await sync.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: patient)]).values.first)
        #expect(link.retirement == .deleted)

        // A later version of the same patient (brought back at the source) writes nothing to the Contact.
        let writesBefore = sync.inspection.history(.salesforce, "Contact", contactID).count
        try sync.inspection.editFHIRResource(
            "Patient", id: patient, resource: ["resourceType": "Patient", "id": .string(patient), "name": [["family": "Revived"]], "gender": "unknown"])
        _ = try await sync.sync()
        #expect(try await sync.rows(.emr, "Patient", patient).last?.status == .superseded)
        #expect(sync.inspection.history(.salesforce, "Contact", contactID).count == writesBefore)
    }

    @Test func twoPatientsMergedInTheEMRFlagTheLosingContactHoldTheMergeAndNoLaterUpdateReachesIt() async throws {
        let sync = try await SyncHarness.start(patients: 12, badShare: 0)
        defer { Task { await sync.stop() } }
        let (survivor, loser, contacts) = try await Self.linkedPair(sync)
        let survivorContact = try #require(contacts[survivor]?.first?["Id"]?.stringValue)
        let loserContact = try #require(contacts[loser]?.first?["Id"]?.stringValue)
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.mergeFHIRPatients(survivor: survivor, loser: loser)
        _ = try await sync.sync()

        let merge = try #require(try await sync.rows(.emr, "Patient", loser).last)
        #expect(merge.kind == .merge)
        #expect(merge.survivorID == survivor)
        // Two Contacts for one person now: never joined automatically, held for a person.
        #expect(merge.status == .held)
        #expect(merge.note?.contains("merges Contact \(loserContact) into \(survivorContact)") == true)
        #expect(sync.inspection.salesforceRecord("Contact", id: loserContact)?["EMR_Merged_Into__c"] == .string(survivorContact))
        let links = try await sync.store.links(for: [
            SourceKey(system: .emr, resourceType: "Patient", sourceID: loser), SourceKey(system: .emr, resourceType: "Patient", sourceID: survivor),
        ])
        #expect(links[SourceKey(system: .emr, resourceType: "Patient", sourceID: loser)]?.retirement == .merged(into: survivor))
        #expect(links[SourceKey(system: .emr, resourceType: "Patient", sourceID: survivor)]?.targetID == survivorContact)
        #expect(links[SourceKey(system: .emr, resourceType: "Patient", sourceID: survivor)]?.retirement == nil)
        // `stagelink why` on the losing Contact shows the merge.
        let why = try await WhyAnswer.find(in: sync.store, object: "Contact", id: loserContact, field: "LastName")
        #expect(why.retired.map(\.retirement) == [.merged(into: survivor)])

        // The loser edited again in the EMR (and its episode of care): nothing reaches its Contact.
        let writesBefore = sync.inspection.history(.salesforce, "Contact", loserContact).count
        var edited = try #require(sync.inspection.fhirResource("Patient", id: loser))
        edited["gender"] = "other"
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.editFHIRResource("Patient", id: loser, resource: edited)
        _ = try await sync.sync()
        #expect(sync.inspection.history(.salesforce, "Contact", loserContact).count == writesBefore)
        #expect(sync.inspection.salesforceRecord("Contact", id: loserContact)?["Gender__c"] != "Other")
    }

    @Test func aPatientMergedIntoOneWithoutAContactHandsItsContactToTheSurvivor() async throws {
        let sync = try await SyncHarness.start(patients: 8, badShare: 0)
        defer { Task { await sync.stop() } }
        let (_, loser, contacts) = try await Self.linkedPair(sync)
        let loserContact = try #require(contacts[loser]?.first?["Id"]?.stringValue)
        // A survivor the sync has never seen: created in the EMR and merged into at once.
        try sync.inspection.editFHIRResource(
            "Patient", id: "newcomer", resource: ["resourceType": "Patient", "id": "newcomer", "name": [["family": "Newcomer"]], "gender": "female"])
        try sync.inspection.mergeFHIRPatients(survivor: "newcomer", loser: loser)
        _ = try await sync.sync()
        _ = try await sync.sync()

        let merge = try #require(try await sync.rows(.emr, "Patient", loser).filter { $0.kind == .merge }.last)
        #expect(merge.status == .linked)
        let contact = try #require(sync.inspection.salesforceRecord("Contact", id: loserContact))
        #expect(contact["EMR_Patient_Id__c"] == "newcomer")
        #expect(sync.salesforce("Contact", by: "EMR_Patient_Id__c")["newcomer"]?.count == 1)
        let link = try #require(try await sync.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: "newcomer")]).values.first)
        #expect(link.targetID == loserContact)
    }

    @Test func aContactDeletedInSalesforceMakesItsPatientInactiveAndIsNeverRecreated() async throws {
        let sync = try await SyncHarness.start(patients: 12, badShare: 0)
        defer { Task { await sync.stop() } }
        let (patient, _, contacts) = try await Self.linkedPair(sync)
        let contactID = try #require(contacts[patient]?.first?["Id"]?.stringValue)
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.deleteSalesforceRecord("Contact", id: contactID)
        _ = try await sync.sync()

        let deletion = try #require(try await sync.rows(.salesforce, "Contact", contactID).last)
        #expect(deletion.kind == .deletion)
        #expect(deletion.status == .linked)
        #expect(String(decoding: deletion.payload, as: UTF8.self).contains(#""IsDeleted":true"#))
        #expect(sync.inspection.fhirResource("Patient", id: patient)?["active"] == false)

        // The Patient edited in the EMR afterwards: no new Contact is made for it.
        var edited = try #require(sync.inspection.fhirResource("Patient", id: patient))
        edited["gender"] = "other"
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.editFHIRResource("Patient", id: patient, resource: edited)
        _ = try await sync.sync()
        #expect(sync.salesforce("Contact", by: "EMR_Patient_Id__c")[patient] == nil)
        #expect(try await sync.rows(.emr, "Patient", patient).last?.status == .superseded)
    }

    @Test func twoLinkedContactsMergedInSalesforceAreHeldAndTheLosersPatientReceivesNothingMore() async throws {
        let sync = try await SyncHarness.start(patients: 12, badShare: 0)
        defer { Task { await sync.stop() } }
        let (kept, lost, contacts) = try await Self.linkedPair(sync)
        let master = try #require(contacts[kept]?.first?["Id"]?.stringValue)
        let loser = try #require(contacts[lost]?.first?["Id"]?.stringValue)
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.mergeSalesforceRecords("Contact", master: master, losers: [loser])
        _ = try await sync.sync()

        let merge = try #require(try await sync.rows(.salesforce, "Contact", loser).last)
        #expect(merge.kind == .merge)
        #expect(merge.survivorID == master)
        #expect(merge.status == .held)
        let links = try await sync.store.links(for: [
            SourceKey(system: .salesforce, resourceType: "Contact", sourceID: loser), SourceKey(system: .emr, resourceType: "Patient", sourceID: lost),
        ])
        #expect(links[SourceKey(system: .salesforce, resourceType: "Contact", sourceID: loser)]?.retirement == .merged(into: master))
        #expect(links[SourceKey(system: .emr, resourceType: "Patient", sourceID: lost)]?.retirement == .counterpartRemoved)
        #expect(sync.inspection.fhirResource("Patient", id: lost)?["active"] != false)
    }

    @Test func aBulkPullReadsDeletionsFromTheManifestsDeletedFiles() async throws {
        var sync = try await SyncHarness.start(patients: 12, badShare: 0, configure: BulkPullTests.certified())
        let sandbox = sync.sandbox
        defer { Task { await sandbox.stop() } }
        sync.settings.emrPull = .bulk
        sync.settings.bulk = BulkPullTests.quick
        let (patient, _, contacts) = try await Self.linkedPair(sync)
        let contactID = try #require(contacts[patient]?.first?["Id"]?.stringValue)
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.deleteFHIRResource("Patient", id: patient)
        sync.sandbox.clock.advance(by: .seconds(1))
        _ = try await sync.sync()

        let deletion = try #require(try await sync.rows(.emr, "Patient", patient).last)
        #expect(deletion.kind == .deletion)
        #expect(deletion.status == .linked, "\(deletion.error?.description ?? "")")
        #expect(String(decoding: deletion.payload, as: UTF8.self).contains(#""type":"transaction""#))
        #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["EMR_Deleted__c"] == true)
    }
}
