import Foundation
import Logging
import StagelinkEngine

/// Keeps the store's alerts in step with the rules: a condition that appears fires once, one that
/// clears resolves once, and one that stays is sent again every `repeat`. Each state change is
/// kept in the store and posted to every webhook with its delivery attempts.
///
/// A firing alert whose sending failed on some webhook is sent again at the next evaluation,
/// not only after the repeat interval.
///
/// For example:
///
/// ```swift
/// let notifier = AlertNotifier(store: store, settings: settings, sender: WebhookSender(store: store, logger: logger), logger: logger)
/// let round = try await notifier.evaluate()
/// round.fired.map(\.condition.rule)   // ["failedRows"]
/// ```
public actor AlertNotifier {
    /// What one evaluation changed.
    public struct Round: Sendable, Hashable {
        public var fired: [Alert] = []
        public var repeated: [Alert] = []
        public var resolved: [Alert] = []
    }

    let store: any OperationsStore
    let settings: AlertSettings
    let sender: WebhookSender
    let logger: Logger
    let directions: Set<Job.Direction>
    /// When watching began (for directions that never pulled).
    let since: Date

    public init(
        store: any OperationsStore, settings: AlertSettings, sender: WebhookSender, directions: Set<Job.Direction> = Set(Job.Direction.allCases),
        since: Date = Date(), logger: Logger
    ) {
        self.store = store
        self.settings = settings
        self.sender = sender
        self.directions = directions
        self.since = since
        self.logger = logger
    }

    /// Reads the store, applies the rules, and fires, repeats and resolves alerts.
    @discardableResult
    public func evaluate() async throws -> Round {
        try await evaluate(snapshot: try await store.operationsSnapshot())
    }

    public func evaluate(snapshot: OperationsSnapshot) async throws -> Round {
        let now = snapshot.takenAt
        let conditions = AlertEvaluation.conditions(settings.rules, snapshot: snapshot, since: since, directions: directions)
        var wanted: [String: AlertCondition] = [:]
        for condition in conditions { wanted[Self.identity(condition)] = condition }
        var round = Round()
        for var alert in try await store.firingAlerts() {
            if wanted.removeValue(forKey: Self.identity(alert.condition)) != nil {
                let due = alert.lastNotifiedAt.map { now.timeIntervalSince($0) >= settings.repeatInterval.seconds } ?? true
                guard due else { continue }
                try await send(alert, event: alert.notifications == 0 ? .firing : .repeat, at: now)
                round.repeated.append(alert)
            } else {
                try await store.resolveAlert(id: alert.id, at: now)
                alert.status = .resolved
                alert.resolvedAt = now
                try await send(alert, event: .resolved, at: now)
                round.resolved.append(alert)
            }
        }
        for condition in conditions where wanted[Self.identity(condition)] != nil {
            let alert = try await store.openAlert(condition, at: now)
            logger.notice("alert firing", metadata: ["alert.id": "\(alert.id)", "alert.rule": "\(condition.rule)", "alert.key": "\(condition.key)"])
            try await send(alert, event: .firing, at: now)
            round.fired.append(alert)
        }
        return round
    }

    /// Sends a test alert to every webhook and keeps it (resolved at once) with its deliveries.
    public func sendTest(at now: Date = Date()) async throws -> (alert: Alert, delivered: [String: Bool]) {
        var alert = try await store.openAlert(
            AlertCondition(rule: "test", key: "test-\(Int(now.timeIntervalSince1970))", severity: .warning, summary: "a test alert from `stagelink alerts test`: nothing is wrong"),
            at: now)
        try await store.resolveAlert(id: alert.id, at: now)
        alert.status = .resolved
        alert.resolvedAt = now
        let delivered = try await sender.deliver(alert, event: .test, to: settings.webhooks)
        try await store.markAlertNotified(id: alert.id, at: now)
        return (alert, delivered)
    }

    private func send(_ alert: Alert, event: AlertDelivery.Event, at now: Date) async throws {
        let delivered = try await sender.deliver(alert, event: event, to: settings.webhooks)
        // A firing state that did not reach every webhook is tried again at the next evaluation.
        if event == .resolved || delivered.values.allSatisfy({ $0 }) {
            try await store.markAlertNotified(id: alert.id, at: now)
        }
    }

    private static func identity(_ condition: AlertCondition) -> String { "\(condition.rule)\u{1F}\(condition.key)" }
}
