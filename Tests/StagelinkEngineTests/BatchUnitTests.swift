import Foundation
import Testing

@testable import StagelinkEngine

/// How outbound rows are cut into FHIR batch Bundles (issue 22, item 4): in row order, up to the
/// batch size, two rows of one record never in one batch (the later starts the next one, which
/// waits for it), a deletion or merge alone.
struct BatchUnitTests {
    static func row(_ id: Int64, contact: String, kind: RecordKind = .record) -> StagedRow {
        var row = StagedRow(
            id: id, system: .salesforce, resourceType: "Admission__c", sourceID: "a0\(id)", version: nil, lastUpdated: nil, contentHash: "",
            jobID: nil, receivedAt: Date(), status: .staged, payload: Array(#"{"Contact__c":"\#(contact)"}"#.utf8), error: nil, attemptCount: 0,
            note: nil, updatedAt: Date())
        row.kind = kind
        return row
    }

    static func keys(_ row: StagedRow) -> Set<String>? {
        guard row.kind == .record else { return nil }
        let contact = (try? JSONValue(parsing: row.payload))?["Contact__c"]?.stringValue ?? ""
        return ["Admission__c/\(row.sourceID)", "Contact/\(contact)"]
    }

    @Test func rowsGoInBatchesInOrderUpToTheSize() {
        let rows = (1...7).map { Self.row($0, contact: "c\($0)") }
        let units = OutboundLinker.units(rows, batchLimit: 3, keys: Self.keys)
        #expect(units.map { $0.rows.map(\.id) } == [[1, 2, 3], [4, 5, 6], [7]])
        #expect(units[0].keys == Set(["Admission__c/a01", "Contact/c1", "Admission__c/a02", "Contact/c2", "Admission__c/a03", "Contact/c3"]))
    }

    @Test func twoRowsOfOneContactNeverShareABatchAndKeepTheirOrder() {
        let rows = [Self.row(1, contact: "c1"), Self.row(2, contact: "c2"), Self.row(3, contact: "c1"), Self.row(4, contact: "c4")]
        let units = OutboundLinker.units(rows, batchLimit: 50, keys: Self.keys)
        #expect(units.map { $0.rows.map(\.id) } == [[1, 2], [3, 4]])
        // The second batch shares the Contact's key with the first, so the linker starts it only once the first is done.
        #expect(!units[0].keys!.isDisjoint(with: units[1].keys!))
    }

    @Test func aDeletionGoesAloneAndWithoutBatchesEveryRowIsItsOwnUnit() {
        let rows = [Self.row(1, contact: "c1"), Self.row(2, contact: "c2", kind: .deletion), Self.row(3, contact: "c3")]
        let units = OutboundLinker.units(rows, batchLimit: 50, keys: Self.keys)
        #expect(units.map { $0.rows.map(\.id) } == [[1], [2], [3]])
        #expect(units[1].keys == nil)
        let single = OutboundLinker.units(rows, batchLimit: 1, keys: Self.keys)
        #expect(single.map { $0.rows.map(\.id) } == [[1], [2], [3]])
        #expect(single.allSatisfy { !$0.batch })
    }

    /// The automatic retries claim rows of every type at once: only the admissions among them
    /// batch; a row of another type goes alone, in its place.
    @Test func aClaimAcrossTypesBatchesOnlyTheRowsThatMayBatch() {
        let rows = (1...6).map { Self.row($0, contact: "c\($0)") }
        let units = OutboundLinker.units(rows, batchLimit: 50, keys: Self.keys) { $0.id != 3 }
        #expect(units.map { $0.rows.map(\.id) } == [[1, 2], [3], [4, 5, 6]])
        #expect(units.map(\.batch) == [true, false, true])
    }
}
