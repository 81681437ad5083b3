import Foundation
import JWTKit

/// Signed assertions for the two token endpoints, as a client would make them.
extension SandboxCredentials {
    private struct Claims: JWTPayload {
        var iss: String
        var sub: String
        var aud: String
        var exp: Int
        var jti: String

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// An RS256 JWT bearer assertion for the Salesforce token endpoint.
    ///
    /// For example:
    ///
    /// ```swift
    /// let assertion = try await credentials.salesforceAssertion(now: Date())
    /// // POST grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…
    /// ```
    public func salesforceAssertion(
        audience: String = "https://login.salesforce.com", now: Date = Date(), lifetime: TimeInterval = 180
    ) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: salesforcePrivateKeyPEM), digestAlgorithm: .sha256)
        return try await keys.sign(
            Claims(
                iss: salesforceUser.consumerKey, sub: salesforceUser.username, aud: audience,
                exp: Int(now.timeIntervalSince1970 + lifetime), jti: UUID().uuidString))
    }

    /// A SMART Backend Services client assertion (ES384 or RS384) for `tokenURL`, with the key's
    /// RFC 7638 thumbprint as `kid` unless another `kid` is given or `withKeyID` is false, and a
    /// `jku` header when given.
    public func fhirAssertion(
        tokenURL: String, now: Date = Date(), lifetime: TimeInterval = 240, withKeyID: Bool = true, kid: String? = nil, jku: String? = nil
    ) async throws -> String {
        let keys = JWTKeyCollection()
        if fhirAlgorithm == "RS384" {
            await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: fhirPrivateKeyPEM), digestAlgorithm: .sha384)
        } else {
            await keys.add(ecdsa: try ES384PrivateKey(pem: fhirPrivateKeyPEM))
        }
        var header = JWTHeader()
        header.alg = fhirAlgorithm
        header.typ = "JWT"
        if withKeyID {
            header.kid = try kid ?? ClientKeySet.jwks(publicKeyPEM: fhirClient.publicKeyPEM, alg: fhirAlgorithm)["keys"]?.arrayValue?.first?["kid"]?.stringValue
        }
        header.jku = jku
        return try await keys.sign(
            Claims(
                iss: fhirClient.clientID, sub: fhirClient.clientID, aud: tokenURL,
                exp: Int(now.timeIntervalSince1970 + lifetime), jti: UUID().uuidString),
            header: header)
    }
}
