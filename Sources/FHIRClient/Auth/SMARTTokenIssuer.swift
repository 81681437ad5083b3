import Foundation
import StagelinkEngine
import StagelinkHTTP
import Synchronization

/// An access token of SMART Backend Services, with when it expires.
struct SMARTToken: BearerCredential {
    var accessToken: Secret
    var expiresAt: Date?
}

/// SMART Backend Services: discovers the token endpoint from
/// `<base>/.well-known/smart-configuration`, then asks it for a token with `client_credentials`
/// and a signed JWT `client_assertion` (iss = sub = client id, aud = token URL, a fresh jti).
final class SMARTTokenIssuer: Sendable {
    let baseURL: URL
    let clientID: String
    let scope: String
    let lifetime: Duration
    let signer: AssertionSigner
    let http: HTTPClient
    private let tokenURL = Mutex<URL?>(nil)

    init(configuration: FHIRConfiguration, baseURL: URL, http: HTTPClient) async throws(ClientSetupError) {
        guard configuration.signingAlgorithm != .rs256 else {
            throw .invalidSetting("fhir.signing_algorithm", "SMART Backend Services takes RS384 or ES384")
        }
        guard configuration.assertionLifetime > .zero, configuration.assertionLifetime <= .seconds(300) else {
            throw .invalidSetting("fhir.assertion_lifetime", "must be more than zero and at most five minutes")
        }
        self.baseURL = baseURL
        self.clientID = configuration.clientID
        self.scope = configuration.scope
        self.lifetime = configuration.assertionLifetime
        self.http = http
        self.signer = try await AssertionSigner(
            privateKeyFile: configuration.privateKeyFile, algorithm: configuration.signingAlgorithm, keyID: configuration.keyID)
    }

    /// A new token.
    func issue() async throws(RemoteCallError) -> SMARTToken {
        let endpoint = try await tokenEndpoint()
        let claims = JWTAssertionClaims(issuer: clientID, subject: clientID, audience: endpoint.absoluteString, lifetime: lifetime)
        let assertion = try await signer.sign(claims)
        let body = EndpointURL.formBody([
            ("grant_type", "client_credentials"), ("scope", scope),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.reveal()),
        ])
        // The assertion's jti is single-use: a request the server may have seen is not sent again.
        let request = HTTPRequest(
            .post, url: endpoint, headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: body, retry: .nonIdempotent)
        let requested = Date()
        return try await http.send(request) { (response) throws(RemoteCallError) -> SMARTToken in
            try Self.token(from: response, requestedAt: requested)
        }
    }

    static func token(from response: HTTPResponse, requestedAt: Date) throws(RemoteCallError) -> SMARTToken {
        guard response.isSuccess else { throw OAuthRefusal.error(response) }
        let body = try? JSONValue(parsing: response.body)
        guard let token = body?["access_token"]?.stringValue, !token.isEmpty else {
            throw FHIRErrors.malformed("the token response has no access_token")
        }
        var expiresAt: Date?
        if case .number(let lexeme)? = body?["expires_in"], let seconds = Double(lexeme) {
            expiresAt = requestedAt.addingTimeInterval(seconds)
        }
        return SMARTToken(accessToken: Secret(token), expiresAt: expiresAt)
    }

    /// The discovered token endpoint, asked for once.
    private func tokenEndpoint() async throws(RemoteCallError) -> URL {
        if let known = tokenURL.withLock({ $0 }) { return known }
        let url = try EndpointURL.appending([".well-known", "smart-configuration"], to: baseURL)
        let request = HTTPRequest(.get, url: url, headers: ["Accept": "application/json"], retry: .idempotent)
        let endpoint = try await http.send(request) { (response) throws(RemoteCallError) -> URL in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            guard let text = (try? JSONValue(parsing: response.body))?["token_endpoint"]?.stringValue, let found = URL(string: text) else {
                throw FHIRErrors.malformed("the SMART configuration names no token_endpoint")
            }
            do throws(ClientSetupError) {
                return try EndpointURL.validated(found, setting: "the SMART token_endpoint")
            } catch {
                throw RemoteCallError(.unauthorized, LinkError(code: "INSECURE_TOKEN_ENDPOINT", message: error.description))
            }
        }
        tokenURL.withLock { $0 = endpoint }
        return endpoint
    }
}
