import Foundation
import GRDB
import StagelinkEngine
import Testing

@testable import StagelinkStore

/// Conflicts of kind `merge` in the store: kept with the merge's ids, found by kind, and read
/// strictly (a kind or a merge this build cannot read is an error naming the column).
struct HeldMergeStoreTests {
    let store: SQLiteStore
    static let merge = HeldMerge(
        mergedIn: .salesforce, type: "Contact", loserID: "003000000000017AAA", survivorID: "003000000000004AAA", counterpartType: "Patient",
        loserCounterpartID: "1017", survivorCounterpartID: "1004")

    init() throws {
        store = try SQLiteStore.temporary("held-merge")
    }

    /// A row holding the merge, and a field conflict beside it on another row.
    func holdMergeAndAFieldConflict() async throws -> (merge: Conflict, field: Conflict) {
        let staged = try await store.stage(
            [
                IncomingRecord(system: .salesforce, resourceType: "Contact", sourceID: "003000000000017AAA", version: nil, lastUpdated: Date(), payload: Array("{}".utf8)),
                IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "1004", version: "2", lastUpdated: nil, payload: Array("{}".utf8)),
            ], job: nil, advancing: nil)
        try await store.record([
            LinkOutcome(
                rowID: staged.rowIDs[0], actor: .system, at: Date(), status: .held, attempt: .linked,
                conflicts: [.heldMerge(Self.merge, record: MappedRecordKey(object: "Contact", key: "1017"), rowID: staged.rowIDs[0])]),
            LinkOutcome(
                rowID: staged.rowIDs[1], actor: .system, at: Date(), status: .held, attempt: .held,
                conflicts: [
                    ConflictRecord(
                        record: MappedRecordKey(object: "Contact", key: "1004"), field: "Phone", rowID: staged.rowIDs[1], emrValue: .text("1"),
                        salesforceValue: .text("2"), rule: .hold, winner: nil)
                ]),
        ])
        let merges = try await store.conflicts(ConflictQuery(kind: .merge))
        let fields = try await store.conflicts(ConflictQuery(kind: .field))
        try #require(merges.count == 1 && fields.count == 1)
        return (merges[0], fields[0])
    }

    @Test func aHeldMergeKeepsItsIdsAndWhatEachSystemHoldsAndIsFoundByKind() async throws {
        let (merge, field) = try await holdMergeAndAFieldConflict()
        #expect(merge.kind == .merge)
        #expect(merge.merge == Self.merge)
        #expect(merge.status == .open)
        #expect(merge.rule == .hold)
        #expect(merge.subject == "merge")
        #expect(merge.salesforceValue == .text("Contact 003000000000017AAA was merged into Contact 003000000000004AAA in Salesforce"))
        #expect(merge.emrValue == .text("Patient/1017 and Patient/1004 are two records in the EMR"))
        #expect(field.kind == .field)
        #expect(field.merge == nil)
        #expect(try await store.conflicts(ConflictQuery(statuses: [.open])).count == 2)
        // Open held merges wait for a person like held field conflicts (health and the tab bar count them).
        #expect(try await store.operationsSnapshot().conflictsHeld == 2)
    }

    @Test func aKindOrAMergeTheBuildCannotReadIsAnErrorNamingTheColumn() async throws {
        let (merge, field) = try await holdMergeAndAFieldConflict()
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE conflict SET kind = 'split' WHERE id = ?", arguments: [field.id])
            try db.execute(sql: "UPDATE conflict SET merge = '{\"mergedIn\":\"fax\"}' WHERE id = ?", arguments: [merge.id])
        }
        let kind = await #expect(throws: UnreadableValue.self) { _ = try await store.conflict(id: field.id) }
        #expect(kind == UnreadableValue(column: "conflict.kind", value: "split"))
        let detail = await #expect(throws: UnreadableValue.self) { _ = try await store.conflict(id: merge.id) }
        #expect(detail?.column == "conflict.merge")
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE conflict SET merge = NULL WHERE id = ?", arguments: [merge.id])
        }
        let missing = await #expect(throws: UnreadableValue.self) { _ = try await store.conflict(id: merge.id) }
        #expect(missing == UnreadableValue(column: "conflict.merge", value: "NULL"), "a held merge without its ids is not read as a field conflict")
    }
}
