import ArgumentParser
import Foundation
import StagelinkEngine
import StagelinkOperations

/// `stagelink alerts`: the alerts the service fired, and a test alert to check the webhooks.
struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Lists recent alerts (firing first), with their webhook deliveries; `alerts test` sends a test alert.",
        discussion: """
            `stagelink run` checks the rules of alerts: in stagelink.yaml after every cycle and every \
            alerts.evaluateEvery. Each alert fires once, is sent again every alerts.repeat while it \
            fires, and resolves once; every attempt to post it to a webhook is kept. Alerts carry \
            codes, counts and ids, never patient data (docs/monitoring.md).

            Examples:
              stagelink alerts
              stagelink alerts --firing --json
              stagelink alerts test
            """,
        subcommands: [AlertsListCommand.self, AlertsTestCommand.self],
        defaultSubcommand: AlertsListCommand.self
    )
}

struct AlertsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists recent alerts, newest first, with their deliveries.")

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "How many alerts to show.")
    var limit = 20

    @Flag(help: "Only the alerts firing now.")
    var firing = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let store = try await Context.open(storeOptions, for: .reading).operationsStore
        let alerts = firing ? try await store.firingAlerts() : try await store.recentAlerts(limit: limit)
        var deliveries: [Int64: [AlertDelivery]] = [:]
        for alert in alerts { deliveries[alert.id] = try await store.deliveries(ofAlert: alert.id) }
        if json {
            JSONOutput.print(.array(alerts.map { Self.json($0, deliveries: deliveries[$0.id] ?? []) }))
            return
        }
        guard !alerts.isEmpty else {
            print(firing ? "No alert is firing." : "No alerts yet. Rules go under alerts: in stagelink.yaml (docs/monitoring.md).")
            return
        }
        var table = TextTable("ID", "STATUS", "SEVERITY", "RULE", "KEY", "FIRED", "RESOLVED", "SENT", "DELIVERIES", "SUMMARY")
        for alert in alerts {
            let attempts = deliveries[alert.id] ?? []
            let delivered = attempts.filter(\.delivered).count
            let failed = attempts.count - delivered
            table.add(
                String(alert.id), alert.status.rawValue, alert.condition.severity.rawValue, alert.condition.rule, alert.condition.key,
                alert.firedAt.shortText, alert.resolvedAt?.shortText ?? "—", String(alert.notifications),
                attempts.isEmpty ? "—" : "\(delivered) ok" + (failed > 0 ? ", \(failed) failed" : ""), alert.condition.summary)
        }
        print(table.render(maximumWidth: 80))
    }

    static func json(_ alert: Alert, deliveries: [AlertDelivery]) -> JSONValue {
        [
            "id": JSONOutput.number(alert.id), "status": .string(alert.status.rawValue), "severity": .string(alert.condition.severity.rawValue),
            "rule": .string(alert.condition.rule), "key": .string(alert.condition.key), "summary": .string(alert.condition.summary),
            "firedAt": JSONOutput.instant(alert.firedAt), "resolvedAt": JSONOutput.instant(alert.resolvedAt),
            "lastNotifiedAt": JSONOutput.instant(alert.lastNotifiedAt), "notifications": JSONOutput.number(alert.notifications),
            "deliveries": .array(
                deliveries.map {
                    [
                        "event": .string($0.event.rawValue), "webhook": .string($0.webhook), "attempt": JSONOutput.number($0.attempt),
                        "at": JSONOutput.instant($0.at), "httpStatus": $0.httpStatus.map(JSONOutput.number) ?? .null, "error": JSONOutput.text($0.error),
                        "delivered": .bool($0.delivered),
                    ]
                }),
        ]
    }
}

struct AlertsTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Posts a test alert to every webhook of alerts: in stagelink.yaml and says which got it.",
        discussion: """
            The test alert is kept in the store (resolved at once) with its delivery attempts. \
            Exit code 1 when a webhook did not take it after its retries.

            Example:
              stagelink alerts test --config /etc/stagelink/stagelink.yaml
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let context = try await Context.open(storeOptions)
        guard let settings = context.configuration?.alerts, !settings.webhooks.isEmpty else {
            throw ValidationError("No webhooks are configured: add alerts.webhooks to stagelink.yaml (docs/monitoring.md).")
        }
        let store = try context.operationsStore
        let notifier = AlertNotifier(store: store, settings: settings, sender: WebhookSender(store: store, logger: context.logger), logger: context.logger)
        let (alert, delivered) = try await notifier.sendTest()
        let attempts = try await store.deliveries(ofAlert: alert.id)
        for webhook in settings.webhooks {
            let tries = attempts.filter { $0.webhook == webhook.name }
            let last = tries.last.map { $0.httpStatus.map { "HTTP \($0)" } ?? $0.error ?? "" } ?? ""
            let verdict = delivered[webhook.name] == true ? "✓ delivered" : "✗ not delivered"
            print("\(verdict) to \(webhook.name) (\(webhook.format.rawValue)) after \(tries.count) attempt\(tries.count == 1 ? "" : "s"): \(last)")
        }
        print("Test alert \(alert.id) kept in the store: stagelink alerts")
        if delivered.values.contains(false) { throw ExitCode(1) }
    }
}
