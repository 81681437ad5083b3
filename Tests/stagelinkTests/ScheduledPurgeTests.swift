import Foundation
import StagelinkEngine
@testable import StagelinkStore
import Testing

@testable import stagelink

/// The service's own retention purge: due when no purge (the service's or a person's) ran in the
/// last day; it purges as `stagelink purge` does and is recorded as the system's.
struct ScheduledPurgeTests {
    @Test func theServicePurgesWhenNoPurgeRanInTheLastDayAndOtherwiseWaits() async throws {
        let store = try SQLiteStore.temporary("scheduled-purge")
        let staged = try await store.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: nil, payload: Array(#"{"id":"p1"}"#.utf8))],
            job: nil, advancing: nil)
        _ = try await store.setStatus(rowIDs: staged.rowIDs, to: .ignored, from: [.staged], actor: .operator("alice"), note: "test")
        try await store.pool.write { db in try db.execute(sql: "UPDATE staged_row SET receivedAt = receivedAt - 100 * 86400") }
        let schedule = ScheduledPurge(store: store, period: .seconds(90 * 86_400))
        let now = Date()

        let first = try #require(try await schedule.runIfDue(now: now), "no purge ever ran: one is due")
        #expect(first.rows == 1 && first.actor == .system && first.id != nil)
        #expect(try await store.row(id: staged.rowIDs[0])?.payloadPurgedAt != nil)
        #expect(try await schedule.runIfDue(now: now.addingTimeInterval(3_600)) == nil, "not again within the day")

        let next = try #require(try await schedule.runIfDue(now: now.addingTimeInterval(25 * 3_600)), "a day later it is due again")
        #expect(next.rows == 0)
        // A person's purge counts too.
        _ = try await store.purgePayloads(receivedBefore: now, actor: .operator("alice"), dryRun: false)
        #expect(try await schedule.runIfDue(now: Date().addingTimeInterval(3_600)) == nil)
        #expect(try await store.payloadPurges(limit: 10).map(\.actor) == [.operator("alice"), .system, .system])
    }
}
