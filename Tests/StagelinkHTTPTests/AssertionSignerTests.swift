import Crypto
import CryptoExtras
import Foundation
import JWTKit
import Testing

@testable import StagelinkHTTP

@Suite(.timeLimit(.minutes(1)))
struct AssertionSignerTests {
    static let rsaKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    func claims() -> JWTAssertionClaims {
        JWTAssertionClaims(issuer: "client-7", subject: "svc@example.org", audience: "https://login.example.org", lifetime: .seconds(180))
    }

    @Test func rs256AssertionsVerifyWithThePublicKey() async throws {
        let signer = try await AssertionSigner(privateKeyPEM: Secret(Self.rsaKey.pemRepresentation), algorithm: .rs256)
        let token = try await signer.sign(claims())
        let verifier = JWTKeyCollection()
        await verifier.add(rsa: try Insecure.RSA.PublicKey(pem: Self.rsaKey.publicKey.pemRepresentation), digestAlgorithm: .sha256)
        let verified = try await verifier.verify(token.reveal(), as: JWTAssertionClaims.self)
        #expect(verified.iss == "client-7")
        #expect(verified.sub == "svc@example.org")
        #expect(verified.aud == "https://login.example.org")
        #expect(verified.exp - verified.iat == 180)
    }

    @Test func rs384AndES384AssertionsNameTheirAlgorithmAndKey() async throws {
        let ecKey = ES384PrivateKey()
        let es384 = try await AssertionSigner(privateKeyPEM: Secret(ecKey.pemRepresentation), algorithm: .es384, keyID: "key-1")
        let rs384 = try await AssertionSigner(privateKeyPEM: Secret(Self.rsaKey.pemRepresentation), algorithm: .rs384)
        let verifier = JWTKeyCollection()
        await verifier.add(ecdsa: ecKey.publicKey, kid: "key-1")
        await verifier.add(rsa: try Insecure.RSA.PublicKey(pem: Self.rsaKey.publicKey.pemRepresentation), digestAlgorithm: .sha384, kid: "rsa")
        let esToken = try await es384.sign(claims()).reveal()
        _ = try await verifier.verify(esToken, as: JWTAssertionClaims.self)
        let header = try #require(Data(base64Encoded: Self.base64(esToken.split(separator: ".")[0])))
        let text = String(decoding: header, as: UTF8.self)
        #expect(text.contains(#""alg":"ES384""#) && text.contains(#""kid":"key-1""#))
        let rsToken = try await rs384.sign(claims()).reveal()
        let rsHeader = String(decoding: Data(base64Encoded: Self.base64(rsToken.split(separator: ".")[0]))!, as: UTF8.self)
        #expect(rsHeader.contains(#""alg":"RS384""#))
    }

    @Test func everyAssertionHasItsOwnID() {
        #expect(claims().jti != claims().jti)
    }

    @Test func aMissingKeyFileNamesThePathOnly() async {
        let error = await #expect(throws: ClientSetupError.self) {
            _ = try await AssertionSigner(privateKeyFile: "/nonexistent/key.pem", algorithm: .rs256)
        }
        #expect(error?.description.contains("/nonexistent/key.pem") == true)
    }

    @Test func aKeyOfTheWrongKindIsRefusedWithoutQuotingIt() async throws {
        let pem = P384.Signing.PrivateKey().pemRepresentation
        let error = await #expect(throws: ClientSetupError.self) {
            _ = try await AssertionSigner(privateKeyPEM: Secret(pem), algorithm: .rs256)
        }
        #expect(error?.description.contains("RS256") == true)
        #expect(error?.description.contains("BEGIN") == false)
    }

    static func base64(_ part: Substring) -> String {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return text
    }
}
