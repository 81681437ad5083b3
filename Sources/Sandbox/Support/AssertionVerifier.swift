import Foundation
import JWTKit

/// The claims of a client's signed assertion (Salesforce JWT bearer, SMART client assertion).
struct AssertionClaims: JWTPayload {
    var iss: String
    var sub: String
    var aud: [String]
    var exp: Double
    var jti: String?

    private enum CodingKeys: String, CodingKey { case iss, sub, aud, exp, jti }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        iss = try container.decode(String.self, forKey: .iss)
        sub = try container.decode(String.self, forKey: .sub)
        if let single = try? container.decode(String.self, forKey: .aud) {
            aud = [single]
        } else {
            aud = try container.decode([String].self, forKey: .aud)
        }
        // simple-salesforce sends exp as a string of digits; Salesforce accepts it, and so does the sandbox.
        if let number = try? container.decode(Double.self, forKey: .exp) {
            exp = number
        } else if let text = try? container.decode(String.self, forKey: .exp), let number = Double(text) {
            exp = number
        } else {
            throw DecodingError.dataCorruptedError(forKey: .exp, in: container, debugDescription: "exp is not a number")
        }
        jti = try container.decodeIfPresent(String.self, forKey: .jti)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(iss, forKey: .iss)
        try container.encode(sub, forKey: .sub)
        try container.encode(aud, forKey: .aud)
        try container.encode(exp, forKey: .exp)
        try container.encodeIfPresent(jti, forKey: .jti)
    }

    /// Claims are checked by the token endpoints against the sandbox clock, not here.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Why an assertion was refused, in words safe to return to the client and to log.
struct AssertionError: Error, Sendable, Equatable {
    var reason: String
}

/// Verifies a compact JWS against one registered public key.
enum AssertionVerifier {
    /// The `alg` and `kid` of a token's header, without verifying anything.
    static func header(of token: String) -> (alg: String, kid: String?)? {
        guard let first = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = Data(base64URLEncoded: String(first)),
            let header = try? WireJSON.parse(Array(data)), let alg = header["alg"]?.stringValue
        else { return nil }
        return (alg, header["kid"]?.stringValue)
    }

    /// The claims of `token` if its signature verifies with `publicKeyPEM` under one of `algorithms`.
    static func verify(_ token: String, publicKeyPEM: String, algorithms: Set<String>) async throws(AssertionError)
        -> AssertionClaims
    {
        guard let (alg, kid) = header(of: token) else { throw AssertionError(reason: "the assertion is not a JWT") }
        guard algorithms.contains(alg) else {
            throw AssertionError(reason: "the assertion's alg \(alg) is not one of \(algorithms.sorted())")
        }
        let keys = JWTKeyCollection()
        let identifier = kid.map { JWKIdentifier(string: $0) }
        do {
            switch alg {
            case "RS256", "RS384":
                let key = try Insecure.RSA.PublicKey(pem: publicKeyPEM)
                await keys.add(rsa: key, digestAlgorithm: alg == "RS256" ? .sha256 : .sha384, kid: identifier)
            case "ES384":
                await keys.add(ecdsa: try ES384PublicKey(pem: publicKeyPEM), kid: identifier)
            default:
                throw AssertionError(reason: "unsupported alg \(alg)")
            }
        } catch {
            throw AssertionError(reason: "the registered key cannot verify \(alg) assertions")
        }
        do {
            return try await keys.verify(token, as: AssertionClaims.self)
        } catch {
            throw AssertionError(reason: "the assertion's signature or claims are invalid")
        }
    }
}

extension Data {
    /// Decodes base64url without padding, as JWTs use it.
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        self.init(base64Encoded: base64)
    }
}
