import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Sandbox

struct SalesforceAuthTests {
    private func jwtLogin(_ assertion: String) async throws -> Reply {
        try await TestSandbox.salesforce(TestSandbox.world()) { client in
            try await client.call(
                .post, "/services/oauth2/token",
                form: [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)])
        }
    }

    @Test func jwtBearerGrantAnswersWithSalesforcesShapeAndNoExpiresIn() async throws {
        let assertion = try await TestSandbox.credentials.salesforceAssertion(audience: TestSandbox.salesforceBase)
        let reply = try await jwtLogin(assertion)
        #expect(reply.status == 200)
        let keys = Set(reply.json.objectValue?.keys ?? [])
        #expect(keys == ["access_token", "scope", "instance_url", "id", "token_type", "issued_at", "signature"])
        #expect(reply.json["instance_url"] == .string(TestSandbox.salesforceBase))
        #expect(reply.json["id"]?.stringValue?.contains("/id/00D") == true)
    }

    @Test func jwtBearerRefusesAWrongAudience() async throws {
        let assertion = try await TestSandbox.credentials.salesforceAssertion(audience: "https://evil.example")
        let reply = try await jwtLogin(assertion)
        #expect(reply.status == 400)
        #expect(reply.json["error"] == "invalid_grant")
    }

    @Test func jwtBearerRefusesAnExpiredAssertion() async throws {
        let assertion = try await TestSandbox.credentials.salesforceAssertion(
            audience: TestSandbox.salesforceBase, now: Date().addingTimeInterval(-600))
        let reply = try await jwtLogin(assertion)
        #expect(reply.status == 400)
        #expect(reply.json["error_description"] == "expired authorization code")
    }

    @Test func jwtBearerRefusesAnAssertionSignedByAnotherKey() async throws {
        var impostor = try SandboxCredentials.generate()
        impostor.salesforceUser = TestSandbox.credentials.salesforceUser
        let assertion = try await impostor.salesforceAssertion(audience: TestSandbox.salesforceBase)
        let reply = try await jwtLogin(assertion)
        #expect(reply.status == 400)
        #expect(reply.json["error"] == "invalid_grant")
    }

    @Test func theMyDomainOfAnExternalClientAppTakesOnlyItsOwnURLAsAudience() async throws {
        let credentials = TestSandbox.credentials
        var replies: [Reply] = []
        for audience in ["https://login.salesforce.com", "https://test.salesforce.com"] {
            replies.append(try await jwtLogin(try await credentials.salesforceAssertion(audience: audience)))
        }
        #expect(replies.map(\.status) == [400, 400])
        #expect(replies.allSatisfy { $0.json == ["error": "invalid_grant", "error_description": "audience is invalid"] })
    }

    /// The generic login host (login.salesforce.com), in process.
    private func atTheLoginHost(_ form: [(String, String)]) async throws -> Reply {
        let world = TestSandbox.world()
        world.setBaseURLs(salesforce: TestSandbox.salesforceBase, salesforceLogin: "http://login.sandbox.test", fhir: TestSandbox.fhirBase)
        return try await Application(router: SalesforceRoutes.loginRouter(world: world)).test(.router) { client in
            try await client.call(.post, "/services/oauth2/token", form: form)
        }
    }

    @Test func theLoginHostTakesTheLoginAudienceAndHandsOutTheMyDomainAsInstance() async throws {
        let credentials = TestSandbox.credentials
        let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
        let login = try await atTheLoginHost([("grant_type", grant), ("assertion", try await credentials.salesforceAssertion())])
        #expect(login.status == 200)
        #expect(login.json["instance_url"] == .string(TestSandbox.salesforceBase))
        let myDomain = try await atTheLoginHost([
            ("grant_type", grant), ("assertion", try await credentials.salesforceAssertion(audience: TestSandbox.salesforceBase)),
        ])
        #expect(myDomain.json == ["error": "invalid_grant", "error_description": "audience is invalid"])
    }

    @Test func theLoginHostRefusesClientCredentialsTheWaySalesforceDoes() async throws {
        let user = TestSandbox.credentials.salesforceUser
        let reply = try await atTheLoginHost([
            ("grant_type", "client_credentials"), ("client_id", user.consumerKey), ("client_secret", user.consumerSecret!),
        ])
        #expect(reply.status == 400)
        #expect(reply.json == ["error": "invalid_grant", "error_description": "request not supported on this domain"])
    }

    @Test func clientCredentialsWithAWrongSecretAreRefused() async throws {
        let world = TestSandbox.world()
        let reply = try await TestSandbox.salesforce(world) { client in
            try await client.call(
                .post, "/services/oauth2/token",
                form: [
                    ("grant_type", "client_credentials"),
                    ("client_id", TestSandbox.credentials.salesforceUser.consumerKey), ("client_secret", "wrong"),
                ])
        }
        #expect(reply.status == 400)
        #expect(reply.json["error"] == "invalid_client")
    }

    @Test func aSessionPastItsLifetimeGetsInvalidSessionID() async throws {
        let world = TestSandbox.world()
        let (before, after) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let before = try await client.call(.get, "/services/data/v60.0/limits", bearer: token)
            world.clock.advance(by: world.configuration.salesforceTokenLifetime + .seconds(1))
            let after = try await client.call(.get, "/services/data/v60.0/limits", bearer: token)
            return (before, after)
        }
        #expect(before.status == 200)
        #expect(after.status == 401)
        #expect(after.json == [["message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []]])
    }

    @Test func everyResponseCarriesTheLimitInfoAndTheLimitIsEnforced() async throws {
        var configuration = TestSandbox.configuration()
        configuration.dailyAPILimit = 3
        let world = TestSandbox.world(configuration)
        let replies = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            var replies: [Reply] = []
            for _ in 0..<4 { replies.append(try await client.call(.get, "/services/data/v60.0/limits", bearer: token)) }
            return replies
        }
        #expect(replies.map(\.status) == [200, 200, 200, 403])
        #expect(replies.map { $0.header("Sforce-Limit-Info") } == ["api-usage=1/3", "api-usage=2/3", "api-usage=3/3", "api-usage=3/3"])
        #expect(replies[3].json[0]?["errorCode"] == "REQUEST_LIMIT_EXCEEDED")
    }
}
