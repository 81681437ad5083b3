import Foundation
import StagelinkEngine
import Testing

/// The onDelete and onMerge rules of a mapping: their defaults, and what a mapping file may say.
struct RemovalRuleTests {
    @Test func theDefaultsFlagTheRecordsOfMappingsKeyedByTheirOwnIDAndRelinkPatients() throws {
        let mapping = try Fixtures.mapping()
        let patients = try #require(mapping.inbound(forResource: "Patient"))
        #expect(patients.onDelete == DeletionRule(action: .flag, field: "EMR_Deleted__c"))
        #expect(patients.onMerge == MergeRule(action: .relink, field: "EMR_Merged_Into__c"))
        // An episode writes into its patient's Contact: deleting the episode must not flag the Contact.
        #expect(mapping.inbound(forResource: "EpisodeOfCare")?.onDelete.action == .ignore)
        #expect(mapping.inbound(forResource: "EpisodeOfCare")?.onMerge == nil)
        #expect(mapping.inbound(forResource: "QuestionnaireResponse")?.onDelete == DeletionRule(action: .flag, field: "EMR_Deleted__c"))
        #expect(mapping.outbound.contacts?.onDelete.action == .flag)
        #expect(patients.removalFields == ["EMR_Deleted__c", "EMR_Merged_Into__c"])
    }

    @Test func aMappingMaySayItsOwnRules() throws {
        let yaml = try MappingValidationTests.shipped(
            replacing: "    externalId: EMR_Patient_Id__c\n    fields:\n      - { field: EMR_Patient_Id__c, path: id",
            with: "    externalId: EMR_Patient_Id__c\n    onDelete: { action: flag, field: Removed_In_EMR__c }\n"
                + "    onMerge: { action: relink, field: Merged_Into__c }\n    fields:\n      - { field: EMR_Patient_Id__c, path: id")
        let patients = try #require(try MappingDocument(yaml: yaml, file: "mapping.yaml").inbound(forResource: "Patient"))
        #expect(patients.onDelete == DeletionRule(action: .flag, field: "Removed_In_EMR__c"))
        #expect(patients.onMerge?.field == "Merged_Into__c")
        let ignoring = try MappingValidationTests.shipped(
            replacing: "    externalId: EMR_Patient_Id__c\n    fields:\n      - { field: EMR_Patient_Id__c, path: id",
            with: "    externalId: EMR_Patient_Id__c\n    onDelete: { action: ignore }\n    fields:\n      - { field: EMR_Patient_Id__c, path: id")
        #expect(try MappingDocument(yaml: ignoring, file: "mapping.yaml").inbound(forResource: "Patient")?.onDelete.action == .ignore)
    }

    @Test(arguments: [
        ("onDelete: { action: deactivate }", "deactivate sets a FHIR Patient's active flag"),
        ("onDelete: { action: erase }", "onDelete action"),
        ("onDelete: { action: ignore, field: X__c }", "only the flag action sets a field"),
        ("onMerge: { action: join }", "onMerge action"),
    ])
    func rulesThatCannotWorkAreRefusedWhenTheFileIsLoaded(rule: String, message: String) throws {
        let yaml = try MappingValidationTests.shipped(
            replacing: "    externalId: EMR_Patient_Id__c\n    fields:\n      - { field: EMR_Patient_Id__c, path: id",
            with: "    externalId: EMR_Patient_Id__c\n    \(rule)\n    fields:\n      - { field: EMR_Patient_Id__c, path: id")
        let error = try #require(MappingValidationTests.loadError(yaml))
        #expect(error.description.contains(message), "\(error)")
    }
}

