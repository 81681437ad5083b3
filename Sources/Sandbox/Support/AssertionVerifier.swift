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
    /// The `alg`, `kid` and `jku` of a token's header, without verifying anything.
    static func header(of token: String) -> (alg: String, kid: String?, jku: String?)? {
        guard let first = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = Data(base64URLEncoded: String(first)),
            let header = try? WireJSON.parse(Array(data)), let alg = header["alg"]?.stringValue
        else { return nil }
        return (alg, header["kid"]?.stringValue, header["jku"]?.stringValue)
    }

    /// The public key an assertion is checked with: a registered PEM key, or a JWK from the
    /// client's JWK set (`kty` RSA with `n`/`e`, or EC P-384 with `x`/`y`).
    enum PublicKey: Sendable {
        case pem(String)
        case jwk(WireJSON)
    }

    /// The claims of `token` if its signature verifies with `publicKeyPEM` under one of `algorithms`.
    static func verify(_ token: String, publicKeyPEM: String, algorithms: Set<String>) async throws(AssertionError) -> AssertionClaims {
        try await verify(token, key: .pem(publicKeyPEM), algorithms: algorithms)
    }

    /// The claims of `token` if its signature verifies with `key` under one of `algorithms`.
    static func verify(_ token: String, key: PublicKey, algorithms: Set<String>) async throws(AssertionError) -> AssertionClaims {
        guard let (alg, kid, _) = header(of: token) else { throw AssertionError(reason: "the assertion is not a JWT") }
        guard algorithms.contains(alg) else {
            throw AssertionError(reason: "the assertion's alg \(alg) is not one of \(algorithms.sorted())")
        }
        let keys = JWTKeyCollection()
        let identifier = kid.map { JWKIdentifier(string: $0) }
        do {
            switch (alg, key) {
            case ("RS256", _), ("RS384", _):
                let rsa: Insecure.RSA.PublicKey
                switch key {
                case .pem(let pem): rsa = try Insecure.RSA.PublicKey(pem: pem)
                case .jwk(let jwk): rsa = try Insecure.RSA.PublicKey(modulus: jwk["n"]?.stringValue ?? "", exponent: jwk["e"]?.stringValue ?? "")
                }
                await keys.add(rsa: rsa, digestAlgorithm: alg == "RS256" ? .sha256 : .sha384, kid: identifier)
            case ("ES384", .pem(let pem)):
                await keys.add(ecdsa: try ES384PublicKey(pem: pem), kid: identifier)
            case ("ES384", .jwk(let jwk)):
                guard jwk["crv"]?.stringValue == "P-384" else { throw AssertionError(reason: "the key is not on P-384") }
                let point = (x: jwk["x"]?.stringValue ?? "", y: jwk["y"]?.stringValue ?? "")
                await keys.add(ecdsa: try ES384PublicKey(parameters: point), kid: identifier)
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
