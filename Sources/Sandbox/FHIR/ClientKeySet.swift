import Crypto
import Foundation
import JWTKit

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A SMART client's public keys as the FHIR simulator's authorization server holds them: the
/// JWK set given at registration, read from a file, or the set hosted at the client's registered
/// URL, fetched with `Accept: application/json` when an assertion arrives.
///
/// The key that checks an assertion is found the way SMART App Launch 2's
/// `client-confidential-asymmetric` profile ("Signature Verification") says: a `jku` header must
/// be the registered URL; the candidates are the keys whose `kid` is the header's and whose `kty`
/// fits the `alg` (`RSA` for RS384, `EC` for ES384); anything but exactly one is a failure.
///
/// For example:
///
/// ```swift
/// let keys = ClientKeySet(source: "https://client.example.org/jwks.json")
/// let key = try await keys.key(kid: "NzbLsXh8…", alg: "ES384", jku: nil)
/// ```
struct ClientKeySet: Sendable {
    private enum Registration: Sendable {
        case file(String)
        case url(URL)
        case given(WireJSON)
    }

    private let registration: Registration

    /// The set in a file, or hosted at an http(s) URL.
    init(source: String) {
        if let url = URL(string: source), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) {
            registration = .url(url)
        } else {
            registration = .file(source)
        }
    }

    /// A set given at registration and held in memory.
    init(keys: WireJSON) { registration = .given(keys) }

    /// The registered URL, when the set is hosted rather than given.
    var url: URL? {
        if case .url(let url) = registration { return url }
        return nil
    }

    /// The one key that checks an assertion with this header.
    func key(kid: String?, alg: String, jku: String?) async throws(AssertionError) -> WireJSON {
        if let jku, jku != url?.absoluteString {
            throw AssertionError(reason: "the jku header is not the JWK set URL registered for this client")
        }
        guard let kid else { throw AssertionError(reason: "the assertion's header has no kid") }
        let keyType = alg.hasPrefix("ES") ? "EC" : "RSA"
        let matches = try await keys().filter { $0["kid"]?.stringValue == kid && $0["kty"]?.stringValue == keyType }
        guard matches.count == 1 else {
            throw AssertionError(reason: "the client's JWK set has \(matches.count) \(keyType) keys with kid \(kid), not exactly one")
        }
        return matches[0]
    }

    private func keys() async throws(AssertionError) -> [WireJSON] {
        let set: WireJSON?
        switch registration {
        case .given(let keys):
            set = keys
        case .url(let url):
            var request = URLRequest(url: url, timeoutInterval: 10)
            request.setValue("application/json", forHTTPHeaderField: "Accept")
            guard let (data, response) = try? await URLSession.shared.data(for: request),
                (response as? HTTPURLResponse)?.statusCode == 200
            else { throw AssertionError(reason: "the client's JWK set could not be fetched from its registered URL") }
            set = try? WireJSON.parse(Array(data))
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AssertionError(reason: "the client's registered JWK set cannot be read")
            }
            set = try? WireJSON.parse(Array(data))
        }
        guard let keys = set?["keys"]?.arrayValue else {
            throw AssertionError(reason: "the client's JWK set is not a JSON object with keys")
        }
        return keys
    }

    /// The JWK set of one PEM public key (P-384 or RSA), under its RFC 7638 thumbprint: what a
    /// client registering that key would host.
    static func jwks(publicKeyPEM pem: String, alg: String) throws -> WireJSON {
        var members: [(String, String)]
        if alg.hasPrefix("ES") {
            guard let point = try ES384PublicKey(pem: pem).parameters else { throw AssertionError(reason: "not a P-384 key") }
            members = [("crv", "P-384"), ("kty", "EC"), ("x", point.x), ("y", point.y)]
        } else {
            let primitives = try Insecure.RSA.PublicKey(pem: pem).getKeyPrimitives()
            members = [("e", base64URL(primitives.publicExponent)), ("kty", "RSA"), ("n", base64URL(primitives.modulus))]
        }
        // RFC 7638 §3: the required members, sorted, no whitespace, hashed with SHA-256.
        let canonical = "{" + members.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
        members += [("kid", base64URL(Data(SHA256.hash(data: Data(canonical.utf8))))), ("alg", alg), ("use", "sig")]
        let key = WireJSON.object(WireObject(members.map { ($0.0, WireJSON.string($0.1)) }))
        return .object(WireObject([("keys", .array([key]))]))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