/// A version staged before its record's deletion or merge is never applied after it, even when the
/// removal found no link (the record was never linked): no Contact is made for a deleted Patient.
struct RemovalOrderTests {
    @Test func aVersionStagedBeforeItsDeletionIsSupersededWhenBothAreLinkedTogether() async throws {
        let harness = try await Harness.make()
        let version = IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p7", version: "1", lastUpdated: nil, payload: JSONWriter.compact(Fixtures.patient(id: "p7")))
        let deletion = IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p7", version: "2", lastUpdated: nil,
            payload: Array(#"{"resourceType":"Bundle","type":"history","entry":[{"request":{"method":"DELETE","url":"Patient/p7"}}]}"#.utf8),
            kind: .deletion)
        let rows = try await harness.stage([version, deletion]).rowIDs
        try #require(rows.count == 2)
        try await harness.link()

        #expect(try await harness.row(rows[1]).status == .linked)
        let older = try await harness.row(rows[0])
        #expect(older.status == .superseded)
        // Superseded by the deletion's retired link (no counterpart), or by the newer row when linked apart.
        #expect(older.note == "Patient/p7 was deleted: nothing is written to any Contact again")
        #expect(harness.target.record("Contact", externalID: "p7") == nil, "no Contact is made for a deleted Patient")
        // Nor by another mapping keyed by its id afterwards: its episode is not sent.
        let episode = try await harness.stage([
            Fixtures.rawRecord(
                #"{"resourceType":"EpisodeOfCare","id":"e7","status":"active","patient":{"reference":"Patient/p7"},"period":{"start":"2026-01-05"}}"#,
                id: "e7", resourceType: "EpisodeOfCare")
        ]).rowIDs[0]
        try await harness.link()
        #expect(try await harness.row(episode).status == .superseded)
        #expect(harness.target.record("Contact", externalID: "p7") == nil)
    }
}

extension RemovalOrderTests {
    @Test func aDeletedPatientWithoutALinkOfItsOwnFlagsTheContactItsEpisodeLinked() async throws {
        let harness = try await Harness.make()
        // The Contact exists through the episode (the Patient's own row not linked yet: claimed by a killed process).
        try await harness.stage([
            Fixtures.rawRecord(
                #"{"resourceType":"EpisodeOfCare","id":"e7","status":"active","patient":{"reference":"Patient/p7"},"period":{"start":"2026-01-05"}}"#,
                id: "e7", resourceType: "EpisodeOfCare")
        ])
        try await harness.link()
        let contact = try #require(harness.target.record("Contact", externalID: "p7"))
        #expect(contact["EMR_Deleted__c"] == nil)
        let deletion = try await harness.stage([
            IncomingRecord(
                system: .emr, resourceType: "Patient", sourceID: "p7", version: "2", lastUpdated: nil,
                payload: Array(#"{"resourceType":"Bundle","type":"history","entry":[{"request":{"method":"DELETE","url":"Patient/p7"}}]}"#.utf8),
                kind: .deletion)
        ]).rowIDs[0]
        try await harness.link()
        #expect(try await harness.row(deletion).note?.contains("is flagged EMR_Deleted__c") == true)
        #expect(harness.target.record("Contact", externalID: "p7")?["EMR_Deleted__c"] == .bool(true))
    }
}

/// A Patient whose upsert reached Salesforce while the process was killed before recording it (the
/// crash test's `upsert.sent` and `record.before-commit` points): the Contact exists, the store has
/// no link. Its deletion or merge finds that Contact by its external id and applies the rule to it.
extension RemovalOrderTests {
    static let deletion = #"{"resourceType":"Bundle","type":"history","entry":[{"request":{"method":"DELETE","url":"Patient/p8"}}]}"#

    /// Stages a version of `id` and makes its Contact as the killed process's upsert did, without
    /// recording anything: the row stays staged, no link is known. Returns the row and the Contact's id.
    static func upsertedUnseen(_ id: String, _ harness: Harness) async throws -> (row: Int64, contact: String) {
        let row = try await harness.stage([Fixtures.record(Fixtures.patient(id: id))]).rowIDs[0]
        let results = try await harness.target.upsert(
            object: "Contact", externalIDField: "EMR_Patient_Id__c",
            records: [TargetRecord(fields: [MappedField(name: "EMR_Patient_Id__c", value: .text(id)), MappedField(name: "LastName", value: .text("Müller"))])])
        guard case .success(let contact, _)? = results.first else { throw RemoteCallError(.rejected, LinkError(.unknownFailure, message: "no Contact")) }
        #expect(try await harness.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: id)]).isEmpty)
        return (row, contact)
    }

