import Console
import Foundation
import StagelinkEngine

/// The console's actions in the executable: everything `OperationsConsoleActions` does, plus
/// sync-now. A service that holds the store's lease (in another process, or the demo's own) is
/// asked to run a cycle at once; with no service, the cycle runs here, under the lease.
struct ServiceConsoleActions: ConsoleActions {
    var operations: OperationsConsoleActions
    /// The cycle to run here when no service holds the store; nil without connections.
    var cycle: SyncCycle?

    func unavailability(of kind: ConsoleAction.Kind) -> String? {
        guard kind == .sync else { return operations.unavailability(of: kind) }
        return cycle == nil ? "sync-now needs the Salesforce and EMR connections: open the console with --config" : nil
    }

    func perform(_ action: ConsoleAction, by operatorName: String) async throws -> ActionOutcome {
        guard case .syncNow = action else { return try await operations.perform(action, by: operatorName) }
        guard let cycle else { throw ConsoleActionError.unavailable(.sync, unavailability(of: .sync) ?? "") }
        let store = cycle.store
        if let lease = try await store.currentLease(), lease.expiresAt > Date() {
            try await store.requestSync([.inbound, .outbound], actor: .operator(operatorName))
            return ActionOutcome(summary: "asked the service \(lease.holder) to sync now; its jobs appear in Live and Jobs", severity: .success)
        }
        let service = SyncService(cycle: cycle, every: .seconds(1), holder: Context.holder("console"), logger: cycle.logger)
        let report = try await service.runOnce([.inbound, .outbound], actor: .operator(operatorName), stop: StopSignal())
        let inbound = report.counts(.inbound)
        let outbound = report.counts(.outbound)
        let summary =
            "synced: inbound \(inbound.linked) linked, \(inbound.failed) failed; outbound \(outbound.linked) linked, \(outbound.failed) failed"
        let severity: ActionOutcome.Severity =
            switch report.worstStatus {
            case .failed, .interrupted: .failure
            case .partial: .partial
            default: .success
            }
        return ActionOutcome(summary: summary, severity: severity, jobID: report.jobs.last?.id)
    }
}
