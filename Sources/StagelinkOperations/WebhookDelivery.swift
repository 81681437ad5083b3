import Foundation
import Logging
import StagelinkEngine
import StagelinkHTTP

/// The body an alert is posted with, in the shape each kind of webhook takes:
///
/// - `generic`: Stagelink's own JSON (`docs/monitoring.md`): `{"source", "event", "alert": {...}, "sentAt"}`.
/// - `slack`: an incoming webhook's `{"text", "blocks"}`; `&`, `<` and `>` escaped as Slack's
///   message formatting asks (docs.slack.dev "Formatting text for app surfaces": escaping).
/// - `teams`: a message carrying an Adaptive Card attachment, as Teams incoming webhooks and
///   Workflows take it (learn.microsoft.com "Create an Incoming Webhook": send Adaptive Cards).
public enum WebhookBody {
    public static func make(_ alert: Alert, event: AlertDelivery.Event, format: WebhookTarget.Format, host: String, at: Date) -> JSONValue {
        switch format {
        case .generic:
            return [
                "source": "stagelink", "version": "1", "event": .string(event.rawValue), "host": .string(host), "sentAt": .string(Timestamp.format(at)),
                "alert": [
                    "id": .number(String(alert.id)), "rule": .string(alert.condition.rule), "key": .string(alert.condition.key),
                    "severity": .string(alert.condition.severity.rawValue), "status": .string(alert.status.rawValue),
                    "summary": .string(alert.condition.summary), "firedAt": .string(Timestamp.format(alert.firedAt)),
                    "resolvedAt": alert.resolvedAt.map { .string(Timestamp.format($0)) } ?? .null,
                ],
            ]
        case .slack:
            let text = slackEscaped(headline(alert, event: event, host: host))
            return [
                "text": .string(text),
                "blocks": [
                    ["type": "section", "text": ["type": "mrkdwn", "text": .string("*\(text)*\n\(slackEscaped(alert.condition.summary))")]],
                    ["type": "context", "elements": [["type": "mrkdwn", "text": .string("alert \(alert.id) · fired \(Timestamp.format(alert.firedAt))")]]],
                ],
            ]
        case .teams:
            let card: JSONValue = [
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
                "body": [
                    ["type": "TextBlock", "text": .string(headline(alert, event: event, host: host)), "weight": "Bolder", "wrap": true],
                    ["type": "TextBlock", "text": .string(alert.condition.summary), "wrap": true],
                    [
                        "type": "FactSet",
                        "facts": [
                            ["title": "Alert", "value": .string(String(alert.id))], ["title": "Severity", "value": .string(alert.condition.severity.rawValue)],
                            ["title": "Fired", "value": .string(Timestamp.format(alert.firedAt))],
                        ],
                    ],
                ],
            ]
            return ["type": "message", "attachments": [["contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": .null, "content": card]]]
        }
    }

    /// `[FIRING] warning failedRows on host: …`
    static func headline(_ alert: Alert, event: AlertDelivery.Event, host: String) -> String {
        let word: String =
            switch event {
            case .firing: "FIRING"
            case .repeat: "STILL FIRING"
            case .resolved: "RESOLVED"
            case .test: "TEST"
            }
        return "[\(word)] Stagelink \(alert.condition.severity.rawValue) \(alert.condition.rule) (\(alert.condition.key)) on \(host)"
    }

    static func slackEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// Posts an alert to each webhook, trying each up to its `maxAttempts` with a doubling wait, and
/// records every attempt in the store. A 2xx answer is a delivery; anything else is retried.
/// Logs name the webhook, never its URL (which holds the secret for Slack and Teams).
public struct WebhookSender: Sendable {
    let store: any AlertStore
    let http: HTTPClient
    let host: String
    let logger: Logger

    public init(store: any AlertStore, host: String = ProcessInfo.processInfo.hostName, logger: Logger) {
        self.store = store
        self.host = host
        self.logger = logger
        // One attempt per send: the retries are this type's, so that each attempt is recorded.
        self.http = HTTPClient(configuration: HTTPConfiguration(idleTimeout: .seconds(10), requestTimeout: .seconds(30), retry: .never), meter: APIMeter(), logger: logger)
    }

    /// Delivers to every webhook; returns whether each got it, by name.
    @discardableResult
    public func deliver(_ alert: Alert, event: AlertDelivery.Event, to webhooks: [WebhookTarget]) async throws -> [String: Bool] {
        var outcome: [String: Bool] = [:]
        for webhook in webhooks {
            outcome[webhook.name] = try await deliver(alert, event: event, to: webhook)
        }
        return outcome
    }

    func deliver(_ alert: Alert, event: AlertDelivery.Event, to webhook: WebhookTarget) async throws -> Bool {
        let body = JSONWriter.compact(WebhookBody.make(alert, event: event, format: webhook.format, host: host, at: Date()))
        var request = HTTPRequest(.post, url: webhook.url, body: body, retry: .idempotent, timeout: webhook.timeout)
        request.headers["Content-Type"] = "application/json"
        var delay = webhook.retryDelay
        for attempt in 1...webhook.maxAttempts {
            var status: Int?
            var problem: String?
            do {
                let response = try await http.send(request)
                status = response.status
                if !response.isSuccess { problem = "the webhook answered \(response.status)" }
            } catch {
                status = ErrorCode.httpStatus(in: error.error.code)
                problem = AlertText.code(error.error.code)
            }
            let delivered = problem == nil
            try await store.recordDelivery(
                AlertDelivery(alertID: alert.id, event: event, webhook: webhook.name, attempt: attempt, at: Date(), httpStatus: status, error: problem, delivered: delivered))
            if delivered { return true }
            logger.warning(
                "alert delivery failed",
                metadata: [
                    "alert.id": "\(alert.id)", "alert.rule": "\(alert.condition.rule)", "webhook": "\(webhook.name)", "webhook.attempt": "\(attempt)",
                    "webhook.status": "\(status.map(String.init) ?? "-")",
                ])
            if attempt < webhook.maxAttempts {
                try? await Task.sleep(for: delay)
                delay = delay * 2
            }
        }
        return false
    }
}
