import Hummingbird
import Synchronization

/// A webhook receiver for Stagelink's alerts, served under `/_sandbox/webhooks` by both simulators:
/// it keeps every delivery, answers as the receiving service does, and fails on purpose on demand.
///
/// - `POST /_sandbox/webhooks/{kind}/{name}`: a delivery; `kind` is `slack`, `teams` or `generic`.
///   - `slack` answers as a Slack incoming webhook: 200 with the body `ok`; 400 `invalid_payload`
///     when the body is not a JSON object, 400 `no_text` when it has neither `text` nor `blocks`
///     (api.slack.com changelog 2016-05-17 "Improving error conditions for Incoming Webhooks").
///   - `teams` answers as a Teams workflow webhook: 202 Accepted for a `message` whose
///     attachments carry an Adaptive Card (`application/vnd.microsoft.card.adaptive`), 400
///     otherwise (learn.microsoft.com "Create an Incoming Webhook", sending Adaptive Cards).
///   - `generic` accepts any JSON object with 204.
/// - `GET /_sandbox/webhooks/{kind}/{name}`: the deliveries kept, oldest first.
/// - `POST /_sandbox/webhooks/{kind}/{name}/fail?count=N&status=S`: the next N deliveries answer S
///   (default 500; Slack's body for a 500 is `rollup_error`).
/// - `DELETE /_sandbox/webhooks`: forgets every delivery and failure.
///
/// For example:
///
/// ```swift
/// sandbox.webhooks.failNext(2, status: 503, on: "slack/ops")
/// sandbox.webhooks.deliveries("slack/ops").count
/// ```
public final class WebhookReceiver: Sendable {
    /// One delivery as it arrived, with the answer it got.
    public struct Delivery: Sendable, Hashable {
        public var channel: String
        public var contentType: String?
        public var body: [UInt8]
        public var answeredStatus: Int

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Kind: String, Sendable, CaseIterable {
        case slack, teams, generic
    }

    private let state = Mutex<(deliveries: [Delivery], failures: [String: (count: Int, status: Int)])>(([], [:]))

    init() {}

    /// Deliveries to `channel` (`kind/name`), oldest first; every delivery when nil.
    public func deliveries(_ channel: String? = nil) -> [Delivery] {
        state.withLock { state in state.deliveries.filter { channel == nil || $0.channel == channel } }
    }

    /// The next `count` deliveries to `channel` answer `status`.
    public func failNext(_ count: Int, status: Int = 500, on channel: String) {
        state.withLock { $0.failures[channel] = (max(0, count), status) }
    }

    public func reset() {
        state.withLock { $0 = ([], [:]) }
    }

    /// Keeps the delivery and decides the answer: a planned failure first, then the service's own checks.
    func receive(kind: Kind, name: String, contentType: String?, body: [UInt8]) -> (status: Int, body: String) {
        let channel = "\(kind.rawValue)/\(name)"
        let planned = state.withLock { state -> Int? in
            guard let failure = state.failures[channel], failure.count > 0 else { return nil }
            state.failures[channel] = (failure.count - 1, failure.status)
            return failure.status
        }
        let answer = planned.map { ($0, kind == .slack && $0 >= 500 ? "rollup_error" : "planned failure") } ?? Self.check(kind: kind, body: body)
        state.withLock { $0.deliveries.append(Delivery(channel: channel, contentType: contentType, body: body, answeredStatus: answer.0)) }
        return answer
    }

    private static func check(kind: Kind, body: [UInt8]) -> (Int, String) {
        guard let json = try? WireJSON.parse(body), let object = json.objectValue else {
            return kind == .slack ? (400, "invalid_payload") : (400, "the body is not a JSON object")
        }
        switch kind {
        case .slack:
            return object["text"] == nil && object["blocks"] == nil ? (400, "no_text") : (200, "ok")
        case .teams:
            let cards = object["attachments"]?.arrayValue?.filter { $0.objectValue?["contentType"]?.stringValue == "application/vnd.microsoft.card.adaptive" } ?? []
            return object["type"]?.stringValue == "message" && !cards.isEmpty ? (202, "") : (400, "expected a message with an Adaptive Card attachment")
        case .generic:
            return (204, "")
        }
    }

    func register(on group: RouterGroup<SandboxRequestContext>) {
        group.post("/webhooks/:kind/:name") { request, context in
            guard let kind = Kind(rawValue: context.parameters.get("kind") ?? "") else {
                return HTTPReply.json(["error": "kind is slack, teams or generic"], status: .notFound)
            }
            let answer = self.receive(
                kind: kind, name: try context.parameters.require("name"), contentType: request.headers[.contentType],
                body: try await HTTPReply.body(of: request, context: context))
            let status = HTTPResponse.Status(code: answer.status)
            return answer.body.isEmpty ? HTTPReply.empty(status: status) : HTTPReply.bytes(Array(answer.body.utf8), status: status, contentType: "text/plain")
        }
        group.get("/webhooks/:kind/:name") { _, context in
            let channel = "\(try context.parameters.require("kind"))/\(try context.parameters.require("name"))"
            return HTTPReply.json(
                .array(
                    self.deliveries(channel).map {
                        ["contentType": .string(orNull: $0.contentType), "status": .int($0.answeredStatus), "body": (try? WireJSON.parse($0.body)) ?? .string($0.text)]
                    }))
        }
        group.post("/webhooks/:kind/:name/fail") { request, context in
            let query = FormEncoding.dictionary(request.uri.query ?? "")
            let channel = "\(try context.parameters.require("kind"))/\(try context.parameters.require("name"))"
            self.failNext(Int(query["count"] ?? "") ?? 1, status: Int(query["status"] ?? "").flatMap { (400...599).contains($0) ? $0 : nil } ?? 500, on: channel)
            return HTTPReply.empty(status: .noContent)
        }
        group.delete("/webhooks") { _, _ in
            self.reset()
            return HTTPReply.empty(status: .noContent)
        }
    }
}
