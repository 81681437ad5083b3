import Foundation
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import Testing

/// The service lease fences its holder's writes: every write of a cycle carries the lease's epoch,
/// and once the lease has changed hands a holder that did not notice (paused, cut off from the
/// store past its lease) has its writes refused, so it never writes over the work of the process
/// that took over.
struct LeaseFencingTests {
    private static let host = ProcessInfo.processInfo.hostName
    /// Above Linux's largest possible pid (2^22), so no process has it: its lease is abandoned.
    private static let deadPID: Int32 = 99_999_999
    private static let first = LeaseHolder(name: "run", host: "a", pid: 1)
    private static let second = LeaseHolder(name: "run", host: "b", pid: 2)

    private func acquire(_ holder: LeaseHolder, _ store: SQLiteStore, replacing stale: LeaseHolder? = nil) async throws -> Lease {
        guard case .acquired(let lease, _) = try await store.acquireLease(holder, for: .seconds(60), replacing: stale) else { throw NotAcquired() }
        return lease
    }

    private struct NotAcquired: Error {}

    private func patient(_ id: String) -> IncomingRecord {
        IncomingRecord(system: .emr, resourceType: "Patient", sourceID: id, version: "1", lastUpdated: nil, payload: Array(#"{"resourceType":"Patient","id":"\#(id)"}"#.utf8))
    }

    @Test func aHolderWhoseLeaseWasTakenOverHasItsWritesRefusedAndNothingOfThemLands() async throws {
        let (store, _) = try await Fixtures.store()
        let held = try await acquire(Self.first, store)
        let stale = store.fenced(by: held.epoch)
        let job = try await stale.startJob(kind: .link, direction: .inbound, actor: .system)
        _ = try await stale.stage([patient("p1")], job: job.id, advancing: nil)

        // Another process takes the lease over and marks the first one's job interrupted.
        let taken = try await acquire(Self.second, store, replacing: Self.first)
        #expect(taken.epoch > held.epoch)
        #expect(try await store.interruptRunningJobs(message: "taken over") == 1)

        // The first holder carries on as if it still held the lease: its job's end is refused…
        var finished = job
        finished.status = .succeeded
        let refused = await #expect(throws: StaleLease.self) { try await stale.updateJob(finished) }
        #expect(refused?.epoch == held.epoch)
        #expect(refused?.current?.holder == Self.second)
        #expect(refused?.current?.epoch == taken.epoch)
        #expect(refused?.description.contains("epoch \(held.epoch) was refused") == true)
        #expect(try await store.job(id: job.id)?.status == .interrupted, "the stale holder does not bring its job back to life")
        // …and so is every other write of its cycle.
        await #expect(throws: StaleLease.self) { _ = try await stale.stage([patient("p2")], job: job.id, advancing: nil) }
        await #expect(throws: StaleLease.self) { _ = try await stale.startJob(kind: .pull, direction: .inbound, actor: .system) }
        await #expect(throws: StaleLease.self) { try await stale.appendEvents([SyncEvent(at: Date(), jobID: nil, level: .info, message: "late")]) }
        await #expect(throws: StaleLease.self) { _ = try await stale.takeSyncRequests() }
        #expect(try await store.countRows(.all) == 1, "only the row staged while the lease was held")
        #expect(try await store.jobs(before: nil, limit: 10).count == 1)

        // The holder now writes under its own epoch.
        let current = store.fenced(by: taken.epoch)
        _ = try await current.stage([patient("p2")], job: nil, advancing: nil)
        #expect(try await store.countRows(.all) == 2)
    }

    @Test func theEpochGrowsWithEachChangeOfHandsEvenAcrossAReleaseAndARenewalKeepsIt() async throws {
        let (store, _) = try await Fixtures.store()
        let first = try await acquire(Self.first, store)
        let renewed = try await acquire(Self.first, store)
        #expect(renewed.epoch == first.epoch, "a renewal keeps the epoch")
        #expect(try await store.currentLease()?.epoch == first.epoch)
        try await store.releaseLease(Self.first)
        let second = try await acquire(Self.second, store)
        #expect(second.epoch > first.epoch)
        try await store.releaseLease(Self.second)
        let again = try await acquire(Self.first, store)
        #expect(again.epoch > second.epoch, "the same holder taking the lease again gets a new epoch")
        // What the first holder wrote under its first lease is fenced off, though it holds the lease again.
        await #expect(throws: StaleLease.self) { _ = try await store.fenced(by: first.epoch).startJob(kind: .pull, direction: .inbound, actor: .system) }
        _ = try await store.fenced(by: again.epoch).startJob(kind: .pull, direction: .inbound, actor: .system)
    }

    @Test func aReleasedLeaseFencesOffItsHolder() async throws {
        let (store, _) = try await Fixtures.store()
        let held = try await acquire(Self.first, store)
        try await store.releaseLease(Self.first)
        let refused = await #expect(throws: StaleLease.self) { _ = try await store.fenced(by: held.epoch).startJob(kind: .pull, direction: .inbound, actor: .system) }
        #expect(refused?.current == nil)
        #expect(refused?.description.contains("nobody holds it now") == true)
        _ = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)  // a store that is not fenced writes as before
    }

    @Test func twoServicesOnOneStoreTheStaleOneStopsWithItsWriteRefused() async throws {
        let (store, mapping) = try await Fixtures.store()
        func service(pid: Int32) -> SyncService {
            SyncService(
                cycle: SyncCycle(store: store, mapping: mapping, endpoints: SyncEndpoints(salesforceTarget: InMemoryUpsertTarget())), every: .zero,
                holder: LeaseHolder(name: "run", host: Self.host, pid: pid), leaseDuration: .seconds(60))
        }
        // The first service's process is "dead" as far as the lease can tell (it was paused, say):
        // the second takes over between its cycles, and its next cycle's first write is refused.
        let stale = service(pid: Self.deadPID)
        let standby = service(pid: getpid())
        let refused = await #expect(throws: StaleLease.self) {
            try await stale.run(stop: StopSignal(), cycles: 3) { _ in _ = try? await standby.acquire() }
        }
        let takenOver = try await store.currentLease()
        #expect(takenOver?.holder.pid == getpid())
        #expect(refused?.current?.epoch == takenOver?.epoch)
        let jobs = try await store.jobs(before: nil, limit: 10)
        #expect(jobs.count == 1, "the stale service's second cycle started no job: \(jobs.map(\.id))")
        #expect(jobs.first?.status == .succeeded)

        let report = try await standby.runOnce([.inbound], actor: .system, stop: StopSignal())
        #expect(report.jobs.map(\.status) == [.succeeded])
        #expect(try await store.jobs(before: nil, limit: 10).count == 2)
    }
}
