import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// A held merge in the Conflicts view: listed as a conflict of kind `merge` with what each system
/// holds, found with `/kind:merge`, and settled with `m` (merged there too) or `d` (kept apart).
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct HeldMergeViewTests {
    static let merge = HeldMerge(
        mergedIn: .emr, type: "Patient", loserID: "1017", survivorID: "1004", counterpartType: "Contact",
        loserCounterpartID: "003000000000017AAA", survivorCounterpartID: "003000000000004AAA")

    /// Holds the merge on this row, as the inbound linker records it.
    static func holdMerge(on row: Int64, in store: SQLiteStore) async throws -> Int64 {
        try await store.record([
            LinkOutcome(
                rowID: row, actor: .system, at: Date(), status: .held, attempt: .linked,
                conflicts: [.heldMerge(merge, record: MappedRecordKey(object: "Contact", key: "1017"), rowID: row)])
        ])
        return try #require(try await store.conflicts(ConflictQuery(statuses: [.open], kind: .merge)).first?.id)
    }

    @Test func aHeldMergeIsListedWithWhatEachSystemHoldsAndFoundByItsKind() async throws {
        let fixture = try await ConsoleFixture.make(tab: .conflicts)
        _ = try await Self.holdMerge(on: fixture.contents.failedRowIDs[0], in: fixture.store)
        await fixture.console.press(.character("/"), .control("u"))
        await fixture.console.type("kind:merge\n")
        let screen = fixture.screen
        let line = try #require(screen.line(containing: "hold"))
        #expect(line.contains(" merge "))
        #expect(line.contains("Patient/10"))
        #expect(screen.line(containing: "Phone") == nil, "the filter shows held merges only")
        #expect(screen.line(containing: "held merge — waiting since") != nil)
        #expect(screen.line(containing: "Patient/1017 was merged into Patient/1004 in the EMR") != nil)
        #expect(screen.line(containing: "Contact 003000000000017AAA and Contact 003000000000004AAA are two records in Salesforce") != nil)
    }

    @Test func mSettlesAHeldMergeAsMergedAndDKeepsItApartEachWithAReason() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(tab: .conflicts, actions: actions)
        let id = try await Self.holdMerge(on: fixture.contents.failedRowIDs[0], in: fixture.store)
        await fixture.console.press(.character("/"), .control("u"))
        await fixture.console.type("kind:merge\n")
        await fixture.console.press(.character("m"))
        #expect(fixture.screen.line(containing: "Merged in Salesforce too (Contact 003000000000017AAA into 003000000000004AAA) — reason:") != nil)
        await fixture.console.type("merged in Salesforce by the admissions lead\n")
        #expect(actions.performed == [.settleMerge(id: id, decision: .merged, reason: "merged in Salesforce by the admissions lead")])
        await fixture.console.press(.character("d"))
        #expect(fixture.screen.line(containing: "Keep Contact 003000000000017AAA and 003000000000004AAA apart — reason:") != nil)
        await fixture.console.type("two people after all\n")
        #expect(actions.performed.last == .settleMerge(id: id, decision: .apart, reason: "two people after all"))
    }

    @Test func mOnAFieldConflictSaysItTakesASideInstead() async throws {
        let actions = RecordingActions()
        let fixture = try await ConsoleFixture.make(tab: .conflicts, actions: actions)
        await fixture.console.press(.character("m"))
        #expect(fixture.screen.line(containing: "is a field conflict: e / f takes one side's value") != nil)
        #expect(actions.performed.isEmpty)
    }

    @Test func settlingAHeldMergeNeedsNoConnectionAndRecordsTheDecisionTheReasonAndTheOperator() async throws {
        let store = try SQLiteStore.temporary("console-held-merge")
        let mapping = try MappingDocument.load(contentsOf: ConsoleFixture.repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        let staged = try await store.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "1017", version: "3", lastUpdated: nil, payload: Array(#"{"resourceType":"Patient","id":"1017"}"#.utf8))],
            job: nil, advancing: nil)
        let row = try #require(staged.rowIDs.first)
        let id = try await Self.holdMerge(on: row, in: store)
        #expect(try await store.row(id: row)?.status == .held)
        let actions = OperationsConsoleActions(operations: Operations(store: store, mapping: mapping, inbound: nil))
        #expect(actions.unavailability(of: .settleMerge) == nil)
        // A held merge takes no side's value, and a field conflict is not settled as a merge.
        await #expect(throws: OperationError.heldMerge(id)) {
            _ = try await actions.operations.resolve(conflict: id, take: .emr, reason: "x", by: "dana")
        }

        let outcome = try await actions.perform(.settleMerge(id: id, decision: .merged, reason: "merged 017 into 004 in Salesforce"), by: "dana")
        #expect(outcome.summary == "held merge \(id) settled, merged: Patient/1017 was merged into Patient/1004 in the EMR (audited)")
        let settled = try #require(try await store.conflict(id: id))
        #expect(settled.status == .resolved)
        #expect(settled.mergeDecision == .merged)
        #expect(settled.winner == .emr)
        #expect(settled.resolvedBy == .operator("dana"))
        #expect(settled.reason == "merged: merged 017 into 004 in Salesforce")
        #expect(settled.merge == Self.merge)
        let settledRow = try #require(try await store.row(id: row))
        #expect(settledRow.status == .linked)
        #expect(settledRow.note?.contains("held merge \(id) settled: merged in Salesforce too") == true)
        #expect(try await store.recentEvents(limit: 10).contains { $0.message == "dana settled held merge \(id) (Contact 1017): merged" })
        // Settled once only.
        await #expect(throws: OperationError.conflictNotOpen(id, .resolved)) {
            _ = try await actions.operations.settle(merge: id, .apart, reason: "again", by: "dana")
        }
    }
}
