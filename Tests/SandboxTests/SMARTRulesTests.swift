import Foundation
import Testing

@testable import Sandbox

/// The FHIR token endpoint's SMART rules: every profile limits an assertion to five minutes; the
/// certified rules require `kid` from the client's JWK set, SMART v2 scopes and per-resource grants.
struct SMARTRulesTests {
    static let tokenURL = TestSandbox.fhirBase + "/auth/token"

    static func world(rules: SMARTRules = [], jwks: String? = nil) -> SandboxWorld {
        var configuration = TestSandbox.configuration()
        configuration.smartRules = rules
        configuration.fhirJWKS = jwks
        return TestSandbox.world(configuration)
    }

    /// The token endpoint's answers to these assertions, in order.
    static func replies(_ world: SandboxWorld, scope: String = "system/Patient.rs", _ assertions: [String]) async throws -> [Reply] {
        try await TestSandbox.fhir(world) { client in
            var replies: [Reply] = []
            for assertion in assertions { replies.append(try await client.fhirTokenReply(scope: scope, assertion: assertion)) }
            return replies
        }
    }

    @Test func everyProfileRefusesAnAssertionThatLivesMoreThanFiveMinutes() async throws {
        let credentials = TestSandbox.credentials
        let replies = try await Self.replies(
            Self.world(),
            [
                try await credentials.fhirAssertion(tokenURL: Self.tokenURL, lifetime: 330),
                try await credentials.fhirAssertion(tokenURL: Self.tokenURL, lifetime: 290),
            ])
        #expect(replies.map(\.status) == [400, 200])
        #expect(replies[0].json == ["error": "invalid_client", "error_description": "exp is more than five minutes ahead"])
    }

    @Test func withoutTheCertifiedRulesAnAssertionWithoutKidIsCheckedWithTheRegisteredKey() async throws {
        let replies = try await Self.replies(
            Self.world(), [try await TestSandbox.credentials.fhirAssertion(tokenURL: Self.tokenURL, withKeyID: false)])
        #expect(replies.map(\.status) == [200])
    }

    @Test func requireKeyIDRefusesAnAssertionWithoutKidOrWithAnUnknownOne() async throws {
        let credentials = TestSandbox.credentials
        let replies = try await Self.replies(
            Self.world(rules: .requireKeyID),
            [
                try await credentials.fhirAssertion(tokenURL: Self.tokenURL, withKeyID: false),
                try await credentials.fhirAssertion(tokenURL: Self.tokenURL, kid: "stagelink-backend-key"),
                try await credentials.fhirAssertion(tokenURL: Self.tokenURL),
            ])
        #expect(replies.map(\.status) == [400, 400, 200])
        #expect(replies[0].json == ["error": "invalid_client", "error_description": "the assertion's header has no kid"])
        #expect(replies[1].json["error_description"] == "the client's JWK set has 0 EC keys with kid stagelink-backend-key, not exactly one")
    }

    @Test func aJWKSetFileDecidesWhichKeySignsForTheClient() async throws {
        // The client registered a new key through its JWK set: assertions of the old key stop working.
        let rotated = try SandboxCredentials.generate()
        let file = FileManager.default.temporaryDirectory.appending(path: "stagelink-jwks-\(UUID().uuidString).json")
        try Data(try rotated.fhirJWKS().utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let replies = try await Self.replies(
            Self.world(jwks: file.path),
            [
                try await TestSandbox.credentials.fhirAssertion(tokenURL: Self.tokenURL),
                try await rotated.fhirAssertion(tokenURL: Self.tokenURL),
                try await rotated.fhirAssertion(tokenURL: Self.tokenURL, jku: "https://attacker.example/jwks.json"),
            ])
        #expect(replies.map(\.status) == [400, 200, 400])
        #expect(replies[0].json["error"] == "invalid_client")
        #expect(replies[2].json["error_description"] == "the jku header is not the JWK set URL registered for this client")
    }

    @Test func theJWKSetNamesTheKeyUnderItsRFC7638Thumbprint() throws {
        let set = try WireJSON.parse(try TestSandbox.credentials.fhirJWKS())
        let key = try #require(set["keys"]?.arrayValue?.first)
        #expect(key["kty"] == "EC" && key["crv"] == "P-384" && key["alg"] == "ES384")
        // The thumbprint is SHA-256 (43 base64url characters) of the canonical required members.
        let kid = try #require(key["kid"]?.stringValue)
        #expect(kid.count == 43 && !kid.contains("=") && !kid.contains("+") && !kid.contains("/"))
        let rsa = try WireJSON.parse(try TestSandbox.rsaCredentials.fhirJWKS())["keys"]?[0]
        #expect(rsa?["kty"] == "RSA" && rsa?["e"] == "AQAB" && rsa?["alg"] == "RS384")
    }

    @Test func aV2OnlyServerRefusesV1ScopesNamingTheFirst() async throws {
        let world = Self.world(rules: .v2ScopesOnly)
        let credentials = TestSandbox.credentials
        let (v1, v2, smart) = try await TestSandbox.fhir(world) { client in
            (
                try await client.fhirTokenReply(credentials, scope: "system/Patient.rs system/*.write"),
                try await client.fhirTokenReply(credentials, scope: "system/Patient.rs system/Patient.cu"),
                try await client.call(.get, "/fhir/.well-known/smart-configuration")
            )
        }
        #expect(v1.status == 400)
        #expect(v1.json["error"] == "invalid_scope")
        #expect(v1.json["error_description"]?.stringValue?.hasPrefix("system/*.write is a SMART v1 scope") == true)
        #expect(v2.status == 200)
        #expect(v2.json["scope"] == "system/Patient.rs system/Patient.cu")
        #expect(smart.json["capabilities"] == ["client-confidential-asymmetric", "permission-v2"])
    }

    @Test func perResourceGrantsLeaveWildcardsOutOfTheGrant() async throws {
        let world = Self.world(rules: .perResourceGrants)
        let (mixed, wildcard) = try await TestSandbox.fhir(world) { client in
            (
                try await client.fhirTokenReply(scope: "system/*.rs system/Patient.cu"),
                try await client.fhirTokenReply(scope: "system/*.rs")
            )
        }
        #expect(mixed.status == 200)
        #expect(mixed.json["scope"] == "system/Patient.cu")
        #expect(wildcard.status == 400)
        #expect(wildcard.json["error"] == "invalid_scope")
    }

    @Test func aTokenGrantedPerResourceReachesOnlyThoseResources() async throws {
        let world = Self.world(rules: .certified)
        let (patients, episodes) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken(scope: "system/Patient.rs")
            return (
                try await client.call(.get, "/fhir/Patient?_count=1", bearer: token),
                try await client.call(.get, "/fhir/EpisodeOfCare?_count=1", bearer: token)
            )
        }
        #expect(patients.status == 200)
        #expect(episodes.status == 403)
    }
}
