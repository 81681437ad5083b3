import Foundation
import Logging
import StagelinkEngine
import StagelinkTestSupport
import Synchronization
import Testing

@testable import StagelinkHTTP

@Suite(.timeLimit(.minutes(1)))
struct HTTPClientTests {
    let capture = LogCapture()

    func client(
        attempts: Int = 3, requestTimeout: Duration = .seconds(5), metering: any RequestMetering = .unmetered
    ) -> HTTPClient {
        let retry = RetryPolicy(maximumAttempts: attempts, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(40))
        let configuration = HTTPConfiguration(idleTimeout: .seconds(5), requestTimeout: requestTimeout, retry: retry)
        return HTTPClient(configuration: configuration, meter: APIMeter(), metering: metering, logger: capture.logger())
    }

    func request(_ server: ScriptedServer, _ method: HTTPRequest.Method = .get, retry: HTTPRequest.RetrySafety = .idempotent) -> HTTPRequest {
        HTTPRequest(method, url: server.baseURL.appending(path: "items"), body: method == .get ? nil : Array("{}".utf8), retry: retry)
    }

    @Test func retriesA503AfterItsRetryAfterAndCountsEveryAttempt() async throws {
        let server = ScriptedServer(responses: [
            .json(503, #"{"error":"busy"}"#, headers: [("Retry-After", "1")]),
            .json(200, #"{"ok":true}"#),
        ])
        let http = client()
        let started = ContinuousClock.now
        let response = try await http.send(request(server))
        #expect(response.status == 200)
        #expect(response.bodyText == #"{"ok":true}"#)
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(http.meter.calls == 2)
        #expect(server.requests.count == 2)
    }

    @Test func givesUpAfterTheLastAttemptWithTheServersBodyKept() async throws {
        let server = ScriptedServer(responses: [.json(500, #"[{"errorCode":"UNKNOWN_EXCEPTION","message":"boom"}]"#)])
        let http = client(attempts: 3)
        let error = await #expect(throws: RemoteCallError.self) { try await http.send(request(server)) }
        #expect(error?.kind == .transient)
        #expect(error?.error.code == "HTTP_500")
        #expect(error?.error.remoteBody?.contains("UNKNOWN_EXCEPTION") == true)
        #expect(server.requests.count == 3)
        #expect(http.meter.calls == 3)
    }

    @Test func neverResendsANonIdempotentCallAfterA500() async throws {
        let server = ScriptedServer(responses: [.json(500, "{}"), .json(201, "{}")])
        let http = client()
        let error = await #expect(throws: RemoteCallError.self) { try await http.send(request(server, .post, retry: .nonIdempotent)) }
        #expect(error?.error.code == "HTTP_500")
        #expect(server.requests.count == 1)
    }

    @Test func resendsAConditionalCreateAfterA500() async throws {
        let server = ScriptedServer(responses: [.json(500, "{}"), .json(201, "{}")])
        let response = try await client().send(request(server, .post, retry: .conditionalCreate))
        #expect(response.status == 201)
        #expect(server.requests.count == 2)
    }

    @Test func resendsEvenANonIdempotentCallAfterA429() async throws {
        let server = ScriptedServer(responses: [.json(429, "{}", headers: [("Retry-After", "0")]), .json(201, "{}")])
        let response = try await client().send(request(server, .post, retry: .nonIdempotent))
        #expect(response.status == 201)
        #expect(server.requests.count == 2)
    }

    @Test func failsAtOnceWhenRetryAfterIsLongerThanTheCap() async throws {
        let server = ScriptedServer(responses: [.json(429, "{}", headers: [("Retry-After", "3600")])])
        let started = ContinuousClock.now
        let error = await #expect(throws: RemoteCallError.self) { try await client().send(request(server)) }
        #expect(error?.error.code == "HTTP_429")
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(server.requests.count == 1)
    }

    @Test func aTricklingAnswerIsCutAtTheWholeRequestDeadline() async throws {
        let body = Array(repeating: UInt8(ascii: "x"), count: 200)
        let server = ScriptedServer(responses: [.init(status: 200, body: body, behaviour: .trickle(.milliseconds(300)))])
        let http = client(attempts: 1, requestTimeout: .milliseconds(600))
        let started = ContinuousClock.now
        let error = await #expect(throws: RemoteCallError.self) { try await http.send(request(server)) }
        #expect(error?.error.code == "REQUEST_TIMEOUT")
        // The whole answer would take 60 s to trickle in; cut at 0.6 s, with room for a loaded machine.
        #expect(ContinuousClock.now - started < .seconds(40))
    }

    @Test func aSlowAnswerIsRetriedAndTheNextAttemptSucceeds() async throws {
        let server = ScriptedServer(responses: [
            .init(status: 200, body: Array("{}".utf8), behaviour: .delay(.seconds(2))),
            .json(200, #"{"second":true}"#),
        ])
        let response = try await client(requestTimeout: .milliseconds(500)).send(request(server))
        #expect(response.bodyText == #"{"second":true}"#)
    }

    @Test func aConnectionDroppedMidBodyIsRetriedForAnIdempotentCall() async throws {
        let server = ScriptedServer(responses: [
            .init(status: 200, body: Array(#"{"records":[1,2,3]}"#.utf8), behaviour: .drop(afterBodyBytes: 5)),
            .json(200, #"{"records":[1,2,3]}"#),
        ])
        let response = try await client().send(request(server))
        #expect(response.bodyText == #"{"records":[1,2,3]}"#)
        #expect(server.requests.count == 2)
    }

    @Test func aConnectionDroppedMidBodyIsNotRetriedForANonIdempotentCall() async throws {
        let server = ScriptedServer(responses: [
            .init(status: 201, body: Array(#"{"id":"1"}"#.utf8), behaviour: .drop(afterBodyBytes: 3)),
            .json(201, #"{"id":"2"}"#),
        ])
        let error = await #expect(throws: RemoteCallError.self) { try await client().send(request(server, .post, retry: .nonIdempotent)) }
        #expect(error?.kind == .transient)
        #expect(error?.error.code == "CONNECTION_FAILED")
        #expect(server.requests.count == 1)
    }

    @Test func aRefusedConnectionIsRetriedForAnyCallThenFails() async throws {
        let refusing = RefusingPort()
        let http = client(attempts: 3)
        let error = await #expect(throws: RemoteCallError.self) {
            try await http.send(HTTPRequest(.post, url: refusing.url, body: [], retry: .nonIdempotent))
        }
        #expect(error?.error.code == "CONNECTION_FAILED")
        #expect(http.meter.calls == 3)
    }

    @Test func aMalformedAnswerIsAskedForAgain() async throws {
        let server = ScriptedServer(responses: [.json(200, #"{"trunc"#), .json(200, #"{"whole":true}"#)])
        let value = try await client().send(request(server)) { (response) throws(RemoteCallError) -> JSONValue in
            do {
                return try JSONValue(parsing: response.body)
            } catch {
                throw RemoteCallError(.malformedResponse, LinkError(code: "MALFORMED_RESPONSE", message: "\(error)"))
            }
        }
        #expect(value["whole"] == true)
        #expect(server.requests.count == 2)
    }

    @Test func sequentialCallsReuseOneConnection() async throws {
        let server = ScriptedServer(responses: [.json(200, "{}")])
        let http = client()
        for _ in 0..<50 {
            _ = try await http.send(request(server))
        }
        #expect(server.requests.count == 50)
        #expect(server.connectionCount == 1)
    }

    @Test func redirectsAreReturnedNotFollowed() async throws {
        let elsewhere = ScriptedServer(responses: [.json(200, "{}")])
        let server = ScriptedServer(responses: [.init(status: 302, headers: [("Location", elsewhere.baseURL.absoluteString + "/steal")])])
        var request = request(server)
        request.headers["Authorization"] = "Bearer do-not-forward"
        let response = try await client().send(request)
        #expect(response.status == 302)
        #expect(elsewhere.requests.isEmpty)
    }

    @Test func aRefusedAdmissionSendsNothing() async throws {
        struct Exhausted: RequestMetering {
            func admit(_ request: HTTPRequest) throws(RemoteCallError) {
                throw RemoteCallError(.limitReached, LinkError(code: "API_LIMIT_SHARE_REACHED", message: "stop"))
            }
            func usage(in response: HTTPResponse) -> APIUsage? { nil }
        }
        let server = ScriptedServer(responses: [.json(200, "{}")])
        let http = client(metering: Exhausted())
        let error = await #expect(throws: RemoteCallError.self) { try await http.send(request(server)) }
        #expect(error?.kind == .limitReached)
        #expect(server.requests.isEmpty)
        #expect(http.meter.calls == 0)
    }

    @Test func logLinesCarryMethodPathStatusAndDurationButNoQueryOrToken() async throws {
        let server = ScriptedServer(responses: [.json(200, "{}")])
        var request = HTTPRequest(.get, url: URL(string: server.baseURL.absoluteString + "/Patient?name=Zoe%20Quinn&birthdate=1980-02-29")!, retry: .idempotent, recordCount: 7)
        request.headers["Authorization"] = "Bearer tok-123456"
        _ = try await client().send(request)
        let record = try #require(capture.all.first { $0.message == "HTTP call" })
        #expect(record.metadata["http.method"] == "GET")
        #expect(record.metadata["http.path"] == "/Patient")
        #expect(record.metadata["http.status"] == "200")
        #expect(record.metadata["http.records"] == "7")
        #expect(record.metadata["http.duration_ms"] != nil)
        for text in ["Zoe", "Quinn", "1980", "tok-123456"] {
            #expect(!capture.text.contains(text))
        }
    }
}
