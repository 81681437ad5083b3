import Crypto
import CryptoExtras
import Foundation

/// Fresh key pairs and secrets for one integration user and one FHIR client, and the files a
/// client reads them from.
///
/// The private halves stay with the client; the sandbox is configured with the public halves.
/// For example:
///
/// ```swift
/// let credentials = try SandboxCredentials.generate()
/// let files = try credentials.write(to: URL(filePath: "/tmp/sandbox-keys"))
/// print(files.salesforcePrivateKey.path)  // mode 0600
/// ```
public struct SandboxCredentials: Sendable {
    /// The Salesforce integration user the sandbox accepts.
    public var salesforceUser: SalesforceIntegrationUser
    /// The RSA private key (PEM) that signs the user's RS256 JWT bearer assertions.
    public var salesforcePrivateKeyPEM: String
    /// The FHIR client the sandbox accepts.
    public var fhirClient: FHIRBackendClient
    /// The private key (PEM) that signs the client's assertions.
    public var fhirPrivateKeyPEM: String
    /// `ES384` or `RS384`: the algorithm the FHIR client key signs with.
    public var fhirAlgorithm: String

    /// The key algorithm of a generated FHIR client.
    public enum FHIRKeyKind: String, Sendable {
        case es384 = "ES384"
        case rs384 = "RS384"
    }

    /// Generates an RSA-2048 key for the Salesforce user, a P-384 or RSA key for the FHIR client,
    /// and a random consumer secret.
    public static func generate(
        username: String = "stagelink.integration@sandbox.example",
        consumerKey: String = "3MVG9stagelink.sandbox.consumer",
        fhirClientID: String = "stagelink-backend",
        fhirKey: FHIRKeyKind = .es384
    ) throws -> SandboxCredentials {
        let salesforceKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let user = SalesforceIntegrationUser(
            username: username, consumerKey: consumerKey,
            publicKeyPEM: salesforceKey.publicKey.pemRepresentation, consumerSecret: secret)
        let fhirPrivatePEM: String
        let fhirPublicPEM: String
        switch fhirKey {
        case .es384:
            let key = P384.Signing.PrivateKey()
            fhirPrivatePEM = key.pemRepresentation
            fhirPublicPEM = key.publicKey.pemRepresentation
        case .rs384:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            fhirPrivatePEM = key.pemRepresentation
            fhirPublicPEM = key.publicKey.pemRepresentation
        }
        return SandboxCredentials(
            salesforceUser: user, salesforcePrivateKeyPEM: salesforceKey.pemRepresentation,
            fhirClient: FHIRBackendClient(clientID: fhirClientID, publicKeyPEM: fhirPublicPEM),
            fhirPrivateKeyPEM: fhirPrivatePEM, fhirAlgorithm: fhirKey.rawValue)
    }

    /// Where `write(to:)` put the credentials.
    public struct Files: Sendable {
        /// The Salesforce user's RSA private key (PEM).
        public var salesforcePrivateKey: URL
        /// The FHIR client's private key (PEM).
        public var fhirPrivateKey: URL
        /// The consumer secret, alone on one line.
        public var salesforceConsumerSecret: URL
        /// The FHIR client's public JWK set (its key under its RFC 7638 thumbprint), as the client
        /// would host it: what `--emr-jwks` takes.
        public var fhirJWKS: URL
    }

    /// The FHIR client's public key as a JWK set, the key under its RFC 7638 thumbprint.
    public func fhirJWKS() throws -> String {
        String(decoding: try ClientKeySet.jwks(publicKeyPEM: fhirClient.publicKeyPEM, alg: fhirAlgorithm).serialized(), as: UTF8.self)
    }

    /// Writes the private keys, the consumer secret and the FHIR client's public JWK set into
    /// `directory` (created with mode 0700), each file with mode 0600.
    public func write(to directory: URL) throws -> Files {
        let manager = FileManager.default
        try manager.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let files = Files(
            salesforcePrivateKey: directory.appending(path: "salesforce-private-key.pem"),
            fhirPrivateKey: directory.appending(path: "fhir-private-key.pem"),
            salesforceConsumerSecret: directory.appending(path: "salesforce-consumer-secret.txt"),
            fhirJWKS: directory.appending(path: "fhir-jwks.json"))
        let contents = [
            (files.salesforcePrivateKey, salesforcePrivateKeyPEM),
            (files.fhirPrivateKey, fhirPrivateKeyPEM),
            (files.salesforceConsumerSecret, (salesforceUser.consumerSecret ?? "") + "\n"),
            (files.fhirJWKS, try fhirJWKS()),
        ]
        for (url, text) in contents {
            if manager.fileExists(atPath: url.path) { try manager.removeItem(at: url) }
            guard manager.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else { throw SandboxError.cannotWrite(url.lastPathComponent) }
        }
        return files
    }
}
