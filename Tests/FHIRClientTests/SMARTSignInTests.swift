import Foundation
import Logging
import Sandbox
import StagelinkEngine
import StagelinkHTTP
import StagelinkTestSupport
import Testing

@testable import FHIRClient

/// Signing in to an EHR the way certified ones want it: `kid` (the key's thumbprint) always,
/// `jku` when configured, SMART v2 scopes, assertions of at most five minutes, and a host clock
/// that may be a little off.
@Suite(.timeLimit(.minutes(1)))
struct SMARTSignInTests {
    static func client(
        _ harness: SandboxHarness, scope: String = "system/Patient.rs", jwksURL: URL? = nil, logger: Logger = SandboxHarness.silent,
        hostClock: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> FHIRClient {
        var configuration = harness.fhirConfiguration()
        configuration.scope = scope
        configuration.jwksURL = jwksURL
        return try await FHIRClient(configuration: configuration, logger: logger, hostClock: hostClock)
    }

    static func firstPatients(_ emr: FHIRClient) async throws -> SourcePage {
        try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 5), after: nil)
    }

    @Test func aCertifiedEHRAcceptsTheKeysThumbprintAsKidWithoutConfiguringOne() async throws {
        try await SandboxHarness.with(configure: { $0.smartRules = .certified }) { harness in
            let page = try await Self.firstPatients(try await Self.client(harness))
            #expect(page.records.count == 5)
        }
    }

    @Test func theDefaultKidIsTheThumbprintThatTheJWKSetPublishes() async throws {
        let (credentials, files) = SandboxHarness.shared
        let signer = try await AssertionSigner(privateKeyFile: files.fhirPrivateKey.path, algorithm: .es384)
        let published = try StagelinkEngine.JSONValue(parsing: Array(try credentials.fhirJWKS().utf8))
        #expect(published["keys"]?[0]?["kid"]?.stringValue == signer.publicJWK.thumbprint)
        #expect(signer.publicJWK.json()["kid"]?.stringValue == signer.publicJWK.thumbprint)
    }

    @Test func aV1ScopeIsRefusedByAV2OnlyEHRWithAnErrorNamingIt() async throws {
        try await SandboxHarness.with(configure: { $0.smartRules = .certified }) { harness in
            let emr = try await Self.client(harness, scope: "system/*.read system/*.write")
            let error = await #expect(throws: RemoteCallError.self) { try await Self.firstPatients(emr) }
            #expect(error?.kind == .unauthorized)
            #expect(error?.error.code == "invalid_scope")
            #expect(error?.error.message.hasPrefix(#"the EMR refused the scope "system/*.read system/*.write": system/*.read is a SMART v1 scope"#) == true)
        }
    }

    @Test func aScopeLeftOutOfTheGrantStopsTheSignInNamingIt() async throws {
        try await SandboxHarness.with(configure: { $0.smartRules = .certified }) { harness in
            let emr = try await Self.client(harness, scope: "system/*.rs system/Patient.cu")
            let error = await #expect(throws: RemoteCallError.self) { try await Self.firstPatients(emr) }
            #expect(error?.error.code == "SCOPE_REFUSED")
            #expect(error?.error.message.hasPrefix(#"the EMR did not grant system/*.rs (it granted "system/Patient.cu")"#) == true)
        }
    }

    @Test func theJWKSetURLIsSentAsJkuAndTheEHRFetchesTheKeyFromIt() async throws {
        let (credentials, _) = SandboxHarness.shared
        let jwks = try credentials.fhirJWKS()
        let host = ScriptedServer { _ in .json(200, jwks) }
        defer { host.stop() }
        let url = host.baseURL.appending(path: "jwks.json")
        try await SandboxHarness.with(configure: { $0.smartRules = .certified; $0.fhirJWKS = url.absoluteString }) { harness in
            let page = try await Self.firstPatients(try await Self.client(harness, jwksURL: url))
            #expect(page.records.count == 5)
        }
        #expect(host.requests.map(\.target) == ["/jwks.json"])
        #expect(host.requests.first?.headers["accept"] == "application/json")
    }

    @Test func aJkuOtherThanTheRegisteredURLIsRefused() async throws {
        let (credentials, _) = SandboxHarness.shared
        let file = FileManager.default.temporaryDirectory.appending(path: "stagelink-jwks-\(UUID().uuidString).json")
        try Data(try credentials.fhirJWKS().utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await SandboxHarness.with(configure: { $0.fhirJWKS = file.path }) { harness in
            let emr = try await Self.client(harness, jwksURL: URL(string: "https://stagelink.example.org/jwks.json"))
            let error = await #expect(throws: RemoteCallError.self) { try await Self.firstPatients(emr) }
            #expect(error?.error.code == "invalid_client")
            #expect(error?.error.message == "the jku header is not the JWK set URL registered for this client")
        }
    }

    @Test func aHostClockTwoMinutesAheadSignsInAfterOneCorrectionThatIsLogged() async throws {
        try await SandboxHarness.with { harness in
            let log = LogCapture()
            let emr = try await Self.client(harness, logger: log.logger(), hostClock: { Date().addingTimeInterval(120) })
            let page = try await Self.firstPatients(emr)
            #expect(page.records.count == 5)
            let warning = try #require(log.all.first { $0.message.contains("clock differs") })
            #expect(warning.level == .warning)
            let offset = try #require(Int(warning.metadata["auth.clock_offset_seconds"]?.description ?? ""))
            #expect((-125 ... -115).contains(offset))  // two minutes, give or take the time a loaded machine takes to answer
            #expect(warning.metadata["auth.oauth_error"]?.description == "invalid_client")
            // Two token requests: the refused one and the corrected one.
            #expect(harness.sandbox.inspection.counts().calls[.fhirToken] == 2)
        }
    }

    @Test func aHostClockTwoMinutesBehindSignsInWithoutCorrection() async throws {
        try await SandboxHarness.with { harness in
            let log = LogCapture()
            let emr = try await Self.client(harness, logger: log.logger(), hostClock: { Date().addingTimeInterval(-120) })
            #expect(try await Self.firstPatients(emr).records.count == 5)
            #expect(!log.text.contains("clock differs"))
        }
    }

    @Test func aRefusalWithTheClocksInStepIsNotRetried() async throws {
        try await SandboxHarness.with(configure: { $0.smartRules = .certified }) { harness in
            let emr = try await Self.client(harness, scope: "system/Patient.read")
            await #expect(throws: RemoteCallError.self) { try await Self.firstPatients(emr) }
            #expect(harness.sandbox.inspection.counts().calls[.fhirToken] == 1)
        }
    }

    @Test func theDefaultScopesAreV2ScopesForExactlyWhatTheMappingDoes() throws {
        let mapping = try MappingDocument.load(contentsOf: FullSyncLoggingTests.mapping)
        #expect(
            SMARTScope.defaultScope(for: mapping)
                == "system/Patient.rs system/Patient.cu system/EpisodeOfCare.rs system/QuestionnaireResponse.rs system/ServiceRequest.s system/ServiceRequest.c")
    }

    @Test func aMappingWithoutOutboundOnlyReadsAndAHeldFieldLetsItsResourceBeUpdated() throws {
        let yaml = """
            version: 1
            inbound:
              - name: episodes
                resource: EpisodeOfCare
                object: Contact
                externalId: EMR_Patient_Id__c
                fields:
                  - { field: EMR_Patient_Id__c, path: patient.reference, type: reference, resource: Patient, required: true, owner: emr }
                  - { field: Clinical_Status__c, path: status, owner: hold }
              - name: assessments
                resource: QuestionnaireResponse
                object: Assessment__c
                externalId: EMR_Assessment_Id__c
                fields:
                  - { field: EMR_Assessment_Id__c, path: id, required: true, owner: emr }
            """
        let mapping = try MappingDocument(yaml: yaml, file: "inbound-only.yaml")
        #expect(SMARTScope.defaultScope(for: mapping) == "system/EpisodeOfCare.rs system/EpisodeOfCare.u system/QuestionnaireResponse.rs")
    }

    @Test func scopesReadInV1AndV2SyntaxCoverWhatTheyShould() throws {
        let v1Read = try #require(SMARTScope("system/*.read"))
        #expect(v1Read.interactions == [.read, .search])
        #expect(v1Read.covers(try #require(SMARTScope("system/Patient.rs"))))
        #expect(!v1Read.covers(try #require(SMARTScope("system/Patient.c"))))
        #expect(try #require(SMARTScope("system/*.write")).interactions == [.create, .update, .delete])
        #expect(SMARTScope("system/Patient.sr") == nil)  // out of order: SMART lets a server refuse it
        #expect(SMARTScope("openid") == nil)
        #expect(SMARTScope.refused("system/Patient.rs system/Patient.cu launch", granted: "system/Patient.cruds") == ["launch"])
        #expect(SMARTScope.refused("system/Patient.rs", granted: "patient/Patient.rs") == ["system/Patient.rs"])
    }
}
