import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// A merge that would join two records distinct on the other side is held for a person as a
/// conflict of kind `merge`, end to end against the sandbox: settled by a person (merged or kept
/// apart, with a reason), or by the other system's merge of the same two records.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HeldMergeEndToEndTests {
    static func openMerges(_ sync: SyncHarness) async throws -> [Conflict] {
        try await sync.store.conflicts(ConflictQuery(statuses: [.open], kind: .merge))
    }

    @Test func aPatientMergeInTheEMRIsHeldAsAMergeConflictAndAPersonKeepsTheContactsApart() async throws {
        let (sync, survivor, loser, survivorContact, loserContact) = try await DeletionEndToEndTests.mergedPair(in: .emr)
        defer { Task { await sync.stop() } }

        let row = try #require(try await sync.rows(.emr, "Patient", loser).last)
        #expect(row.status == .held)
        let held = try await Self.openMerges(sync)
        try #require(held.count == 1)
        let conflict = held[0]
        #expect(conflict.rowID == row.id)
        #expect(conflict.object == "Contact")
        #expect(conflict.recordKey == loser)
        #expect(
            conflict.merge
                == HeldMerge(
                    mergedIn: .emr, type: "Patient", loserID: loser, survivorID: survivor, counterpartType: "Contact", loserCounterpartID: loserContact,
                    survivorCounterpartID: survivorContact))
        #expect(conflict.emrValue == .text("Patient/\(loser) was merged into Patient/\(survivor) in the EMR"))
        #expect(conflict.salesforceValue == .text("Contact \(loserContact) and Contact \(survivorContact) are two records in Salesforce"))
        // Found again by the next cycle: still one conflict.
        _ = try await sync.sync()
        #expect(try await Self.openMerges(sync).count == 1)

        await #expect(throws: OperationError.heldMerge(conflict.id)) {
            try await sync.operations.resolve(conflict: conflict.id, take: .emr, reason: "take it", by: "dana")
        }
        let settled = try await sync.operations.settle(merge: conflict.id, .apart, reason: "the EHR's merge is being undone", by: "dana")
        #expect(settled.status == .resolved)
        #expect(settled.mergeDecision == .apart)
        #expect(settled.resolvedBy == .operator("dana"))
        #expect(settled.reason == "apart: the EHR's merge is being undone")
        #expect(try await sync.store.row(id: row.id)?.status == .linked)

        // Kept apart, the loser's Contact still receives nothing.
        let writes = DeletionEndToEndTests.stagelinkWrites(sync, .salesforce, "Contact", loserContact)
        var edited = try #require(sync.inspection.fhirResource("Patient", id: loser))
        edited["gender"] = "other"
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.editFHIRResource("Patient", id: loser, resource: edited)
        _ = try await sync.sync()
        #expect(DeletionEndToEndTests.stagelinkWrites(sync, .salesforce, "Contact", loserContact) == writes)
    }

    @Test func aHeldEMRMergeIsSettledWhenThePersonMergesTheContactsInSalesforce() async throws {
        let (sync, survivor, loser, survivorContact, loserContact) = try await DeletionEndToEndTests.mergedPair(in: .emr)
        defer { Task { await sync.stop() } }
        let conflict = try #require(try await Self.openMerges(sync).first)
        let patientWrites = DeletionEndToEndTests.stagelinkWrites(sync, .fhir, "Patient", loser)

        // As the held merge asks: the loser's Contact merged into the survivor's in Salesforce.
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.mergeSalesforceRecords("Contact", master: survivorContact, losers: [loserContact])
        _ = try await sync.sync()

        let settled = try #require(try await sync.store.conflict(id: conflict.id))
        #expect(settled.status == .resolved)
        #expect(settled.mergeDecision == .merged)
        #expect(settled.resolvedBy?.description.hasPrefix("job:") == true, "settled by the sync job that read the Salesforce merge")
        let contactMerge = try #require(try await sync.rows(.salesforce, "Contact", loserContact).last)
        #expect(contactMerge.kind == .merge)
        #expect(contactMerge.status == .linked, "\(contactMerge.note ?? "")")
        #expect(settled.reason == "merged: merged in Salesforce too (row \(contactMerge.id))")
        #expect(try await sync.store.row(id: try #require(conflict.rowID))?.status == .linked)
        #expect(try await Self.openMerges(sync).isEmpty, "the Salesforce merge completes the EMR's: nothing new is held")
        #expect(DeletionEndToEndTests.stagelinkWrites(sync, .fhir, "Patient", loser) == patientWrites)
    }

    @Test func aHeldSalesforceMergeIsSettledWhenTheEMRMergesThePatients() async throws {
        let (sync, kept, lost, master, loser) = try await DeletionEndToEndTests.mergedPair(in: .salesforce)
        defer { Task { await sync.stop() } }
        let conflict = try #require(try await Self.openMerges(sync).first)
        #expect(
            conflict.merge
                == HeldMerge(
                    mergedIn: .salesforce, type: "Contact", loserID: loser, survivorID: master, counterpartType: "Patient", loserCounterpartID: lost,
                    survivorCounterpartID: kept))
        #expect(conflict.recordKey == lost)

        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.mergeFHIRPatients(survivor: kept, loser: lost)
        _ = try await sync.sync()

        let settled = try #require(try await sync.store.conflict(id: conflict.id))
        #expect(settled.status == .resolved)
        #expect(settled.mergeDecision == .merged)
        let patientMerge = try #require(try await sync.rows(.emr, "Patient", lost).last)
        #expect(patientMerge.kind == .merge)
        #expect(patientMerge.status == .linked)
        #expect(settled.reason == "merged: merged in the EMR too (row \(patientMerge.id))")
        #expect(try await Self.openMerges(sync).isEmpty)
    }
}
