import Foundation
import StagelinkFakes
import StagelinkStore
import Testing
@testable import StagelinkEngine

/// A batch of bulk size writes each of its two groups in one bulk call: the records upserted by
/// external id in one, the records Stagelink created from Salesforce (written by their Salesforce
/// id) in another, never in calls of `maxBatchSize`.
struct BulkLinkTests {
    /// The Patient of a Contact that Salesforce made: it carries the Contact's id.
    static func patient(_ index: Int, contact: String?) -> IncomingRecord {
        var patient = Fixtures.patient(id: "p\(index)", family: "Family \(index)").objectValue!
        if let contact { patient["identifier"] = [["system": "https://stagelink.dev/sid/salesforce-contact", "value": .string(contact)]] }
        return Fixtures.record(.object(patient))
    }

    /// The 15-character id of the `index`-th Contact made in Salesforce.
    static func contactID(_ index: Int) -> String {
        "003" + String(repeating: "0", count: 8) + String(format: "%04d", index)
    }

    /// A harness whose target links in bulk above 50 rows, in calls of 20 otherwise.
    static func harness() async throws -> Harness {
        var harness = try await Harness.make()
        harness.target = InMemoryUpsertTarget(maxBatchSize: 20, bulkThreshold: 50, bulkBatchSize: 1_000)
        return harness
    }

    @Test func rowsLinkedBySalesforceIdGoInOneBulkUpdateAndEachEndsLinkedToItsOwnRecord() async throws {
        let harness = try await Self.harness()
        for index in 0..<60 { harness.target.seed("Contact", id: Self.contactID(index)) }
        let staged = try await harness.stage((0..<60).map { Self.patient($0, contact: Self.contactID($0)) })
        try await harness.link()

        #expect(harness.target.bulkCalls == [.init(.update, records: 60)])
        #expect(harness.target.batchSizes.isEmpty, "no collections-sized call")
        for (index, rowID) in staged.rowIDs.enumerated() {
            let row = try await harness.row(rowID)
            #expect(row.status == .linked)
            let link = try #require(try await harness.store.links(for: [row.recordKey])[row.recordKey])
            #expect(link.targetID == Self.contactID(index), "row \(index) is linked to the Contact it names")
            #expect(harness.target.records(of: "Contact")[Self.contactID(index)]?["LastName"] == .text("Family \(index)"))
        }
        #expect(harness.target.records(of: "Contact").count == 60, "an update creates nothing")
    }

    @Test func bothGroupsOfABulkBatchGoInOneBulkCallEachAndEveryRowGetsItsOwnOutcome() async throws {
        let harness = try await Self.harness()
        // Rows 0–29 name a Contact made in Salesforce, of which the last (29) no longer exists; rows 30–69 are new.
        for index in 0..<29 { harness.target.seed("Contact", id: Self.contactID(index)) }
        let staged = try await harness.stage((0..<70).map { Self.patient($0, contact: $0 < 30 ? Self.contactID($0) : nil) })
        try await harness.link()

        #expect(Set(harness.target.bulkCalls) == [.init(.update, records: 30), .init(.upsert, records: 40)])
        #expect(harness.target.batchSizes.isEmpty)
        for (index, rowID) in staged.rowIDs.enumerated() {
            let row = try await harness.row(rowID)
            if index == 29 {
                #expect(row.status == .failed)
                #expect(row.error?.code == ErrorCode.entityIsDeleted.rawValue)
                continue
            }
            #expect(row.status == .linked, "row \(index)")
            let link = try #require(try await harness.store.links(for: [row.recordKey])[row.recordKey])
            if index < 30 {
                #expect(link.targetID == Self.contactID(index))
            } else {
                #expect(harness.target.records(of: "Contact")[link.targetID]?["EMR_Patient_Id__c"] == .text("p\(index)"))
            }
        }
    }

    @Test func aByIdGroupNoLargerThanACallStaysOnCollectionsInABulkBatch() async throws {
        let harness = try await Self.harness()
        for index in 0..<5 { harness.target.seed("Contact", id: Self.contactID(index)) }
        try await harness.stage((0..<60).map { Self.patient($0, contact: $0 < 5 ? Self.contactID($0) : nil) })
        try await harness.link()

        #expect(harness.target.bulkCalls == [.init(.upsert, records: 55)])
        #expect(harness.target.batchSizes == [5], "five updates by id in one collections call")
        #expect(try await harness.store.countRows(RowFilter(statuses: [.linked], system: .emr, resourceType: "Patient")) == 60)
    }
}