    @Test func aDeletionFlagsTheContactAnUpsertMadeWhoseAnswerWasLost() async throws {
        let harness = try await Harness.make()
        let (version, contact) = try await Self.upsertedUnseen("p8", harness)
        let deletion = try await harness.stage([
            IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p8", version: "2", lastUpdated: nil, payload: Array(Self.deletion.utf8), kind: .deletion)
        ]).rowIDs[0]
        try await harness.link()

        let removal = try await harness.row(deletion)
        #expect(removal.status == .linked)
        #expect(removal.note == "Patient/p8 was deleted in the EMR: Contact \(contact) is flagged EMR_Deleted__c")
        #expect(harness.target.records(of: "Contact")[contact]?["EMR_Deleted__c"] == .bool(true))
        #expect(try await harness.row(version).status == .superseded, "the version staged before the deletion is never sent after it")
        let link = try #require(try await harness.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: "p8")]).values.first)
        #expect(link.targetID == contact)
        #expect(link.retirement == .deleted)
        #expect(harness.target.records(of: "Contact").count == 1, "nothing was made again")
    }

    @Test func aMergeFlagsTheContactAnUpsertMadeWhoseAnswerWasLostAndHoldsIt() async throws {
        let harness = try await Harness.make()
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Okafor"))])
        try await harness.link()
        let kept = try #require(try await harness.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1")]).values.first?.targetID)
        let (_, contact) = try await Self.upsertedUnseen("p8", harness)
        guard case .object(var merged) = Fixtures.patient(id: "p8", version: 2) else { return }
        merged["active"] = .bool(false)
        merged["link"] = [["other": ["reference": "Patient/p1"], "type": "replaced-by"]]
        let merge = try await harness.stage([
            IncomingRecord(
                system: .emr, resourceType: "Patient", sourceID: "p8", version: "2", lastUpdated: nil, payload: JSONWriter.compact(.object(merged)), kind: .merge,
                survivorID: "p1")
        ]).rowIDs[0]
        try await harness.link()

        let row = try await harness.row(merge)
        #expect(row.status == .held)
        #expect(harness.target.records(of: "Contact")[contact]?["EMR_Merged_Into__c"] == .text(kept))
        #expect(try await harness.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: "p8")]).values.first?.retirement == .merged(into: "p1"))
    }
}

extension RemovalOrderTests {
    @Test func aContactMergedAwayInSalesforceBeforeItsPatientsLinkWasRecordedIsNeverMadeAgain() async throws {
        let harness = try await Harness.make()
        let (version, contact) = try await Self.upsertedUnseen("p8", harness)
        // Salesforce merges that Contact into another: QueryAll shows it deleted with its MasterRecordId.
        var merged = Fixtures.salesforceContact(
            id: contact, patientID: "p8", changes: ["IsDeleted": .bool(true), "MasterRecordId": "0038d00000000ZZAAA"], modified: Date())
        merged.kind = .merge
        merged.survivorID = "0038d00000000ZZAAA"
        let merge = try await harness.stage([merged]).rowIDs[0]
        // The merge is linked first (the Patient's row waits, claimed by the killed process until now).
        try await harness.linkOutbound()
        try await harness.link()

        #expect(try await harness.row(merge).kind == .merge)
        #expect(try await harness.row(merge).status == .linked)
        // The Patient's version staged before is never upserted: no second Contact for p8.
        #expect(try await harness.row(version).status == .superseded)
        #expect(harness.target.records(of: "Contact").count == 1)
        let link = try #require(try await harness.store.links(for: [SourceKey(system: .emr, resourceType: "Patient", sourceID: "p8")]).values.first)
        #expect(link.retirement == .counterpartRemoved)
        #expect(link.targetID == contact)
    }
}
