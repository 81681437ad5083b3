import Crypto
import CryptoExtras
import Foundation
import JWTKit
import StagelinkEngine

/// Signs the short-lived JWT assertions that OAuth token endpoints accept in place of a password:
/// Salesforce's JWT bearer flow (RS256) and SMART Backend Services' `client_assertion` (RS384 or
/// ES384), through jwt-kit.
///
/// The private key is read once, at start, from a PEM file; it stays in jwt-kit's key collection
/// and is never logged or written anywhere.
///
/// For example:
///
/// ```swift
/// let signer = try await AssertionSigner(privateKeyFile: "/etc/stagelink/fhir.pem", algorithm: .es384)
/// let assertion = try await signer.sign(JWTAssertionClaims(
///     issuer: clientID, subject: clientID, audience: tokenURL.absoluteString, lifetime: .seconds(240)))
/// ```
public struct AssertionSigner: Sendable {
    /// The JWS algorithms the two services accept.
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case rs256 = "RS256"
        case rs384 = "RS384"
        case es384 = "ES384"
    }

    public let algorithm: Algorithm
    /// The `kid` header, when the service looks the public key up in a JWK set.
    public var keyID: String?
    /// The `jku` header: the URL of the JWK set registered with the service, when it has one.
    public var jwkSetURL: URL?
    /// The public half of the key, as the JWK set the service is given holds it.
    public let publicJWK: PublicJWK
    private let keys: JWTKeyCollection

    /// Reads the PEM private key at `path`.
    public init(privateKeyFile path: String, algorithm: Algorithm, keyID: String? = nil) async throws(ClientSetupError) {
        let pem: String
        do {
            pem = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadableFile(path, reason: "it does not exist or is not readable text")
        }
        try await self.init(privateKeyPEM: Secret(pem), algorithm: algorithm, keyID: keyID, source: path)
    }

    /// Uses a PEM private key already in memory.
    public init(privateKeyPEM pem: Secret, algorithm: Algorithm, keyID: String? = nil, source: String = "the given key") async throws(ClientSetupError) {
        let keys = JWTKeyCollection()
        do {
            switch algorithm {
            case .rs256, .rs384:
                let key = try Insecure.RSA.PrivateKey(pem: pem.reveal())
                await keys.add(rsa: key, digestAlgorithm: algorithm == .rs256 ? .sha256 : .sha384)
                let primitives = try key.publicKey.getKeyPrimitives()
                publicJWK = .rsa(modulus: primitives.modulus, exponent: primitives.publicExponent, algorithm: algorithm.rawValue)
            case .es384:
                let key = try ES384PrivateKey(pem: pem.reveal())
                await keys.add(ecdsa: key)
                guard let point = key.parameters else { throw ClientSetupError.invalidKey(source, algorithm: algorithm.rawValue) }
                publicJWK = .ec(x: point.x, y: point.y, algorithm: algorithm.rawValue)
            }
        } catch {
            throw .invalidKey(source, algorithm: algorithm.rawValue)
        }
        self.algorithm = algorithm
        self.keyID = keyID
        self.keys = keys
    }

    /// A new private key for `algorithm` in PEM: P-384 for ES384, RSA-3072 for RS256 and RS384.
    public static func generateKeyPEM(_ algorithm: Algorithm) throws(ClientSetupError) -> Secret {
        switch algorithm {
        case .es384:
            return Secret(P384.Signing.PrivateKey().pemRepresentation)
        case .rs256, .rs384:
            do {
                return Secret(try _RSA.Signing.PrivateKey(keySize: .bits3072).pemRepresentation)
            } catch {
                throw ClientSetupError("an RSA key could not be generated")
            }
        }
    }

    /// The signed compact JWT.
    public func sign(_ claims: JWTAssertionClaims) async throws(RemoteCallError) -> Secret {
        var header = JWTHeader()
        header.alg = algorithm.rawValue
        header.typ = "JWT"
        if let keyID { header.kid = keyID }
        if let jwkSetURL { header.jku = jwkSetURL.absoluteString }
        do {
            return Secret(try await keys.sign(claims, header: header))
        } catch {
            throw RemoteCallError(.unauthorized, LinkError(.assertionSigningFailed, message: "the JWT assertion could not be signed"))
        }
    }
}

/// The claims of a client assertion: who asserts (`iss`), for whom (`sub`), to which token
/// endpoint (`aud`), until when (`exp`, whole seconds), and a unique id (`jti`) so that a captured
/// assertion cannot be replayed.
///
/// For example:
///
/// ```swift
/// let claims = JWTAssertionClaims(issuer: consumerKey, subject: username,
///                                 audience: "https://login.salesforce.com", lifetime: .seconds(180))
/// ```
public struct JWTAssertionClaims: JWTPayload, Hashable {
    public var iss: String
    public var sub: String
    public var aud: String
    public var exp: Int
    public var iat: Int
    public var jti: String

    public init(issuer: String, subject: String, audience: String, lifetime: Duration, now: Date = Date(), id: String = UUID().uuidString) {
        let issuedAt = Int(now.timeIntervalSince1970.rounded(.down))
        self.iss = issuer
        self.sub = subject
        self.aud = audience
        self.iat = issuedAt
        self.exp = issuedAt + Int(lifetime.components.seconds)
        self.jti = id
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try ExpirationClaim(value: Date(timeIntervalSince1970: TimeInterval(exp))).verifyNotExpired()
    }
}
