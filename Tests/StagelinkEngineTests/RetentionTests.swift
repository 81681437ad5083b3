import Foundation
import Testing
@testable import StagelinkEngine
import StagelinkStore

/// The retention purge empties the payloads of rows whose record has moved on, older than the
/// period; it never touches failed, held, withheld or staged rows, and keeps hashes, statuses,
/// history, lineage and its own audit.
struct RetentionTests {
    @Test func aPurgeEmptiesOldLinkedSupersededAndIgnoredPayloadsAndKeepsEverythingElse() async throws {
        let harness = try await Harness.make()
        let staged = try await harness.stage([
            Fixtures.record(Fixtures.patient(id: "linked")),
            Fixtures.record(Fixtures.patient(id: "failed", birthDate: "1984-02-30")),
            Fixtures.record(SensitivityTests.labelled(Fixtures.patient(id: "withheld"), [(SensitivityTests.actCode, "ETH")])),
            Fixtures.record(Fixtures.patient(id: "ignored", gender: "robot")),
        ])
        try await harness.link()
        let ids = staged.rowIDs
        _ = try await harness.store.setStatus(rowIDs: [ids[3]], to: .ignored, from: [.failed], actor: .operator("alice"), note: "test record")
        let before = try await harness.row(ids[0])
        let writes = try await harness.store.writes(byRow: ids[0])
        #expect(!writes.isEmpty)

        // Nothing is older than a cutoff in the past.
        let none = try await harness.store.purgePayloads(receivedBefore: Date().addingTimeInterval(-86_400), actor: .operator("alice"), dryRun: false)
        #expect(none.rows == 0)

        let dry = try await harness.store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .operator("alice"), dryRun: true)
        #expect(dry.rows == 2 && dry.id == nil)
        #expect(try await harness.row(ids[0]).payload == before.payload, "a dry run changes nothing")

        let purge = try await harness.store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .operator("alice"), dryRun: false)
        #expect(purge.rows == 2)
        #expect(purge.bytes == dry.bytes && purge.bytes > before.payload.count, "the dry run counted what went")
        let linked = try await harness.row(ids[0])
        #expect(linked.payload.isEmpty && linked.payloadPurgedAt != nil)
        #expect(linked.status == .linked && linked.contentHash == before.contentHash, "hash and status kept")
        #expect(try await harness.store.writes(byRow: ids[0]).map(\.field) == writes.map(\.field), "lineage kept")
        #expect(try await harness.store.history(ofRow: ids[3]).last?.to == .ignored, "history kept")
        #expect(try await harness.row(ids[3]).payloadPurgedAt != nil)
        for kept in [ids[1], ids[2]] {
            let row = try await harness.row(kept)
            #expect(!row.payload.isEmpty && row.payloadPurgedAt == nil, "row \(kept) (\(row.status)) is never purged")
        }
        #expect(try await harness.row(ids[1]).status == .failed)

        let audit = try await harness.store.payloadPurges(limit: 10)
        #expect(audit.map(\.rows) == [2, 0], "every purge is recorded with its counts, dry runs are not")
        #expect(audit.first?.actor == .operator("alice") && audit.first?.id == purge.id)
        let again = try await harness.store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .system, dryRun: false)
        #expect(again.rows == 0, "a purged payload is not counted twice")
    }
}
