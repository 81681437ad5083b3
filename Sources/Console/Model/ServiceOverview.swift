import Foundation
import StagelinkEngine

/// What the header says about the service: who holds the lease, and how each direction's last
/// cycle ended.
struct ServiceOverview: Sendable, Hashable {
    var lease: Lease?
    /// The newest finished job of each direction.
    var lastFinished: [Job.Direction: Job] = [:]

    static let finishedStatuses: Set<Job.Status> = [.succeeded, .partial, .failed, .interrupted]

    static func load(store: any SyncStore) async throws -> ServiceOverview {
        var overview = ServiceOverview(lease: try await store.currentLease())
        for direction in Job.Direction.allCases {
            overview.lastFinished[direction] = try await store.lastJob(direction: direction, statuses: finishedStatuses)
        }
        return overview
    }

    /// The service as a person reads it.
    enum State: Hashable {
        /// A live lease: a service is running against this store.
        case running(Lease)
        /// A lease that ran out: the service stopped without releasing it (a crash, a kill).
        case stale(Lease)
        /// No service: actions run in the console's own process.
        case absent
    }

    func state(now: Date) -> State {
        guard let lease else { return .absent }
        return lease.expiresAt > now ? .running(lease) : .stale(lease)
    }
}
