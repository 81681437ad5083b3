import Foundation
import Logging
import Sandbox
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing

@testable import StagelinkOperations

/// Alerts kept in the store and posted to the sandbox's webhook receiver: fired once, sent again
/// every repeat interval, resolved once, retried, every attempt kept, and no patient data in any body.
struct AlertNotifierTests {
    static let silent = Logger(label: "alerts") { _ in SwiftLogNoOpLogHandler() }

    static func webhooks(_ sandbox: Sandbox, maxAttempts: Int = 3) -> [WebhookTarget] {
        WebhookTarget.Format.allCases.map { format in
            WebhookTarget(
                name: "ops-\(format.rawValue)", url: URL(string: "\(sandbox.salesforceURL)/_sandbox/webhooks/\(format.rawValue)/ops")!, format: format,
                maxAttempts: maxAttempts, timeout: .seconds(5), retryDelay: .milliseconds(10))
        }
    }

    static func notifier(_ store: SQLiteStore, _ sandbox: Sandbox, rules: [AlertRule], repeat interval: Duration = .seconds(600), maxAttempts: Int = 3) -> AlertNotifier {
        let settings = AlertSettings(rules: rules.map { ConfiguredAlertRule($0) }, webhooks: webhooks(sandbox, maxAttempts: maxAttempts), repeatInterval: interval)
        return AlertNotifier(store: store, settings: settings, sender: WebhookSender(store: store, host: "ops-host", logger: silent), logger: silent)
    }

    @Test func anAlertFiresOnceIsSentAgainAfterTheRepeatIntervalAndResolvesOnce() async throws {
        try await SandboxHarness.with(patients: 1) { harness in
            let sandbox = harness.sandbox
            let store = try await OperationsFixture.store()
            let notifier = Self.notifier(store, sandbox, rules: [.failedRows(above: 1)], repeat: .seconds(600))
            let start = try await store.operationsSnapshot()

            let first = try await notifier.evaluate(snapshot: start)
            #expect(first.fired.map(\.condition.rule) == ["failedRows"])
            #expect(sandbox.webhooks.deliveries().map(\.answeredStatus).sorted() == [200, 202, 204])
            #expect(sandbox.webhooks.deliveries("slack/ops").first?.text.contains("[FIRING]") == true)

            var later = start
            later.takenAt = start.takenAt.addingTimeInterval(300)
            #expect(try await notifier.evaluate(snapshot: later) == AlertNotifier.Round())
            #expect(sandbox.webhooks.deliveries().count == 3)

            later.takenAt = start.takenAt.addingTimeInterval(601)
            #expect(try await notifier.evaluate(snapshot: later).repeated.count == 1)
            #expect(sandbox.webhooks.deliveries("generic/ops").last.map { $0.text.contains("\"event\":\"repeat\"") } == true)

            let failed = try await store.rows(RowQuery(filter: RowFilter(statuses: [.failed]))).map(\.id)
            _ = try await store.setStatus(rowIDs: failed, to: .ignored, from: [.failed], actor: .operator("test"), note: "set aside")
            let resolved = try await notifier.evaluate()
            #expect(resolved.resolved.map(\.condition.rule) == ["failedRows"])
            #expect(try await notifier.evaluate() == AlertNotifier.Round())

            let alerts = try await store.recentAlerts(limit: 10)
            #expect(alerts.count == 1)
            #expect(alerts[0].status == .resolved)
            #expect(alerts[0].notifications == 3)
            let events = try await store.deliveries(ofAlert: alerts[0].id).map { "\($0.event.rawValue) \($0.webhook)" }
            #expect(events.filter { $0.hasPrefix("firing") }.count == 3)
            #expect(events.filter { $0.hasPrefix("repeat") }.count == 3)
            #expect(events.filter { $0.hasPrefix("resolved") }.count == 3)
            #expect(sandbox.webhooks.deliveries("teams/ops").last?.text.contains("RESOLVED") == true)
        }
    }

