import Foundation
import StagelinkEngine
import StagelinkPostgres
import Testing

@testable import StagelinkStore

/// The retention purge removes the two values of a conflict with the rows that found it: a
/// conflict decided by its rule or resolved by a person, all of whose rows lose their payload.
/// An open conflict (waiting for a person) and one that a kept row (failed, held) also found keep
/// their values. Each purge counts them in its audit; the same in a clear and an encrypted store,
/// and the same body on SQLite and PostgreSQL.
struct ConflictValuePurgeTests {
    /// The key files; removed with everything in it when the test is done.
    let temporary: TemporaryFolder

    init() throws { temporary = try TemporaryFolder("conflict-purge") }

    /// Every store kind, kept in the clear and encrypted.
    static let stores = StoreKind.available.flatMap { kind in [(kind, false), (kind, true)] }

    static let overridden = "+1 555 0142 (overridden)"

    func patient(_ id: String) -> IncomingRecord {
        IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: id, version: "1", lastUpdated: nil,
            payload: Array(#"{"resourceType":"Patient","id":"\#(id)"}"#.utf8))
    }

    func conflict(_ record: String, _ rowID: Int64, emr: String, winner: SourceSystem?) -> ConflictRecord {
        ConflictRecord(
            record: MappedRecordKey(object: "Contact", key: record), field: "Phone", rowID: rowID, emrValue: .text(emr),
            salesforceValue: .text("+1 555 0199"), rule: winner == nil ? .hold : .salesforce, winner: winner)
    }

    func outcome(_ rowID: Int64, _ status: RowStatus, _ conflicts: [ConflictRecord]) -> LinkOutcome {
        LinkOutcome(
            rowID: rowID, actor: .job(1), at: Date(), status: status, attempt: status == .held ? .held : status == .failed ? .failed : .linked,
            error: status == .failed ? LinkError(.mappingInvalidJSON, message: "refused") : nil, conflicts: conflicts)
    }

    @Test(arguments: stores)
    func decidedConflictsOfPurgedRowsLoseTheirValuesOpenOnesAndThoseOfKeptRowsDoNot(_ kind: StoreKind, encrypted: Bool) async throws {
        let place = EncryptedStoreConformanceTests.Place(
            kind: kind, name: kind == .sqlite ? temporary.file("store.sqlite") : "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "_"))
        let store = try await place.open(key: encrypted ? try StoreKey.generate(at: temporary.file("store.key")) : nil)
        #expect(store.isEncrypted == encrypted)
        let staged = try await store.stage(["p1", "p2", "p3", "p4", "p5"].map(patient), job: nil, advancing: nil)
        let ids = staged.rowIDs
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        try await store.record([
            // p1: two decided conflicts of one field, found by a linked row only.
            outcome(ids[0], .linked, [conflict("p1", ids[0], emr: Self.overridden, winner: .salesforce), conflict("p1", ids[0], emr: "+1 555 0143", winner: .salesforce)]),
            // p2: open, its row held for a person.
            outcome(ids[1], .held, [conflict("p2", ids[1], emr: "+1 555 0144", winner: nil)]),
            // p3: decided, found by a linked row and by a failed row of the same record.
            outcome(ids[2], .linked, [conflict("p3", ids[2], emr: "+1 555 0145", winner: .salesforce)]),
            outcome(ids[3], .failed, [conflict("p3", ids[3], emr: "+1 555 0145", winner: .salesforce)]),
            outcome(ids[4], .linked, []),
        ])
        let dry = try await store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .operator("dana"), dryRun: true)
        #expect(dry.rows == 3 && dry.conflicts == 2, "\(dry)")

        let purge = try await store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .operator("dana"), dryRun: false)
        #expect(purge.rows == 3 && purge.conflicts == 2)
        #expect(try await store.payloadPurges(limit: 1).first?.conflicts == 2, "the audit counts them")

        let conflicts = Dictionary(grouping: try await store.conflicts(ConflictQuery()), by: \.recordKey)
        let purged = try #require(conflicts["p1"])
        #expect(purged.count == 2, "both stay, with their field, rule and winner")
        for conflict in purged {
            #expect(conflict.valuesPurgedAt != nil && conflict.winner == .salesforce && conflict.field == "Phone")
            #expect(conflict.emrValue.description.hasPrefix("(value purged on ") && conflict.salesforceValue == conflict.emrValue)
        }
        #expect(conflicts["p2"]?.first?.emrValue == .text("+1 555 0144"), "an open conflict waits for a person with its values")
        #expect(conflicts["p3"]?.first?.emrValue == .text("+1 555 0145"), "a failed row that found it keeps it")
        #expect(conflicts["p3"]?.first?.valuesPurgedAt == nil)

        if !encrypted {
            // Every byte of the SQLite files (secure_delete overwrote it); every column of the PostgreSQL schema.
            #expect(try await place.holding([Self.overridden, "+1 555 0145"]) == ["+1 555 0145"], "the purged value is gone from the database")
        }

        // The same collision met again is a conflict of its own, with its values.
        let again = try await store.stage([IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p1", version: "2", lastUpdated: nil,
            payload: Array(#"{"resourceType":"Patient","id":"p1","v":2}"#.utf8))], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(2))
        try await store.record([outcome(again.rowIDs[0], .linked, [conflict("p1", again.rowIDs[0], emr: Self.overridden, winner: .salesforce)])])
        let p1 = try await store.conflicts(ConflictQuery(recordKey: "p1"))
        #expect(p1.count == 3 && p1.first?.emrValue == .text(Self.overridden))
        #expect(try await store.purgePayloads(receivedBefore: Date().addingTimeInterval(-86_400), actor: .system, dryRun: false).conflicts == 0)
        try await EncryptedStoreConformanceTests.drop(store)
    }
}
