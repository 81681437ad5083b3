import Foundation
import JWTKit
import StagelinkEngine
import Testing

@testable import StagelinkHTTP

/// The public JWK of a signing key and its RFC 7638 thumbprint, Stagelink's default `kid`.
struct PublicJWKTests {
    static func bytes(base64URL text: String) -> Data {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64)!
    }

    @Test func theThumbprintIsRFC7638sExample() {
        // RFC 7638 §3.1: this RSA key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let key = PublicJWK.rsa(modulus: Self.bytes(base64URL: n), exponent: Self.bytes(base64URL: "AQAB"), algorithm: "RS256")
        #expect(key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        #expect(key.required["n"] == n)
    }

    @Test func anES384KeysJWKHasBareCoordinatesItsThumbprintAsKidAndNoPrivatePart() async throws {
        let pem = try AssertionSigner.generateKeyPEM(.es384)
        let signer = try await AssertionSigner(privateKeyPEM: pem, algorithm: .es384)
        let jwk = signer.publicJWK.json()
        #expect(jwk.objectValue?.keys == ["crv", "kty", "x", "y", "kid", "alg", "use"])
        #expect(jwk["kid"]?.stringValue == signer.publicJWK.thumbprint)
        #expect(jwk["crv"] == .string("P-384") && jwk["alg"] == .string("ES384"))
        #expect(Self.bytes(base64URL: jwk["x"]?.stringValue ?? "").count == 48)
        // The JWK verifies what the key signs.
        let token = try await signer.sign(JWTAssertionClaims(issuer: "c", subject: "c", audience: "https://ehr.example/token", lifetime: .seconds(60)))
        let keys = JWTKeyCollection()
        try await keys.add(jwk: JWK(json: JSONWriter.compactString(jwk)))
        _ = try await keys.verify(token.reveal(), as: JWTAssertionClaims.self)
    }

    @Test func anRS384KeyIsRSA3072WithTheUsualExponent() async throws {
        let signer = try await AssertionSigner(privateKeyPEM: try AssertionSigner.generateKeyPEM(.rs384), algorithm: .rs384)
        #expect(signer.publicJWK.keyType == "RSA")
        #expect(signer.publicJWK.required["e"] == "AQAB")
        #expect(Self.bytes(base64URL: signer.publicJWK.required["n"] ?? "").count == 384)
    }

    @Test func theAssertionHeaderCarriesKidAndJku() async throws {
        var signer = try await AssertionSigner(privateKeyPEM: try AssertionSigner.generateKeyPEM(.es384), algorithm: .es384)
        signer.keyID = signer.publicJWK.thumbprint
        signer.jwkSetURL = URL(string: "https://stagelink.example.org/jwks.json")
        let token = try await signer.sign(JWTAssertionClaims(issuer: "c", subject: "c", audience: "https://ehr.example/token", lifetime: .seconds(60)))
        let header = try JSONValue(parsing: Self.bytes(base64URL: String(token.reveal().split(separator: ".")[0])))
        #expect(header["kid"]?.stringValue == signer.publicJWK.thumbprint)
        #expect(header["jku"]?.stringValue == "https://stagelink.example.org/jwks.json")
        #expect(header["typ"]?.stringValue == "JWT")
    }
}
