import Foundation
import SalesforceClient
import Sandbox
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing

/// A load larger than `salesforce.bulkThreshold` links through Bulk API 2.0: each row gets its own
/// outcome, refused rows their own error, and a crash in a job duplicates nothing.
@Suite(.timeLimit(.minutes(5)))
struct BulkIngestLinkTests {
    /// A harness whose Salesforce client goes to Bulk API 2.0 above `threshold` rows.
    static func start(patients: Int, threshold: Int, badShare: Double) async throws -> SyncHarness {
        var sync = try await SyncHarness.start(patients: patients, badShare: badShare, seed: 33)
        var configuration = sync.harness.salesforceConfiguration()
        configuration.bulkThreshold = threshold
        configuration.bulkPollInterval = .milliseconds(1)
        let salesforce = try await SalesforceClient(configuration: configuration, logger: SandboxHarness.silent)
        sync.endpoints.salesforceTarget = salesforce
        return sync
    }

    @Test func aLoadAboveTheThresholdGoesInBulkJobsAndEveryRowGetsItsOwnOutcome() async throws {
        let sync = try await Self.start(patients: 260, threshold: 100, badShare: 0.1)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        let counts = sync.inspection.counts()
        #expect(counts.calls[.salesforceBulkIngest, default: 0] >= 6, "the Contacts went through a Bulk API job")

        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        #expect(contacts.values.allSatisfy { $0.count == 1 }, "one Contact per patient")
        let patients = try await sync.store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: "Patient"), limit: 10_000))
        #expect(patients.count >= 260)
        var linked = 0
        var refused = 0
        for summary in patients {
            let row = try #require(try await sync.store.row(id: summary.id))
            switch row.status {
            case .linked:
                linked += 1
                // A linked row's link names the Contact with that row's external id.
                let link = try #require(try await sync.store.links(for: [row.recordKey])[row.recordKey])
                #expect(sync.inspection.salesforceRecord("Contact", id: link.targetID)?["EMR_Patient_Id__c"]?.stringValue == row.sourceID)
            case .failed:
                refused += 1
                let error = try #require(row.error)
                // Salesforce's own refusal, never a Contact with that external id.
                if error.code != ErrorCode.waitingOnParent.rawValue && !error.code.hasPrefix("MAPPING_") {
                    #expect(contacts[row.sourceID] == nil, "row \(row.sourceID) failed with \(error.code) but has a Contact")
                }
            default: continue
            }
        }
        #expect(linked > 200)
        #expect(refused > 0, "the seed's bad share gives some refusals")
    }

    @Test func aRestartAfterAJobRanButBeforeItsOutcomesWereRecordedSendsTheRowsAgainWithoutDuplicates() async throws {
        // The first process: its Bulk job ran to the end in Salesforce.
        let first = try await Self.start(patients: 240, threshold: 100, badShare: 0)
        defer { Task { await first.stop() } }
        try await first.sync()
        let before = first.salesforce("Contact", by: "EMR_Patient_Id__c")
        #expect(before.count >= 240)
        // The crash (at bulk-ingest.polling or before the outcomes commit) left nothing recorded:
        // a store that staged the same rows and never recorded their outcomes.
        let store = try SQLiteStore.temporary("bulk-crash")
        try await first.mapping.loadPolicy(into: store)
        let restarted = SyncHarness(sandbox: first.sandbox, harness: first.harness, store: store, mapping: first.mapping, endpoints: first.endpoints)
        let jobsBefore = first.inspection.counts().calls[.salesforceBulkIngest, default: 0]
        try await restarted.sync()
        #expect(first.inspection.counts().calls[.salesforceBulkIngest, default: 0] > jobsBefore, "the rows went again in a new job")
        let after = first.salesforce("Contact", by: "EMR_Patient_Id__c")
        #expect(after.count == before.count)
        #expect(after.values.allSatisfy { $0.count == 1 }, "no Contact was duplicated")
        #expect(Set(after.values.compactMap { $0.first?["Id"]?.stringValue }) == Set(before.values.compactMap { $0.first?["Id"]?.stringValue }))
        let linked = try await store.countRows(RowFilter(statuses: [.linked], system: .emr, resourceType: "Patient"))
        #expect(linked >= 240)
    }
}
