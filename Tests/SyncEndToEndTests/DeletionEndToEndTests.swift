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
    /// With `withEpisodes`, both have an episode of care that is sent (no fault, no label).
    static func linkedPair(_ sync: SyncHarness, withEpisodes: Bool = false) async throws -> (String, String, [String: [SandboxJSON]]) {
        _ = try await sync.sync()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let truth = sync.inspection.truth()
        var good = truth.filter { $0.system == .fhir && $0.type == "Patient" && $0.fault == nil && $0.withheldBy == nil }
            .map(\.id).filter { contacts[$0]?.count == 1 }
        if withEpisodes {
            let clean = Set(truth.filter { $0.type == "EpisodeOfCare" && $0.fault == nil && $0.withheldBy == nil }.map(\.id))
            let withEpisode = Set(
                sync.inspection.fhirResources("EpisodeOfCare").filter { clean.contains($0["id"]?.stringValue ?? "") }
                    .compactMap { $0["patient"]?["reference"]?.stringValue?.replacingOccurrences(of: "Patient/", with: "") })
            good = good.filter { withEpisode.contains($0) }
        }
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
        // Lineage: the flag names the deletion that wrote it (`stagelink why`, the row's detail).
        let why = try await WhyAnswer.find(in: sync.store, object: "Contact", id: contactID, field: "EMR_Deleted__c")
        #expect(why.row?.id == deletion.id)
        #expect(why.write.value == .bool(true))
        #expect(why.write.writtenTo == .salesforce)
        #expect(why.write.reason == "deletion: Patient/\(patient) was deleted in the EMR (onDelete: flag)")
        #expect(try await sync.store.writes(byRow: deletion.id).map(\.field) == ["EMR_Deleted__c"])

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
        // Lineage: the "merged into" flag names the merge that wrote it.
        let flag = try await WhyAnswer.find(in: sync.store, object: "Contact", id: loserContact, field: "EMR_Merged_Into__c")
        #expect(flag.row?.id == merge.id)
        #expect(flag.write.value == .text(survivorContact))
        #expect(flag.write.reason == "merge: Patient/\(loser) was merged into Patient/\(survivor) in the EMR (onMerge: relink)")
        #expect(try await sync.store.writes(byRow: merge.id).map(\.field) == ["EMR_Merged_Into__c"])

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

    /// A linked pair merged in `system` (the first kept, the second lost) and synced once.
    static func mergedPair(
        in system: SourceSystem, withEpisodes: Bool = false
    ) async throws -> (sync: SyncHarness, kept: String, lost: String, keptContact: String, lostContact: String) {
        let sync = try await SyncHarness.start(patients: 12, badShare: 0)
        let (kept, lost, contacts) = try await linkedPair(sync, withEpisodes: withEpisodes)
        let keptContact = try #require(contacts[kept]?.first?["Id"]?.stringValue)
        let lostContact = try #require(contacts[lost]?.first?["Id"]?.stringValue)
        sync.sandbox.clock.advance(by: .seconds(10))
        switch system {
        case .emr: try sync.inspection.mergeFHIRPatients(survivor: kept, loser: lost)
        case .salesforce: try sync.inspection.mergeSalesforceRecords("Contact", master: keptContact, losers: [lostContact])
        }
        _ = try await sync.sync()
        return (sync, kept, lost, keptContact, lostContact)
    }

    /// Writes Stagelink made into one record (through the simulators' APIs; a person's edits and the seed have no endpoint).
    static func stagelinkWrites(_ sync: SyncHarness, _ system: SandboxSystem, _ type: String, _ id: String) -> Int {
        sync.inspection.history(system, type, id).filter { $0.endpoint != nil }.count
    }

    /// A clinician edits the Patient and its episode of care (both write into its Contact); the episode's id.
    static func editPatientAndEpisode(_ patient: String, _ sync: SyncHarness) throws -> String {
        sync.sandbox.clock.advance(by: .seconds(10))
        var edited = try #require(sync.inspection.fhirResource("Patient", id: patient))
        edited["gender"] = "other"
        try sync.inspection.editFHIRResource("Patient", id: patient, resource: edited)
        return try editEpisode(of: patient, sync)
    }

    /// The loser's episode of care, edited as a clinician would (it writes into the same Contact).
    @discardableResult
    static func editEpisode(of patient: String, _ sync: SyncHarness) throws -> String {
        let clean = Set(sync.inspection.truth().filter { $0.type == "EpisodeOfCare" && $0.fault == nil && $0.withheldBy == nil }.map(\.id))
        var episode = try #require(
            sync.inspection.fhirResources("EpisodeOfCare").first {
                $0["patient"]?["reference"]?.stringValue == "Patient/\(patient)" && clean.contains($0["id"]?.stringValue ?? "")
            })
        let id = try #require(episode["id"]?.stringValue)
        episode["status"] = episode["status"]?.stringValue == "finished" ? "active" : "finished"
        try sync.inspection.editFHIRResource("EpisodeOfCare", id: id, resource: episode)
        return id
    }

    @Test func afterAMergeInTheEMRNoMappingWritesIntoTheLosersContactNorTheContactIntoTheMergedAwayPatient() async throws {
        let (sync, survivor, loser, _, loserContact) = try await Self.mergedPair(in: .emr, withEpisodes: true)
        defer { Task { await sync.stop() } }
        let contactWrites = Self.stagelinkWrites(sync, .salesforce, "Contact", loserContact)
        let patientWrites = Self.stagelinkWrites(sync, .fhir, "Patient", loser)

        // Every mapping that writes into the loser's Contact (Patient, EpisodeOfCare), and the
        // Contact's own change (Phone, owned by Salesforce) that would go into the merged-away Patient.
        let episode = try Self.editPatientAndEpisode(loser, sync)
        try sync.inspection.editSalesforceRecord("Contact", id: loserContact, fields: ["Phone": "+1 555 0199"])
        _ = try await sync.sync()
        _ = try await sync.sync()

        #expect(Self.stagelinkWrites(sync, .salesforce, "Contact", loserContact) == contactWrites)
        #expect(Self.stagelinkWrites(sync, .fhir, "Patient", loser) == patientWrites)
        let contactRow = try #require(try await sync.rows(.salesforce, "Contact", loserContact).last)
        #expect(contactRow.status == .superseded)
        #expect(contactRow.note?.contains("Patient/\(loser) was merged into Patient/\(survivor)") == true, "\(contactRow.note ?? "")")
        #expect(try await sync.rows(.emr, "EpisodeOfCare", episode).last?.status == .superseded)
        // The loser's new version is still merged away (replaced-by): staged as a merge, already settled.
        let again = try #require(try await sync.rows(.emr, "Patient", loser).last)
        #expect(again.kind == .merge)
        #expect(again.note?.contains("was already merged into Patient/\(survivor)") == true, "\(again.note ?? "")")
    }

    @Test func afterADeletionInEitherSystemNoMappingWritesIntoTheDeletedRecordOrItsCounterpart() async throws {
        let sync = try await SyncHarness.start(patients: 12, badShare: 0)
        defer { Task { await sync.stop() } }
        let (kept, deleted, contacts) = try await Self.linkedPair(sync, withEpisodes: true)
        let deletedContact = try #require(contacts[deleted]?.first?["Id"]?.stringValue)
        let keptContact = try #require(contacts[kept]?.first?["Id"]?.stringValue)
        // One Patient deleted in the EMR, the other's Contact deleted in Salesforce.
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.deleteFHIRResource("Patient", id: deleted)
        try sync.inspection.deleteSalesforceRecord("Contact", id: keptContact)
        _ = try await sync.sync()
        let contactWrites = Self.stagelinkWrites(sync, .salesforce, "Contact", deletedContact)
        let patientWrites = Self.stagelinkWrites(sync, .fhir, "Patient", kept)

        // The deleted Patient's episode, and its Contact's phone; the kept Patient and its episode.
        let episode = try Self.editEpisode(of: deleted, sync)
        try sync.inspection.editSalesforceRecord("Contact", id: deletedContact, fields: ["Phone": "+1 555 0188"])
        let keptEpisode = try Self.editPatientAndEpisode(kept, sync)
        _ = try await sync.sync()
        _ = try await sync.sync()

        #expect(Self.stagelinkWrites(sync, .salesforce, "Contact", deletedContact) == contactWrites)
        #expect(Self.stagelinkWrites(sync, .fhir, "Patient", deleted) == 0, "nothing is written into a deleted Patient")
        #expect(Self.stagelinkWrites(sync, .fhir, "Patient", kept) == patientWrites)
        #expect(sync.salesforce("Contact", by: "EMR_Patient_Id__c")[kept] == nil, "no Contact is made again for the Patient")
        #expect(try await sync.rows(.emr, "EpisodeOfCare", episode).last?.status == .superseded)
        #expect(try await sync.rows(.emr, "EpisodeOfCare", keptEpisode).last?.status == .superseded)
        let contactRow = try #require(try await sync.rows(.salesforce, "Contact", deletedContact).last)
        #expect(contactRow.status == .superseded)
        #expect(contactRow.note?.contains("Patient/\(deleted) was deleted in the EMR") == true, "\(contactRow.note ?? "")")
    }

    @Test func afterAMergeInSalesforceNoMappingWritesIntoTheLosersPatientNorRecreatesItsContact() async throws {
        let (sync, _, lost, master, loser) = try await Self.mergedPair(in: .salesforce, withEpisodes: true)
        defer { Task { await sync.stop() } }
        let patientWrites = Self.stagelinkWrites(sync, .fhir, "Patient", lost)
        let masterWrites = Self.stagelinkWrites(sync, .salesforce, "Contact", master)
        let loserWrites = Self.stagelinkWrites(sync, .salesforce, "Contact", loser)

        let episode = try Self.editPatientAndEpisode(lost, sync)
        _ = try await sync.sync()
        _ = try await sync.sync()

        // No Contact is made again for the lost Patient, none is written for it, and nothing goes back into the Patient.
        #expect(sync.salesforce("Contact", by: "EMR_Patient_Id__c")[lost] == nil)
        #expect(Self.stagelinkWrites(sync, .salesforce, "Contact", loser) == loserWrites)
        #expect(Self.stagelinkWrites(sync, .salesforce, "Contact", master) == masterWrites)
        #expect(Self.stagelinkWrites(sync, .fhir, "Patient", lost) == patientWrites)
        #expect(try await sync.rows(.emr, "Patient", lost).last?.status == .superseded)
        #expect(try await sync.rows(.emr, "EpisodeOfCare", episode).last?.status == .superseded)
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
        // Lineage: the merge's row wrote the rewritten external id (the console's lineage of the row).
        let written = try await sync.store.writes(byRow: merge.id)
        #expect(written.map(\.field) == ["EMR_Patient_Id__c"])
        #expect(written.first?.value == .text("newcomer"))
        #expect(written.first?.record == MappedRecordKey(object: "Contact", key: "newcomer"))
        #expect(written.first?.reason.hasPrefix("merge: Patient/\(loser) was merged into Patient/newcomer") == true)
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
        // Lineage: `stagelink why Patient <id> active` names the Salesforce deletion.
        let why = try await WhyAnswer.find(in: sync.store, object: "Patient", id: patient, field: "active")
        #expect(why.row?.id == deletion.id)
        #expect(why.write.value == .bool(false))
        #expect(why.write.writtenTo == .emr)
        #expect(why.write.reason == "deletion: Contact \(contactID) was deleted in Salesforce (onDelete: flag)")

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

    /// A certified EHR pulled by Bulk Data export, and one Patient linked as its Contact.
    static func certifiedLinkedPatient() async throws -> (SyncHarness, String, String) {
        var sync = try await SyncHarness.start(patients: 12, badShare: 0, configure: BulkPullTests.certified())
        sync.settings.emrPull = .bulk
        sync.settings.bulk = BulkPullTests.quick
        let (patient, _, contacts) = try await linkedPair(sync)
        return (sync, patient, try #require(contacts[patient]?.first?["Id"]?.stringValue))
    }

    @Test func aContactDeletedInSalesforceMakesItsPatientInactiveByJSONPatchOnACertifiedEHR() async throws {
        let (sync, patient, contactID) = try await Self.certifiedLinkedPatient()
        defer { Task { await sync.stop() } }
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.deleteSalesforceRecord("Contact", id: contactID)
        _ = try await sync.sync()

        let deletion = try #require(try await sync.rows(.salesforce, "Contact", contactID).last)
        #expect(deletion.kind == .deletion)
        #expect(deletion.status == .linked, "\(deletion.error?.description ?? "")")
        #expect(sync.inspection.fhirResource("Patient", id: patient)?["active"] == false)
        // A certified EHR takes no PUT: the Patient was patched, with If-Match.
        #expect(sync.inspection.history(.fhir, "Patient", patient).last { $0.endpoint != nil }?.operation == "patch")
    }

    @Test func aBulkPullReadsDeletionsFromTheManifestsDeletedFiles() async throws {
        let (sync, patient, contactID) = try await Self.certifiedLinkedPatient()
        defer { Task { await sync.stop() } }
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