    @Test func aFailingWebhookIsRetriedAndEveryAttemptIsKept() async throws {
        try await SandboxHarness.with(patients: 1) { harness in
            let sandbox = harness.sandbox
            let store = try await OperationsFixture.store()
            sandbox.webhooks.failNext(2, status: 503, on: "generic/ops")
            sandbox.webhooks.failNext(5, status: 500, on: "slack/ops")
            let notifier = Self.notifier(store, sandbox, rules: [.failedRows(above: 0)], maxAttempts: 3)
            let round = try await notifier.evaluate()
            let alert = try #require(round.fired.first)
            let attempts = try await store.deliveries(ofAlert: alert.id)
            let generic = attempts.filter { $0.webhook == "ops-generic" }
            #expect(generic.map(\.attempt) == [1, 2, 3])
            #expect(generic.map(\.httpStatus) == [503, 503, 204])
            #expect(generic.map(\.delivered) == [false, false, true])
            let slack = attempts.filter { $0.webhook == "ops-slack" }
            #expect(slack.map(\.httpStatus) == [500, 500, 500])
            #expect(slack.allSatisfy { !$0.delivered })
            // Slack did not get it: the firing state is sent again at the next evaluation.
            #expect(try await store.firingAlerts().first?.lastNotifiedAt == nil)
            let again = try await notifier.evaluate()
            #expect(again.repeated.map(\.id) == [alert.id])
            #expect(sandbox.webhooks.deliveries("slack/ops").last?.answeredStatus == 200)
            #expect(try await store.firingAlerts().first?.lastNotifiedAt != nil)
        }
    }

    @Test func noPatientDataReachesAnAlert() async throws {
        try await SandboxHarness.with(patients: 1) { harness in
            let sandbox = harness.sandbox
            let store = try await OperationsFixture.store()
            let notifier = Self.notifier(
                store, sandbox,
                rules: [.newErrorCode, .failedRows(above: 0), .watermarkLag(above: .seconds(1)), .apiShare(above: 0.1), .noSuccessfulPull(for: .seconds(1))])
            var snapshot = try await store.operationsSnapshot()
            snapshot.takenAt = snapshot.takenAt.addingTimeInterval(7200)
            let round = try await notifier.evaluate(snapshot: snapshot)
            #expect(round.fired.count >= 6)
            let bodies = sandbox.webhooks.deliveries().map(\.text)
            #expect(bodies.count == round.fired.count * 3)
            for body in bodies {
                #expect(!body.contains("Quintanilla"))
                #expect(!body.contains(OperationsFixture.patientID))
                #expect(!body.contains("Birthdate"))
            }
            let summaries = try await store.recentAlerts(limit: 50).map(\.condition.summary).joined(separator: "\n")
            #expect(summaries.contains("UNREADABLE_CODE"))
            #expect(!summaries.contains("Quintanilla"))
        }
    }

    @Test func aTestAlertReachesEveryWebhookAndIsKeptResolved() async throws {
        try await SandboxHarness.with(patients: 1) { harness in
            let store = try SQLiteStore.temporary("alerts-test")
            let notifier = Self.notifier(store, harness.sandbox, rules: [])
            let (alert, delivered) = try await notifier.sendTest()
            #expect(delivered == ["ops-generic": true, "ops-slack": true, "ops-teams": true])
            #expect(try await store.recentAlerts(limit: 1).first?.status == .resolved)
            #expect(try await store.deliveries(ofAlert: alert.id).map(\.event) == [.test, .test, .test])
            #expect(harness.sandbox.webhooks.deliveries("slack/ops").first?.text.contains("[TEST]") == true)
        }
    }

    @Test func theSandboxReceiverAnswersAsSlackAndTeamsDo() async throws {
        try await SandboxHarness.with(patients: 1) { harness async throws in
            let http = HTTPTestClient()
            let base = harness.sandbox.fhirURL.replacingOccurrences(of: "/fhir", with: "")
            #expect(try await http.post("\(base)/_sandbox/webhooks/slack/a", body: #"{"text":"hello"}"#) == Answer(200, "ok"))
            #expect(try await http.post("\(base)/_sandbox/webhooks/slack/a", body: #"{"attachments":[]}"#) == Answer(400, "no_text"))
            #expect(try await http.post("\(base)/_sandbox/webhooks/slack/a", body: "text=hello") == Answer(400, "invalid_payload"))
            #expect(try await http.post("\(base)/_sandbox/webhooks/teams/a", body: #"{"type":"message","attachments":[]}"#).status == 400)
            #expect(try await http.post("\(base)/_sandbox/webhooks/generic/a", body: "{}").status == 204)
            #expect(try await http.post("\(base)/_sandbox/webhooks/generic/a/fail?count=1&status=502", body: "").status == 204)
            #expect(try await http.post("\(base)/_sandbox/webhooks/generic/a", body: "{}").status == 502)
            #expect(harness.sandbox.webhooks.deliveries("slack/a").count == 3)
        }
    }
}
