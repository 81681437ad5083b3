import Foundation
import StagelinkEngine
import StagelinkTestSupport
import Synchronization
import Testing

@testable import StagelinkHTTP

@Suite(.timeLimit(.minutes(1)))
struct BearerTokenTests {
    struct Token: BearerCredential {
        var accessToken: Secret
        var expiresAt: Date?
    }

    /// Issues `token-1`, `token-2`, … and counts how often it was asked.
    final class Issuer: Sendable {
        let count = Mutex(0)
        let lifetime: TimeInterval?

        init(lifetime: TimeInterval? = nil) { self.lifetime = lifetime }

        func holder() -> BearerTokenHolder<Token> {
            BearerTokenHolder(renewalMargin: .seconds(30)) { () throws(RemoteCallError) -> Token in
                try? await Task.sleep(for: .milliseconds(20))
                let number = self.count.withLock { count in
                    count += 1
                    return count
                }
                return Token(accessToken: Secret("token-\(number)"), expiresAt: self.lifetime.map { Date().addingTimeInterval($0) })
            }
        }
    }

    @Test func concurrentCallersShareOneTokenRequest() async throws {
        let issuer = Issuer()
        let holder = issuer.holder()
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await holder.credential().accessToken.reveal() } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(tokens == ["token-1"])
        #expect(issuer.count.withLock { $0 } == 1)
    }

    @Test func aTokenAboutToExpireIsRenewedBeforeUse() async throws {
        let issuer = Issuer(lifetime: 300)
        let holder = issuer.holder()
        _ = try await holder.credential()
        #expect(try await holder.credential(now: Date().addingTimeInterval(200)).accessToken.reveal() == "token-1")
        #expect(try await holder.credential(now: Date().addingTimeInterval(280)).accessToken.reveal() == "token-2")
    }

    @Test func manyRefusalsOfOneTokenRenewItOnce() async throws {
        let issuer = Issuer()
        let holder = issuer.holder()
        let stale = try await holder.credential()
        let renewed = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await holder.renew(replacing: stale).accessToken.reveal() } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(renewed == ["token-2"])
        #expect(issuer.count.withLock { $0 } == 2)
    }

    @Test func a401RenewsTheTokenOnceAndRepeatsTheCallOnce() async throws {
        let server = ScriptedServer { request in
            request.headers["authorization"] == "Bearer token-2" ? .json(200, #"{"ok":true}"#) : .json(401, #"[{"errorCode":"INVALID_SESSION_ID"}]"#)
        }
        let issuer = Issuer()
        let http = HTTPClient(configuration: HTTPConfiguration(), meter: APIMeter(), logger: LogCapture().logger())
        let status = try await http.send(authorizedBy: issuer.holder()) { _ in
            HTTPRequest(.get, url: server.baseURL.appending(path: "data"), retry: .idempotent)
        } decode: { (response) throws(RemoteCallError) -> Int in response.status }
        #expect(status == 200)
        #expect(server.requests.map { $0.headers["authorization"] } == ["Bearer token-1", "Bearer token-2"])
    }

    @Test func aSecondRefusalIsUnauthorizedWithoutAThirdCall() async throws {
        let server = ScriptedServer(responses: [.json(401, #"[{"errorCode":"INVALID_SESSION_ID"}]"#)])
        let issuer = Issuer()
        let http = HTTPClient(configuration: HTTPConfiguration(), meter: APIMeter(), logger: LogCapture().logger())
        let error = await #expect(throws: RemoteCallError.self) {
            try await http.send(authorizedBy: issuer.holder()) { _ in
                HTTPRequest(.get, url: server.baseURL, retry: .idempotent)
            } decode: { (response) throws(RemoteCallError) -> Int in response.status }
        }
        #expect(error?.kind == .unauthorized)
        #expect(server.requests.count == 2)
        #expect(issuer.count.withLock { $0 } == 2)
    }

    @Test func secretsNeverShowInDescriptionsOrDumps() {
        let secret = Secret("s3cr3t-value")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect("\(secret)" == "‹redacted›")
        #expect(String(reflecting: secret) == "‹redacted›")
        #expect(!dumped.contains("s3cr3t"))
        #expect(!"\(Token(accessToken: secret, expiresAt: nil))".contains("s3cr3t"))
    }
}
