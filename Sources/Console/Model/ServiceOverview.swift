import Foundation
import StagelinkEngine

/// What the header says about the service: who holds the lease, and its health (each
/// direction's pull and link, by the same model as `stagelink status`).
struct ServiceOverview: Sendable, Hashable {
    var health: ServiceHealth?

    var lease: Lease? { health?.lease }

    static func load(store: any ConsoleStore, thresholds: ServiceHealth.Thresholds, now: Date) async throws -> ServiceOverview {
        ServiceOverview(health: try await ServiceHealth.assess(store, thresholds: thresholds, now: now))
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

extension ServiceHealth.Level {
    /// `✓ healthy`, `◐ degraded`, `✗ failing`: a symbol and a word, and a role for its colour.
    var symbol: String {
        switch self {
        case .healthy: "✓"
        case .degraded: "◐"
        case .failing: "✗"
        }
    }

    var role: Role {
        switch self {
        case .healthy: .ok
        case .degraded: .warning
        case .failing: .error
        }
    }
}
