import Foundation
import Logging

/// The service: a cycle on a schedule, until stopped, holding the store's lease so that only one
/// process runs cycles against a store at a time.
///
/// The lease expires if its holder dies, so a crashed service is taken over by the next `run`;
/// the jobs it left running are marked interrupted. Every write of the holder's cycles carries the
/// lease's epoch: a holder whose lease was taken over (it was paused, or lost the store, past the
/// lease) has its writes refused (``StaleLease``) and stops. Other processes ask for a cycle now through
/// the store (`requestSync`), which the service notices within a second.
///
/// For example:
///
/// ```swift
/// let service = SyncService(cycle: cycle, every: .seconds(900), holder: holder)
/// try await service.run(stop: stop)
/// ```
public struct SyncService: Sendable {
    public var cycle: SyncCycle
    public var every: Duration
    public var holder: LeaseHolder
    /// How long the lease lasts without renewal; renewed at a third of it.
    public var leaseDuration: Duration
    public var logger: Logger

    public init(cycle: SyncCycle, every: Duration, holder: LeaseHolder, leaseDuration: Duration = .seconds(30), logger: Logger = Logger(label: "stagelink.service")) {
        self.cycle = cycle
        self.every = every
        self.holder = holder
        self.leaseDuration = leaseDuration
        self.logger = logger
    }

    /// Takes the lease or throws `LeaseHeld` naming its holder. A lease held by a process of this
    /// host that no longer runs (it crashed) is taken over at once, without waiting for it to expire.
    public func acquire() async throws -> Lease {
        var result = try await cycle.store.acquireLease(holder, for: leaseDuration)
        if case .heldBy(let lease) = result, lease.holder.pid != holder.pid, lease.isAbandoned(onHost: holder.host) {
            result = try await cycle.store.acquireLease(holder, for: leaseDuration, replacing: lease.holder)
        }
        switch result {
        case .heldBy(let lease):
            throw LeaseHeld(lease: lease)
        case .acquired(let lease, let previous):
            if let previous {
                let count = try await cycle.store.interruptRunningJobs(message: "\(previous) stopped without finishing; taken over by \(holder)")
                logger.notice("took over the lease", metadata: ["lease.previous": "\(previous)", "sync.interrupted_jobs": "\(count)"])
                try await cycle.store.appendEvents([
                    SyncEvent(at: Date(), jobID: nil, level: .warning, message: "took over from \(previous); \(count) unfinished job(s) marked interrupted")
                ])
            }
            return lease
        }
    }

    /// Waits as a standby for the lease: asks for it every `poll` until it is free (its holder
    /// released it, let it expire, or died on this host), and returns it; nil when `stop` came
    /// first. `waiting` is told the holder each time the lease changes hands while it waits.
    /// Across hosts the takeover comes within the lease's duration plus one `poll` of the holder's death.
    public func standby(stop: StopSignal, poll: Duration = .seconds(1), waiting: @Sendable (Lease) async -> Void = { _ in }) async throws -> Lease? {
        var seen: LeaseHolder?
        while !stop.isRequested {
            do {
                return try await acquire()
            } catch let held as LeaseHeld {
                if held.lease.holder != seen {
                    seen = held.lease.holder
                    await waiting(held.lease)
                }
            }
            try? await Task.sleep(for: poll)
        }
        return nil
    }

