import Foundation
import Sandbox
import StagelinkEngine
import StagelinkHTTP
import StagelinkTestSupport
import Testing

@testable import SalesforceClient

/// Salesforce's sign-in rules per host: the JWT bearer `aud` Salesforce documents for each kind of
/// login URL, and client credentials at a My Domain only. The simulator plays both the generic
/// login host and the org's My Domain, so a wrong default fails here.
@Suite(.timeLimit(.minutes(1)))
struct SalesforceSignInTests {
    @Test(arguments: [
        ("https://login.salesforce.com", "https://login.salesforce.com", false),
        ("https://login.salesforce.com/", "https://login.salesforce.com", false),
        ("https://test.salesforce.com", "https://test.salesforce.com", false),
        ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com", true),
        ("https://acme--uat.sandbox.my.salesforce.com/", "https://acme--uat.sandbox.my.salesforce.com", true),
        ("https://acme.my.site.com/customers/", "https://acme.my.site.com/customers", false),
        ("https://acme.force.com/partners", "https://acme.force.com/partners", false),
        ("https://login.acme.example", "https://login.acme.example", true),
    ])
    func theDefaultAudienceAndClientCredentialsFollowTheKindOfLoginURL(url: String, audience: String, clientCredentials: Bool) {
        let host = SalesforceLoginHost(URL(string: url)!)
        #expect(host.jwtAudience == audience)
        #expect(host.acceptsClientCredentials == clientCredentials)
    }

    static func configuration(
        _ harness: SandboxHarness, _ flow: SandboxHarness.SalesforceFlow, loginURL: String, audience: String? = nil
    ) -> SalesforceConfiguration {
        var configuration = harness.salesforceConfiguration(flow)
        configuration.loginURL = URL(string: loginURL)!
        configuration.assertionAudience = audience
        return configuration
    }

    @Test func jwtBearerSignsInAtTheLoginHostAndAtTheMyDomainWithTheDefaultAudience() async throws {
        try await SandboxHarness.with { harness in
            for loginURL in [harness.sandbox.salesforceLoginURL, harness.sandbox.salesforceURL] {
                let salesforce = try await SalesforceClient(
                    configuration: Self.configuration(harness, .jwtBearer, loginURL: loginURL), logger: SandboxHarness.silent)
                #expect(try await salesforce.integrationUserID().hasPrefix("005"))
            }
        }
    }

    @Test func theLoginHostsAudienceIsRefusedAtTheMyDomainOfAnExternalClientApp() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await SalesforceClient(
                configuration: Self.configuration(
                    harness, .jwtBearer, loginURL: harness.sandbox.salesforceURL, audience: "https://login.salesforce.com"),
                logger: SandboxHarness.silent)
            let error = await #expect(throws: RemoteCallError.self) { try await salesforce.integrationUserID() }
            #expect(error?.kind == .unauthorized)
            #expect(error?.error.code == "invalid_grant")
            #expect(error?.error.message == "audience is invalid")
            #expect(error?.error.remoteBody == #"{"error":"invalid_grant","error_description":"audience is invalid"}"#)
        }
    }

    @Test func aLegacyConnectedAppAtTheMyDomainStillTakesTheLoginHostsAudience() async throws {
        try await SandboxHarness.with(configure: { $0.salesforceAudiences = ["https://login.salesforce.com"] }) { harness in
            let salesforce = try await SalesforceClient(
                configuration: Self.configuration(
                    harness, .jwtBearer, loginURL: harness.sandbox.salesforceURL, audience: "https://login.salesforce.com"),
                logger: SandboxHarness.silent)
            #expect(try await salesforce.integrationUserID().hasPrefix("005"))
        }
    }

    @Test func theLoginHostRefusesAMyDomainAudience() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await SalesforceClient(
                configuration: Self.configuration(
                    harness, .jwtBearer, loginURL: harness.sandbox.salesforceLoginURL, audience: harness.sandbox.salesforceURL),
                logger: SandboxHarness.silent)
            let error = await #expect(throws: RemoteCallError.self) { try await salesforce.integrationUserID() }
            #expect(error?.error.message == "audience is invalid")
        }
    }

    @Test func clientCredentialsAreRefusedAtTheLoginHostTheWaySalesforceDoes() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await SalesforceClient(
                configuration: Self.configuration(harness, .clientCredentials, loginURL: harness.sandbox.salesforceLoginURL),
                logger: SandboxHarness.silent)
            let error = await #expect(throws: RemoteCallError.self) { try await salesforce.integrationUserID() }
            #expect(error?.error.code == "invalid_grant")
            #expect(error?.error.remoteBody == #"{"error":"invalid_grant","error_description":"request not supported on this domain"}"#)
        }
    }

    @Test func theClientRefusesClientCredentialsAtLoginOrTestBeforeAskingAnything() async throws {
        let (_, files) = SandboxHarness.shared
        for host in ["https://login.salesforce.com", "https://test.salesforce.com"] {
            let configuration = SalesforceConfiguration(
                loginURL: URL(string: host)!,
                authentication: .clientCredentials(consumerKey: "3MVG9-x", consumerSecretFile: files.salesforceConsumerSecret.path))
            let error = await #expect(throws: ClientSetupError.self) {
                _ = try await SalesforceClient(configuration: configuration, logger: SandboxHarness.silent)
            }
            #expect(error?.description.contains("only at the org's My Domain") == true)
        }
    }
}
