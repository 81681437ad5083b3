import Foundation
import Logging
import StagelinkEngine
import StagelinkOperations
import StagelinkStore

/// What `stagelink run` does beside its cycles so that nobody has to watch a terminal: serve
/// `/metrics`, `/healthz`, `/readyz` and `/status` (`--listen` or `service.listen`), and check the
/// alert rules (`alerts:`) every `alerts.evaluateEvery` and after every cycle, while it holds the lease.
final class ServiceOperations: Sendable {
    private let server: OperationsServer?
    private let notifier: AlertNotifier?
    private let alertLoop: Task<Void, Never>?
    private let lastCycle: LastCycle
    private let context: Context
    private let holder: LeaseHolder

    /// The address the endpoints listen on, when they do.
    var address: ListenAddress? { server?.address }

    private init(
        context: Context, holder: LeaseHolder, lastCycle: LastCycle, server: OperationsServer?, notifier: AlertNotifier?, alertLoop: Task<Void, Never>?
    ) {
        self.context = context
        self.lastCycle = lastCycle
        self.holder = holder
        self.server = server
        self.notifier = notifier
        self.alertLoop = alertLoop
    }

    static func start(_ context: Context, listen: ListenAddress?, holder: LeaseHolder, every: Duration) async throws -> ServiceOperations {
        let lastCycle = LastCycle()
        var server: OperationsServer?
        if let listen {
            let store = context.store
            server = try await OperationsServer.start(
                listen: listen, exporter: MetricsExporter(store: store), status: { try await HealthReport.current(context) },
                readiness: {
                    Readiness.assess(lease: try await store.currentLease(), holder: holder, standby: false, lastCycleAt: await lastCycle.at, every: every)
                }, logger: context.logger)
        }
        var notifier: AlertNotifier?
        var loop: Task<Void, Never>?
        if let settings = context.configuration?.alerts, !settings.rules.isEmpty {
            let configured = context.configuration.map { $0.salesforce != nil && $0.emr != nil } ?? false
            let made = AlertNotifier(
                store: context.store, settings: settings, sender: WebhookSender(store: context.store, logger: context.logger),
                directions: configured ? Set(Job.Direction.allCases) : [], logger: context.logger)
            notifier = made
            loop = Task { [store = context.store, logger = context.logger] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: settings.evaluateEvery)
                    if Task.isCancelled { return }
                    await Self.evaluate(made, store: store, holder: holder, logger: logger)
                }
            }
        }
        return ServiceOperations(context: context, holder: holder, lastCycle: lastCycle, server: server, notifier: notifier, alertLoop: loop)
    }

    /// After each cycle: readiness counts from here, and the alert rules are checked at once.
    func cycleFinished() async {
        await lastCycle.mark()
        if let notifier { await Self.evaluate(notifier, store: context.store, holder: holder, logger: context.logger) }
    }

    func stop() async {
        alertLoop?.cancel()
        await server?.stop()
    }

    /// Only the lease holder sends alerts, so that a second process on the store never doubles them.
    private static func evaluate(_ notifier: AlertNotifier, store: SQLiteStore, holder: LeaseHolder, logger: Logger) async {
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
        let health = try await Health.assess(context)
        return (JSONWriter.prettyString(health.json), health.level == .failing)
    }
}
