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
