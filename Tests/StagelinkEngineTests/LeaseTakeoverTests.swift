import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

/// A service restarted after a crash takes the store's lease over at once from its dead
/// predecessor on this host, instead of refusing to start until the lease expires.
struct LeaseTakeoverTests {
    private static let host = ProcessInfo.processInfo.hostName
    /// Above Linux's largest possible pid (2^22), so no process has it.
    private static let deadPID: Int32 = 99_999_999

    private func service(_ store: SQLiteStore, mapping: MappingDocument, pid: Int32, host: String = host) -> SyncService {
        SyncService(
            cycle: SyncCycle(store: store, mapping: mapping, endpoints: SyncEndpoints()), every: .seconds(60),
            holder: LeaseHolder(name: "run", host: host, pid: pid), leaseDuration: .seconds(60))
    }

    @Test func aLeaseOfADeadProcessOnThisHostIsTakenOverAtOnce() async throws {
        let (store, mapping) = try await Fixtures.store()
        _ = try await service(store, mapping: mapping, pid: Self.deadPID).acquire()
        let crashedJob = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        let lease = try await service(store, mapping: mapping, pid: getpid()).acquire()
        #expect(lease.holder.pid == getpid())
        #expect(try await store.job(id: crashedJob.id)?.status == .interrupted)
    }

    @Test func aLeaseOfALiveProcessOrOfAnotherHostIsStillRefused() async throws {
        let (store, mapping) = try await Fixtures.store()
        // pid 1 runs on every Linux host.
        _ = try await service(store, mapping: mapping, pid: 1).acquire()
        await #expect(throws: LeaseHeld.self) { _ = try await service(store, mapping: mapping, pid: getpid()).acquire() }
        let (other, _) = try await Fixtures.store()
        _ = try await service(other, mapping: mapping, pid: Self.deadPID, host: "another-host").acquire()
        await #expect(throws: LeaseHeld.self) { _ = try await service(other, mapping: mapping, pid: getpid()).acquire() }
    }

    @Test func aLeaseIsAbandonedOnlyWhenItsHolderIsADeadProcessOfThisHost() {
        func lease(pid: Int32, host: String = Self.host) -> Lease {
            Lease(holder: LeaseHolder(name: "sync", host: host, pid: pid), since: Date(), expiresAt: Date().addingTimeInterval(30))
        }
        #expect(lease(pid: Self.deadPID).isAbandoned(onHost: Self.host))
        #expect(!lease(pid: 1).isAbandoned(onHost: Self.host))
        #expect(!lease(pid: getpid()).isAbandoned(onHost: Self.host))
        #expect(!lease(pid: Self.deadPID, host: "another-host").isAbandoned(onHost: Self.host))
    }

    /// What a standby was told while it waited.
    private actor Waited {
        var holders: [LeaseHolder] = []
        func saw(_ lease: Lease) { holders.append(lease.holder) }
    }

    @Test func aStandbyWaitsWhileTheLeaseIsHeldAndTakesItWhenTheHolderLetsGo() async throws {
        let (store, mapping) = try await Fixtures.store()
        // A holder on another host: this host cannot tell whether it lives, so only the lease says.
        let holder = service(store, mapping: mapping, pid: 1, host: "another-host")
        let first = try await holder.acquire()
        let waited = Waited()
        let standby = Task { try await service(store, mapping: mapping, pid: getpid()).standby(stop: StopSignal(), poll: .milliseconds(50)) { await waited.saw($0) } }
        while await waited.holders.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try await store.currentLease()?.holder == first.holder, "the standby takes nothing while the lease is held")
        try await store.releaseLease(first.holder)
        let lease = try await standby.value
        #expect(lease?.holder.pid == getpid())
        #expect((lease?.epoch ?? 0) > first.epoch)
        #expect(await waited.holders == [first.holder])
        #expect(try await store.currentLease()?.holder.pid == getpid())
    }

    @Test func aStandbyAskedToStopBeforeTheLeaseIsFreeTakesNothing() async throws {
        let (store, mapping) = try await Fixtures.store()
        let first = try await service(store, mapping: mapping, pid: 1).acquire()
        let stop = StopSignal()
        stop.request()
        let lease = try await service(store, mapping: mapping, pid: getpid()).standby(stop: stop)
        #expect(lease == nil)
        #expect(try await store.currentLease()?.holder == first.holder)
    }
}
