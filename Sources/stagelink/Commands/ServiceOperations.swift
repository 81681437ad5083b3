import Foundation
import Logging
import StagelinkEngine
import StagelinkOperations
import StagelinkStore

/// What `stagelink run` does beside its cycles so that nobody has to watch a terminal: serve
/// `/metrics`, `/healthz`, `/readyz`, `/leader` and `/status` (`--listen` or `service.listen`), and check the
/// alert rules (`alerts:`) every `alerts.evaluateEvery` and after every cycle, while it holds the lease.
final class ServiceOperations: Sendable {
    private let server: OperationsServer?
    /// Asks the alert loop for a check now (after a cycle); the loop is the only one that checks,
    /// so checks never overlap and a slow webhook never holds up a cycle.
    private let checkNow: AsyncStream<Void>.Continuation?
    private let alertLoop: Task<Void, Never>?
    private let lastCycle: LastCycle
    private let context: Context
    private let holder: LeaseHolder

    /// The address the endpoints listen on, when they do.
    var address: ListenAddress? { server?.address }

    private init(
        context: Context, holder: LeaseHolder, lastCycle: LastCycle, server: OperationsServer?, checkNow: AsyncStream<Void>.Continuation?,
        alertLoop: Task<Void, Never>?
    ) {
        self.context = context
        self.lastCycle = lastCycle
        self.holder = holder
        self.server = server
        self.checkNow = checkNow
        self.alertLoop = alertLoop
    }

    /// - Parameter standby: started with `--standby`: `/readyz` is ready while it waits for the lease.
    static func start(_ context: Context, listen: ListenAddress?, holder: LeaseHolder, every: Duration, standby: Bool = false) async throws -> ServiceOperations {
        let lastCycle = LastCycle()
        var server: OperationsServer?
        if let listen {
            let store = context.store
            server = try await OperationsServer.start(
                listen: listen, exporter: MetricsExporter(store: try context.operationsStore), status: { try await HealthReport.current(context) },
                readiness: {
                    Readiness.assess(lease: try await store.currentLease(), holder: holder, standby: standby, lastCycleAt: await lastCycle.at, every: every)
                }, logger: context.logger)
        }
        var checkNow: AsyncStream<Void>.Continuation?
        var loop: Task<Void, Never>?
        if let settings = context.configuration?.alerts, !settings.rules.isEmpty {
            let configured = context.configuration.map { $0.salesforce != nil && $0.emr != nil } ?? false
            let store = try context.operationsStore
            let made = AlertNotifier(
                store: store, settings: settings, sender: WebhookSender(store: store, logger: context.logger),
                directions: configured ? Set(Job.Direction.allCases) : [], logger: context.logger)
            let (requests, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            checkNow = continuation
            let timer = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: settings.evaluateEvery)
                    continuation.yield()
                }
            }
            loop = Task { [store = context.store, logger = context.logger] in
                for await _ in requests {
                    if Task.isCancelled { break }
                    await Self.evaluate(made, store: store, holder: holder, logger: logger)
                }
                timer.cancel()
            }
        }
        return ServiceOperations(context: context, holder: holder, lastCycle: lastCycle, server: server, checkNow: checkNow, alertLoop: loop)
    }

    /// After each cycle: readiness counts from here, and the alert rules are checked at once.
    func cycleFinished() async {
        await lastCycle.mark()
        checkNow?.yield()
    }

    func stop() async {
        checkNow?.finish()
        alertLoop?.cancel()
        await server?.stop()
    }

    /// Only the lease holder sends alerts, so that a second process on the store never doubles them.
    private static func evaluate(_ notifier: AlertNotifier, store: any LeaseReader, holder: LeaseHolder, logger: Logger) async {
        do {
            guard let lease = try await store.currentLease(), lease.holder == holder, lease.expiresAt > Date() else { return }
            try await notifier.evaluate()
        } catch {
            logger.error("alert rules could not be checked", metadata: ["error": "\(error)"])
        }
    }
}

/// When the service's last cycle finished.
private actor LastCycle {
    private(set) var at: Date?

    func mark() { at = Date() }
}

/// The one place the service's endpoints read the health model (`/status`).
enum HealthReport {
    /// The JSON of `stagelink status --json`, and whether its level is failing.
    static func current(_ context: Context) async throws -> (json: String, failing: Bool) {
        let health = try await ServiceHealth.assess(context.store, thresholds: ServiceHealth.Thresholds(context.configuration))
        return (JSONWriter.prettyString(health.json), health.level == .failing)
    }
}
