import Testing

@testable import Sandbox

/// `/_sandbox/removals`: every deletion and merge on both simulators, read from their writes, for a
/// proof's verdict to check against the store.
struct RemovalsInspectionTests {
    @Test func deletionsAndMergesOnBothSidesAreListedOldestFirstWithTheirSurvivors() throws {
        let world = DeletionTests.world(patients: 5)
        let inspection = SandboxInspection(world: world)
        let gone = DeletionTests.contact(world, "Gone", patient: "p-9")
        let master = DeletionTests.contact(world, "Master")
        let loser = DeletionTests.contact(world, "Loser", patient: "p-8")
        let ids = world.emr.entries("Patient").compactMap { $0.resource["id"]?.stringValue }
        try #require(ids.count >= 3)
        #expect(inspection.removals().isEmpty, "seeding and edits are no removals")
        try inspection.editSalesforceRecord("Contact", id: master, fields: ["Phone": "1"])

        try world.salesforce.delete("Contact", id: gone, actor: "005", endpoint: nil)
        world.clock.advance(by: .seconds(1))
        try inspection.mergeSalesforceRecords("Contact", master: master, losers: [loser])
        world.clock.advance(by: .seconds(1))
        try inspection.deleteFHIRResource("Patient", id: ids[0])
        world.clock.advance(by: .seconds(1))
        try inspection.mergeFHIRPatients(survivor: ids[1], loser: ids[2])

        let removals = inspection.removals()
        #expect(removals.map(\.id) == [gone, loser, ids[0], ids[2]])
        #expect(removals.map(\.survivor) == [nil, master, nil, ids[1]])
        #expect(removals.map(\.system) == [.salesforce, .salesforce, .fhir, .fhir])
        #expect(removals.map(\.at) == removals.map(\.at).sorted())
        // A Salesforce record is still readable in the Recycle Bin, with the fields the verdict needs.
        #expect(inspection.recycledSalesforceRecord("Contact", id: loser)?["MasterRecordId"]?.stringValue == master)
        #expect(inspection.recycledSalesforceRecord("Contact", id: gone)?["EMR_Patient_Id__c"] == "p-9")
        #expect(inspection.recycledSalesforceRecord("Contact", id: master) == nil, "a live record is not in the Recycle Bin")
        // Deleting again changes nothing.
        try? world.salesforce.delete("Contact", id: gone, actor: "005", endpoint: nil)
        #expect(inspection.removals().count == 4)
    }
}
