import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

/// `stagelink conflicts --kind merge` and `stagelink resolve --merged|--apart` as a user runs them:
/// a held merge is listed with what each system holds and settled with a reason, offline.
struct HeldMergeCommandTests {
    @Test func aHeldMergeIsListedByKindAndSettledAsMergedWithAReason() async throws {
        let temporary = try TemporaryFolder("held-merge")
        let folder = temporary.url
        let store = try SQLiteStore(path: folder.appendingPathComponent("stagelink.sqlite").path)
        let staged = try await store.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "1017", version: "3", lastUpdated: nil, payload: Array(#"{"id":"1017"}"#.utf8))],
            job: nil, advancing: nil)
        let row = try #require(staged.rowIDs.first)
        let merge = HeldMerge(
            mergedIn: .emr, type: "Patient", loserID: "1017", survivorID: "1004", counterpartType: "Contact", loserCounterpartID: "003000000000017AAA",
            survivorCounterpartID: "003000000000004AAA")
        try await store.record([
            LinkOutcome(
                rowID: row, actor: .system, at: Date(), status: .held, attempt: .linked,
                conflicts: [.heldMerge(merge, record: MappedRecordKey(object: "Contact", key: "1017"), rowID: row)])
        ])
        let id = try #require(try await store.conflicts(ConflictQuery(kind: .merge)).first?.id)
        let options = ["--store", store.path, "--mapping", HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path]

        let listed = try await HostileOutputTests.run(["conflicts", "--kind", "merge"] + options, in: folder)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("Patient/1017 was merged into Patient/1004 in the EMR"), "\(listed.stdout)")
        #expect(listed.stdout.contains(" merge "))
        let json = try await HostileOutputTests.run(["conflicts", "--kind", "merge", "--json"] + options, in: folder)
        #expect(json.stdout.contains(#""mergedIn": "emr""#) && json.stdout.contains(#""loserCounterpart": "003000000000017AAA""#), "\(json.stdout)")
        #expect(try await HostileOutputTests.run(["conflicts", "--kind", "field"] + options, in: folder).stdout.contains("1017") == false)

        let unsaid = try await HostileOutputTests.run(["resolve", String(id), "--reason", "x"] + options, in: folder)
        #expect(unsaid.status != 0 && unsaid.stderr.contains("--merged or --apart"), "\(unsaid.stderr)")
        let taken = try await HostileOutputTests.run(["resolve", String(id), "--take", "emr", "--reason", "x"] + options, in: folder)
        #expect(taken.status != 0, "a held merge takes no side's value: \(taken.stdout)")

        let settled = try await HostileOutputTests.run(
            ["resolve", String(id), "--merged", "--reason", "merged 017 into 004 in Salesforce", "--operator", "dana"] + options, in: folder)
        #expect(settled.status == 0, "\(settled.stderr)")
        #expect(settled.stdout.contains("Held merge \(id) settled (merged)"), "\(settled.stdout)")
        let conflict = try #require(try await store.conflict(id: id))
        #expect(conflict.mergeDecision == .merged)
        #expect(conflict.resolvedBy == .operator("dana"))
        #expect(conflict.reason == "merged: merged 017 into 004 in Salesforce")
        #expect(try await store.row(id: row)?.status == .linked)
    }
}
