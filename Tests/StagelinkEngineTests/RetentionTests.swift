import Foundation
import Testing
@testable import StagelinkEngine
import StagelinkStore

/// The retention purge empties the payloads of rows whose record has moved on, older than the
/// period, and the values those rows wrote (lineage); it never touches failed, held, withheld or
/// staged rows, and keeps hashes, statuses, history, which field each row wrote and its own audit.
/// The same in a store kept in the clear and in an encrypted one.
struct RetentionTests {
    @Test(arguments: [false, true])
    func aPurgeEmptiesOldLinkedSupersededAndIgnoredPayloadsAndKeepsEverythingElse(encrypted: Bool) async throws {
        let harness = try await Harness.make(encrypted: encrypted)
        let staged = try await harness.stage([
            Fixtures.record(Fixtures.patient(id: "linked")),
            Fixtures.record(Fixtures.patient(id: "failed", birthDate: "1984-02-30")),
            Fixtures.record(SensitivityTests.labelled(Fixtures.patient(id: "withheld"), [(SensitivityTests.actCode, "ETH")])),
            Fixtures.record(Fixtures.patient(id: "ignored", gender: "robot")),
        ])
        let job = try await harness.link()
        #expect(job.counts.withheld == 1 && job.counts.failed == 2 && job.counts.linked == 1, "the job counts the withheld row apart: \(job.counts)")
        #expect(try await harness.store.job(id: job.id)?.counts.withheld == 1, "and the store keeps that count")
        let ids = staged.rowIDs
        _ = try await harness.store.setStatus(rowIDs: [ids[3]], to: .ignored, from: [.failed], actor: .operator("alice"), note: "test record")
        let before = try await harness.row(ids[0])
        let writes = try await harness.store.writes(byRow: ids[0])
        #expect(!writes.isEmpty)
        #expect(writes.allSatisfy { $0.valuePurgedAt == nil } && writes.contains { $0.value != .null })

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
        let purgedWrites = try await harness.store.writes(byRow: ids[0])
        #expect(purgedWrites.map(\.field) == writes.map(\.field), "lineage kept: which field the row wrote")
        #expect(purgedWrites.map(\.rule) == writes.map(\.rule) && purgedWrites.map(\.reason) == writes.map(\.reason))
        #expect(purgedWrites.allSatisfy { $0.value == .null && $0.valuePurgedAt != nil }, "the values it wrote went with its payload")
        #expect(purgedWrites.first?.valueText.hasPrefix("(value purged on ") == true)
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
