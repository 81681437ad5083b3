import Foundation
import Logging
import StagelinkEngine
import StagelinkHTTP

/// An HTTP answer as the tests compare it.
struct Answer: Equatable, CustomStringConvertible {
    var status: Int
    var body: String

    init(_ status: Int, _ body: String) {
        self.status = status
        self.body = body
    }

    var description: String { "\(status) \(body)" }
}

/// Plain calls to loopback endpoints for the tests, through the project's own transport, one attempt each.
///
/// Its timeouts are far above any answer's time: on two cores loaded by the whole suite a loopback
/// answer once took over 5 s (CI, 3 December), and these tests check answers, not speed.
struct HTTPTestClient {
    let http = HTTPClient(
        configuration: HTTPConfiguration(idleTimeout: .seconds(60), requestTimeout: .seconds(120), retry: .never), meter: APIMeter(),
        logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })

    func get(_ url: String) async throws -> Answer {
        try await send(HTTPRequest(.get, url: URL(string: url)!, retry: .idempotent))
    }

    func post(_ url: String, body: String) async throws -> Answer {
        try await send(HTTPRequest(.post, url: URL(string: url)!, headers: ["Content-Type": "application/json"], body: Array(body.utf8), retry: .idempotent))
    }

    private func send(_ request: HTTPRequest) async throws -> Answer {
        do {
            let response = try await http.send(request)
            return Answer(response.status, response.bodyText)
        } catch {
            // A retryable status comes back as an error when no retry is left: its code carries the status.
            guard error.error.code.hasPrefix("HTTP_"), let status = Int(error.error.code.dropFirst(5)) else { throw error }
            return Answer(status, error.error.remoteBody ?? "")
        }
    }
}