    /// Runs cycles until `stop` is requested; the cycle in flight finishes its current batch first.
    /// A `standby` service waits for the lease (``standby(stop:poll:waiting:)``) instead of
    /// throwing ``LeaseHeld``.
    public func run(stop: StopSignal, cycles limit: Int? = nil, standby: Bool = false, onCycle: @Sendable (CycleReport) async -> Void = { _ in }) async throws {
        let epoch: Int64
        if standby {
            let logger = logger
            guard let lease = try await self.standby(stop: stop, waiting: { lease in
                logger.notice("standby: waiting for the lease", metadata: ["lease.holder": "\(lease.holder)"])
            }) else { return }
            epoch = lease.epoch
        } else {
            epoch = try await acquire().epoch
        }
        let store = cycle.store
        let cycle = cycle.fenced(by: epoch)
        let holder = holder
        let leaseDuration = leaseDuration
        let lost = StopSignal()
        // The lease is renewed on its own schedule, so a long cycle never lets it lapse.
        let renewal = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: leaseDuration / 3)
                if Task.isCancelled { return }
                switch try? await store.acquireLease(holder, for: leaseDuration) {
                case .heldBy:
                    break
                case .acquired(let lease, _) where lease.epoch != epoch:
                    // Lost and taken again in between: the writes fenced by the old epoch are refused.
                    try? await store.releaseLease(holder)
                default:
                    continue
                }
                lost.request()
                stop.request()
                return
            }
        }
        defer { renewal.cancel() }
        try await cycle.store.appendEvents([SyncEvent(at: Date(), jobID: nil, level: .info, message: "service started by \(holder), a cycle every \(every.compactText)")])
        var completed = 0
        var directions: Set<Job.Direction> = [.inbound, .outbound]
        var actor = Actor.system
        while !stop.isRequested {
            let report = try await cycle.run(directions, actor: actor, stop: stop)
            completed += 1
            await onCycle(report)
            if let limit, completed >= limit { break }
            // Wait for the next cycle, a request from another process, or a stop.
            let next = ContinuousClock.now + every
            directions = [.inbound, .outbound]
            actor = .system
            waiting: while ContinuousClock.now < next && !stop.isRequested {
                if let request = try await cycle.store.takeSyncRequests().last {
                    directions = request.directions.isEmpty ? [.inbound, .outbound] : request.directions
                    actor = request.actor
                    break waiting
                }
                try? await Task.sleep(for: min(.seconds(1), next - ContinuousClock.now))
            }
        }
        renewal.cancel()
        if lost.isRequested {
            throw LeaseLost(holder: holder)
        }
        try await store.releaseLease(holder)
        try await store.appendEvents([SyncEvent(at: Date(), jobID: nil, level: .info, message: "service stopped")])
    }

    /// One cycle now, under the lease (so that it never overlaps a running service's cycle).
    public func runOnce(_ directions: Set<Job.Direction>, actor: Actor, stop: StopSignal) async throws -> CycleReport {
        let epoch = try await acquire().epoch
        do {
            let report = try await cycle.fenced(by: epoch).run(directions, actor: actor, stop: stop)
            try await cycle.store.releaseLease(holder)
            return report
        } catch {
            try? await cycle.store.releaseLease(holder)
            throw error
        }
    }
}

/// Another process runs cycles against this store.
public struct LeaseHeld: Error, Sendable, CustomStringConvertible {
    public var lease: Lease

    public var description: String {
        "another Stagelink service holds this store: \(lease.holder), since \(Timestamp.format(lease.since)) (lease until \(Timestamp.format(lease.expiresAt)))"
    }
}

/// A write of a lease holder was refused: the lease changed hands since it was taken at `epoch`
/// (see ``LeaseFencing``). Nothing of that write is stored.
public struct StaleLease: Error, Sendable, CustomStringConvertible {
    /// The epoch the refused write carried.
    public var epoch: Int64
    /// The lease as the store holds it now; nil when nobody holds it.
    public var current: Lease?

    public init(epoch: Int64, current: Lease?) {
        self.epoch = epoch
        self.current = current
    }

    public var description: String {
        let now = current.map { "\($0.holder) holds it at epoch \($0.epoch)" } ?? "nobody holds it now"
        return "a write under the store's lease at epoch \(epoch) was refused: the lease changed hands since (\(now)); this process no longer holds it and stops"
    }
}

/// The lease was taken by another process while this one ran (it was paused past the lease).
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public var holder: LeaseHolder
    public var description: String { "the store's lease was taken over by another process while \(holder) ran; stopped" }
}
