import Foundation
import Logging
import SalesforceClient
import Sandbox
import StagelinkEngine
import StagelinkOperations
import StagelinkStore
import StagelinkTestSupport
import Testing

/// The alert rules watching real sync cycles against the sandbox: each fires when the sandbox
/// makes its condition true and resolves when a later cycle (or a person) clears it, delivered to
/// the sandbox's webhook receiver with no patient data.
struct AlertsAgainstTheSandboxTests {
    static func notifier(_ sync: SyncHarness, rules: [AlertRule], since: Date = Date()) -> AlertNotifier {
        let webhook = WebhookTarget(
            name: "ops", url: URL(string: "\(sync.sandbox.salesforceURL)/_sandbox/webhooks/slack/ops")!, format: .slack, maxAttempts: 2,
            timeout: .seconds(5), retryDelay: .milliseconds(10))
        let logger = Logger(label: "alerts") { _ in SwiftLogNoOpLogHandler() }
        return AlertNotifier(
            store: sync.store, settings: AlertSettings(rules: rules.map { ConfiguredAlertRule($0) }, webhooks: [webhook]),
            sender: WebhookSender(store: sync.store, logger: logger), since: since, logger: logger)
    }

    @Test func pullsAndFailedRowsFireAndResolveAsCyclesRun() async throws {
        let sync = try await SyncHarness.start(patients: 30, badShare: 0.1)
        defer { Task { await sync.stop() } }
        let notifier = Self.notifier(
            sync, rules: [.noSuccessfulPull(for: .seconds(3600)), .failedRows(above: 0), .newErrorCode, .watermarkLag(above: .seconds(30 * 86_400))],
            since: Date(timeIntervalSinceNow: -7200))

        // Watched for two hours without a pull: both directions fire.
        var round = try await notifier.evaluate()
        #expect(Set(round.fired.map { "\($0.condition.rule) \($0.condition.key)" }) == ["noSuccessfulPull inbound", "noSuccessfulPull outbound"])

        // A cycle against the sandbox pulls (resolving both) and fails the seeded bad records.
        try await sync.sync()
        round = try await notifier.evaluate()
        #expect(round.resolved.map(\.condition.rule) == ["noSuccessfulPull", "noSuccessfulPull"])
        let groups = try await sync.store.failureGroups()
        #expect(!groups.isEmpty)
        #expect(Set(round.fired.filter { $0.condition.rule == "newErrorCode" }.map(\.condition.key)) == Set(groups.map { AlertText.code($0.errorCode) }))
        #expect(round.fired.filter { $0.condition.rule == "failedRows" }.count == 1)
        #expect(round.fired.allSatisfy { $0.condition.rule != "watermarkLag" })

        // A second cycle changes nothing: nothing fires again.
        try await sync.sync()
        #expect(try await notifier.evaluate().fired.isEmpty)

        // Support sets the failures aside: every failure alert resolves, once.
        let failed = try await sync.store.rows(RowQuery(filter: RowFilter(statuses: [.failed]), limit: 1000)).map(\.id)
        _ = try await sync.store.setStatus(rowIDs: failed, to: .ignored, from: [.failed], actor: .operator("test"), note: "triaged")
        round = try await notifier.evaluate()
        #expect(round.resolved.count == groups.count + 1)
        #expect(try await sync.store.firingAlerts().isEmpty)

        // Slack took every state change; none carries a seeded patient's name or id.
        let bodies = sync.sandbox.webhooks.deliveries("slack/ops")
        #expect(bodies.allSatisfy { $0.answeredStatus == 200 })
        #expect(bodies.count == 2 + 2 + (groups.count + 1) * 2)
        let text = bodies.map(\.text).joined(separator: "\n")
        let names = sync.inspection.fhirResources("Patient").compactMap { $0["name"]?[0]?["family"]?.stringValue }
        #expect(!names.isEmpty)
        for name in names where name.count > 3 { #expect(!text.contains(name)) }
        for id in try await sync.store.rows(RowQuery(filter: RowFilter(statuses: [.ignored]), limit: 1000)).map(\.sourceID) {
            #expect(!text.contains(id))
        }
    }

    @Test func aRefusedSignInFiresAndAGoodCycleResolvesIt() async throws {
        var sync = try await SyncHarness.start(patients: 5, badShare: 0)
        defer { Task { [sync] in await sync.stop() } }
        let notifier = Self.notifier(sync, rules: [.signInRefused])
        let good = sync.endpoints

        // The connected app's secret is wrong: Salesforce's token endpoint refuses it.
        let temporary = try TemporaryFolder("wrong-secret")
        let wrongSecret = temporary.url.appendingPathComponent("secret")
        try "not-the-secret\n".write(to: wrongSecret, atomically: true, encoding: .utf8)
        var refused = sync.harness.salesforceConfiguration(.clientCredentials)
        refused.authentication = .clientCredentials(consumerKey: sync.harness.credentials.salesforceUser.consumerKey, consumerSecretFile: wrongSecret.path)
        let salesforce = try await SalesforceClient(configuration: refused, logger: SandboxHarness.silent)
        sync.endpoints.salesforceSource = salesforce
        sync.endpoints.salesforceLookup = salesforce
        sync.endpoints.salesforceTarget = salesforce
        try await sync.sync()
        let round = try await notifier.evaluate()
        #expect(round.fired.map(\.condition.key).contains("outbound"))
        #expect(round.fired.allSatisfy { $0.condition.summary.hasPrefix("sign-in refused: the last") })

        sync.endpoints = good
        try await sync.sync()
        let after = try await notifier.evaluate()
        #expect(Set(after.resolved.map(\.condition.key)) == Set(round.fired.map(\.condition.key)))
        #expect(try await sync.store.firingAlerts().isEmpty)
    }

    @Test func theHostileCorpusReachesNoMetricLabelAndNoAlert() async throws {
        let sync = try await SyncHarness.start(patients: 6, badShare: 0)
        defer { Task { await sync.stop() } }
        for payload in try HostilePayload.corpus() {
            sync.inspection.plantRawFHIRResource(payload.resourceType, id: payload.name, body: payload.bytes)
        }
        try await sync.sync()
        #expect(try await sync.store.countRows(RowFilter(statuses: [.failed])) > 0)
        _ = try await Self.notifier(sync, rules: [.newErrorCode, .failedRows(above: 0)]).evaluate()
        let summaries = try await sync.store.recentAlerts(limit: 200).map(\.condition.summary)
        let metrics = try await MetricsExporter(store: sync.store).scrape()
        let text = (summaries + [metrics] + sync.sandbox.webhooks.deliveries().map(\.text)).joined(separator: "\n")
        // Only the characters of codes, counts, type names and Stagelink's own formatting (JSON
        // escapes, Slack's `·`): no control character, no bidi override, nothing from a payload.
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: " \n_.:;,-()%/{}=\"[]*+#<>&\\·"))
        let strange = text.unicodeScalars.filter { !(($0.isASCII || $0 == "·") && allowed.contains($0)) }
        #expect(strange.isEmpty, "\(strange.map { String(format: "U+%04X", $0.value) })")
        for payload in try HostilePayload.corpus() where payload.name.count > 6 {
            #expect(!text.contains(payload.name), "\(payload) reached an alert or a metric")
        }
    }
}
