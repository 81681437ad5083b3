import Crypto
import Foundation
import StagelinkEngine

/// The public half of a signing key as a JSON Web Key (RFC 7517), with its RFC 7638 thumbprint:
/// what an EHR is given (inside a JWK set, usually hosted at a URL) to check the client
/// assertions that key signs.
///
/// SMART's `client-confidential-asymmetric` profile wants "bare key" members (`n`/`e` for RSA,
/// `crv`/`x`/`y` for EC) and a `kid` unique in the set; Stagelink's `kid` is the thumbprint, so
/// that it follows from the key itself and changes when the key does.
///
/// For example:
///
/// ```swift
/// let signer = try await AssertionSigner(privateKeyFile: "emr-es384.pem", algorithm: .es384)
/// signer.publicJWK.thumbprint       // "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
/// JSONWriter.compactString(signer.publicJWK.json())  // {"crv":"P-384","kty":"EC","x":…,"kid":…,"alg":"ES384","use":"sig"}
/// ```
public struct PublicJWK: Sendable, Hashable {
    /// The members RFC 7638 hashes, by name: `crv`/`kty`/`x`/`y` or `e`/`kty`/`n`.
    public let required: [String: String]
    /// The JWS algorithm the key signs with (`ES384`, `RS384`).
    public let algorithm: String

    /// An EC key on P-384, from the base64url coordinates.
    public static func ec(x: String, y: String, algorithm: String) -> PublicJWK {
        PublicJWK(required: ["crv": "P-384", "kty": "EC", "x": x, "y": y], algorithm: algorithm)
    }

    /// An RSA key from its big-endian modulus and exponent.
    public static func rsa(modulus: Data, exponent: Data, algorithm: String) -> PublicJWK {
        PublicJWK(required: ["e": base64URL(exponent), "kty": "RSA", "n": base64URL(modulus)], algorithm: algorithm)
    }

    /// `EC` or `RSA`.
    public var keyType: String { required["kty"] ?? "" }

    /// RFC 7638: SHA-256 over the required members, in lexicographic order, with no whitespace,
    /// base64url without padding.
    public var thumbprint: String {
        let members = required.keys.sorted().map { "\"\($0)\":\"\(required[$0]!)\"" }.joined(separator: ",")
        return Self.base64URL(Data(SHA256.hash(data: Data("{\(members)}".utf8))))
    }

    /// The JWK with its `kid` (the thumbprint unless told), `alg`, and `use: sig`.
    public func json(keyID: String? = nil) -> JSONValue {
        var members = required.keys.sorted().map { JSONObject.Member(key: $0, value: .string(required[$0]!)) }
        members += [
            .init(key: "kid", value: .string(keyID ?? thumbprint)), .init(key: "alg", value: .string(algorithm)),
            .init(key: "use", value: .string("sig")),
        ]
        return .object(JSONObject(members))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
