import Foundation
import Logging
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import StagelinkHTTP

/// A request that streams its body: a 2xx body is handed on in pieces as it arrives, any other
/// answer is collected (and retried) as usual, and a connection that breaks mid-body ends the
/// pieces with a transient error.
@Suite(.timeLimit(.minutes(1)))
struct BodyStreamTests {
    func client(attempts: Int = 3) -> HTTPClient {
        let retry = RetryPolicy(maximumAttempts: attempts, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(40))
        let configuration = HTTPConfiguration(idleTimeout: .seconds(5), requestTimeout: .seconds(20), retry: retry)
        return HTTPClient(configuration: configuration, meter: APIMeter(), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    func streaming(_ server: ScriptedServer) -> HTTPRequest {
        var request = HTTPRequest(.get, url: server.baseURL.appending(path: "file.ndjson"), retry: .idempotent)
        request.streamsBody = true
        return request
    }

    @Test func aTricklingBodyIsHandedOnPieceByPieceBeforeItIsComplete() async throws {
        let body = Array("{\"id\":\"a\"}\n{\"id\":\"b\"}\n".utf8)
        let server = ScriptedServer(responses: [.init(status: 200, body: body, behaviour: .trickle(.milliseconds(20)))])
        let http = client()
        let response = try await http.send(streaming(server))
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        let stream = try #require(response.bodyStream)
        var pieces: [[UInt8]] = []
        let started = ContinuousClock.now
        var firstPieceAfter: Duration?
        for try await piece in stream {
            if firstPieceAfter == nil { firstPieceAfter = ContinuousClock.now - started }
            pieces.append(piece)
        }
        #expect(pieces.joined().elementsEqual(body), "every byte, in order")
        #expect(pieces.count > 1, "the body came in pieces, not whole")
        // The whole body takes 22 × 20 ms to trickle in; its first piece comes long before.
        #expect(try #require(firstPieceAfter) < ContinuousClock.now - started)
        withExtendedLifetime(http) {}
    }

    @Test func anErrorAnswerIsCollectedAndRetriedAsUsual() async throws {
        let server = ScriptedServer(responses: [
            .json(503, #"{"error":"busy"}"#),
            .init(status: 200, body: Array("line\n".utf8)),
        ])
        let http = client()
        let response = try await http.send(streaming(server))
        #expect(server.requests.count == 2)
        var body: [UInt8] = []
        for try await piece in try #require(response.bodyStream) { body += piece }
        #expect(body == Array("line\n".utf8))

        let refusing = ScriptedServer(responses: [.json(404, #"{"resourceType":"OperationOutcome"}"#)])
        let gone = try await http.send(streaming(refusing))
        #expect(gone.status == 404)
        #expect(gone.bodyStream == nil)
        #expect(gone.bodyText.contains("OperationOutcome"))
        withExtendedLifetime(http) {}
    }

    @Test func aConnectionDroppedMidBodyEndsThePiecesWithATransientError() async throws {
        let body = Array(repeating: UInt8(ascii: "x"), count: 4_000)
        let server = ScriptedServer(responses: [.init(status: 200, body: body, behaviour: .drop(afterBodyBytes: 1_000))])
        let http = client()
        let response = try await http.send(streaming(server))
        var received = 0
        let error = await #expect(throws: RemoteCallError.self) {
            for try await piece in try #require(response.bodyStream) { received += piece.count }
        }
        #expect(error?.kind == .transient)
        #expect(error?.error.code == "CONNECTION_FAILED", "the connection was lost, not cancelled")
        #expect(received <= 1_000)
        #expect(server.requests.count == 1, "a broken body is the reader's to fetch again, not the transport's")
        withExtendedLifetime(http) {}
    }
}
