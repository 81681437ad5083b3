import ArgumentParser
import FHIRClient
import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import stagelink

/// The sign-in parts of `stagelink.yaml` and `stagelink keys`: client credentials only at a My
/// Domain, a JWK set URL, scopes from the mapping, and keys whose kid is their thumbprint.
struct SignInConfigurationTests {
    static func load(_ yaml: String) throws -> StagelinkConfiguration {
        let temporary = try TemporaryFolder("signin")
        let folder = temporary.url
        let file = folder.appendingPathComponent("stagelink.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return try StagelinkConfiguration.load(contentsOf: file.path)
    }

    @Test(arguments: ["https://login.salesforce.com", "https://test.salesforce.com"])
    func clientCredentialsAtTheGenericLoginHostsAreRefusedPointingToMyDomain(loginURL: String) throws {
        let yaml = """
            store: s.sqlite
            salesforce:
              loginURL: \(loginURL)
              auth: { flow: client-credentials, consumerKey: 3MVG9-x, consumerSecretFile: secret.txt }
            """
        #expect {
            _ = try Self.load(yaml)
        } throws: { error in
            let text = "\(error)"
            return text.contains(":3:") && text.contains("salesforce.loginURL") && text.contains("only at the org's My Domain")
        }
    }

    @Test func clientCredentialsAtAMyDomainLoad() throws {
        let configuration = try Self.load("""
            store: s.sqlite
            salesforce:
              loginURL: https://acme.my.salesforce.com
              auth: { flow: client-credentials, consumerKey: 3MVG9-x, consumerSecretFile: secret.txt }
            """)
        #expect(configuration.salesforce?.loginURL.absoluteString == "https://acme.my.salesforce.com")
    }

    @Test func theEMRsJWKSetURLIsReadAndTheScopeDefaultsToTheMappings() throws {
        let configuration = try Self.load("""
            store: s.sqlite
            emr:
              baseURL: https://emr.example.org/fhir/r4
              clientID: stagelink-backend
              privateKeyFile: emr.pem
              jwksURL: https://stagelink.example.org/.well-known/jwks.json
            """)
        #expect(configuration.emr?.jwksURL?.absoluteString == "https://stagelink.example.org/.well-known/jwks.json")
        #expect(configuration.emr?.keyID == nil)
        #expect(configuration.emrScope == nil)
        let explicit = try Self.load("""
            store: s.sqlite
            emr: { baseURL: "https://emr.example.org/fhir", clientID: c, privateKeyFile: emr.pem, scope: system/Patient.rs }
            """)
        #expect(explicit.emrScope == "system/Patient.rs")
    }

    @Test func keysGenerateWritesAPrivateKeyReadableByItsOwnerOnlyNamedAfterItsKid() async throws {
        let temporary = try TemporaryFolder("keys")
        let folder = temporary.url.appendingPathComponent("keys")
        for algorithm in ["ES384", "RS384"] {
            let command = try KeysCommand.Generate.parse(["--algorithm", algorithm, "--out", folder.path])
            let (file, kid) = try await command.write()
            let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(file.lastPathComponent == "emr-\(algorithm.lowercased())-\(kid.prefix(8)).pem")
            // The JWK set of a configuration using that key names it under the same kid.
            let emr = FHIRConfiguration(
                baseURL: URL(string: "https://emr.example.org/fhir")!, clientID: "c", privateKeyFile: file.path,
                signingAlgorithm: algorithm == "ES384" ? .es384 : .rs384)
            let set = try await KeysCommand.JWKS.set(emr)
            #expect(set["keys"]?[0]?["kid"]?.stringValue == kid)
            #expect(set["keys"]?[0]?["alg"]?.stringValue == algorithm)
            #expect(set["keys"]?[0]?["d"] == nil)
        }
        let mode = try FileManager.default.attributesOfItem(atPath: folder.path)[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }

    @Test func theJWKSetPublishesARotationsOldKeyToo() async throws {
        let temporary = try TemporaryFolder("keys")
        let folder = temporary.url.appendingPathComponent("keys")
        let (current, currentKid) = try await KeysCommand.Generate.parse(["--out", folder.path]).write()
        let (old, oldKid) = try await KeysCommand.Generate.parse(["--out", folder.path]).write()
        let emr = FHIRConfiguration(baseURL: URL(string: "https://emr.example.org/fhir")!, clientID: "c", privateKeyFile: current.path)
        let set = try await KeysCommand.JWKS.set(emr, also: [old.path])
        #expect(set["keys"]?.arrayValue?.compactMap { $0["kid"]?.stringValue } == [currentKid, oldKid])
    }

    @Test func emrWritesAreReadAndAnUnknownModeIsRefusedNamingTheChoices() throws {
        let base = """
            store: s.sqlite
            emr:
              baseURL: https://emr.example.org/fhir/r4
              clientID: stagelink
              privateKeyFile: key.pem
            """
        #expect(try Self.load(base).emr?.writes == FHIRWriteSettings(), "absent: both follow the CapabilityStatement")
        let configured = try Self.load(base + "\n  writes: { create: search-then-create, update: patch }")
        #expect(configured.emr?.writes == FHIRWriteSettings(create: .searchThenCreate, update: .patch))
        #expect {
            _ = try Self.load(base + "\n  writes: { create: upsert }")
        } throws: { error in
            "\(error)".contains("conditional, search-then-create")
        }
    }
}
