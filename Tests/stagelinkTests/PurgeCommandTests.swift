import Foundation
import StagelinkEngine
@testable import StagelinkStore
import Testing

/// `stagelink purge` as a user runs it: a dry run counts, a purge empties old payloads of rows
/// whose record moved on and records itself, and `show` then says when the payload was purged.
struct PurgeCommandTests {
    @Test func aDryRunCountsThenThePurgeIsRecordedAndShowSaysPayloadPurged() async throws {
        let temporary = try TemporaryFolder("purge-cli")
        let folder = temporary.url
        let (store, _, _) = try await HostileOutputTests.hostileStore(in: folder)
        let options = ["--store", store.path, "--mapping", HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path]
        let linked = try #require(try await store.rows(RowQuery(filter: RowFilter(statuses: [.linked]), limit: 1)).first)
        let failed = try await store.countRows(RowFilter(statuses: [.failed]))

        let refused = try await HostileOutputTests.run(["purge"] + options, in: folder)
        #expect(refused.status != 0 && refused.stderr.contains("retention.payloads"), "no period: a clear error")
        let badPeriod = try await HostileOutputTests.run(["purge", "--older-than", "90"] + options, in: folder)
        #expect(badPeriod.status != 0 && badPeriod.stderr.contains("such as 90d"))

        // Rows were received just now: a period of one day purges nothing.
        let nothing = try await HostileOutputTests.run(["purge", "--older-than", "1d", "--dry-run"] + options, in: folder)
        #expect(nothing.stdout.contains("Would purge the payloads of 0 rows"), "\(nothing.stdout)\(nothing.stderr)")

        // Backdate every row by 100 days, as if received then.
        try await store.pool.write { db in try db.execute(sql: "UPDATE staged_row SET receivedAt = receivedAt - 100 * 86400") }
        let dry = try await HostileOutputTests.run(["purge", "--older-than", "90d", "--dry-run"] + options, in: folder)
        #expect(dry.stdout.contains("Would purge"), "\(dry.stderr)")
        #expect(try await store.row(id: linked.id)?.payloadPurgedAt == nil)
        let done = try await HostileOutputTests.run(["purge", "--older-than", "90d", "--operator", "alice"] + options, in: folder)
        #expect(done.status == 0 && done.stdout.contains("Recorded as purge 1"), "\(done.stdout)\(done.stderr)")
        #expect(try await store.row(id: linked.id)?.payloadPurgedAt != nil)
        #expect(try await store.countRows(RowFilter(statuses: [.failed])) == failed, "failed rows keep their status")
        let failedRows = try await store.rows(RowQuery(filter: RowFilter(statuses: [.failed]), limit: 10_000))
        for row in failedRows { #expect(try await store.row(id: row.id)?.payloadPurgedAt == nil, "failed row \(row.id) keeps its payload") }

        let shown = try await HostileOutputTests.run(["show", String(linked.id)] + options, in: folder)
        #expect(shown.stdout.contains("Payload purged on ") && shown.stdout.contains("sha256"), "\(shown.stdout)")
        let audit = try await HostileOutputTests.run(["purge", "--audit"] + options, in: folder)
        #expect(audit.stdout.contains("operator:alice"), "\(audit.stdout)")
    }
}
