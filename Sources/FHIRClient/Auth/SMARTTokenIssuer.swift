import Foundation
import Logging
import StagelinkEngine
import StagelinkHTTP
import Synchronization

/// An access token of SMART Backend Services, with when it expires.
struct SMARTToken: BearerCredential {
    var accessToken: Secret
    var expiresAt: Date?
    /// The scopes the token grants (its `scope`, or what was asked for when the answer names none).
    var grantedScope: String
}

/// SMART Backend Services: discovers the token endpoint from
/// `<base>/.well-known/smart-configuration`, then asks it for a token with `client_credentials`
/// and a signed JWT `client_assertion` (iss = sub = client id, aud = token URL, a fresh jti,
/// `kid` always, `jku` when a JWK set URL is configured), following SMART App Launch 2's
/// `client-confidential-asymmetric` profile.
///
/// An assertion lives at most five minutes (the profile's limit on `exp`), measured on the
/// host's clock. When the token endpoint refuses an assertion and its `Date` header says the
/// host's clock is off, the issuer corrects its clock by the difference once, says so in the
/// log, and asks again with a new assertion; the correction is kept for later assertions.
final class SMARTTokenIssuer: Sendable {
    let baseURL: URL
    let clientID: String
    let scope: String
    let lifetime: Duration
    let signer: AssertionSigner
    let http: HTTPClient
    let logger: Logger
    /// The host's clock (tests give it a skew).
    let hostClock: @Sendable () -> Date
    private let tokenURL = Mutex<URL?>(nil)
    /// The token endpoint's time minus the host's, once a refusal showed a difference.
    private let clockCorrection = Mutex<TimeInterval?>(nil)

    /// Differences smaller than this are not a clock problem (`Date` has whole seconds, and the
    /// answer took some time to arrive).
    static let clockTolerance: TimeInterval = 5

    init(
        configuration: FHIRConfiguration, baseURL: URL, http: HTTPClient, logger: Logger, hostClock: @escaping @Sendable () -> Date = { Date() }
    ) async throws(ClientSetupError) {
        guard configuration.signingAlgorithm != .rs256 else {
            throw .invalidSetting("emr.algorithm", "SMART Backend Services takes RS384 or ES384")
        }
        guard configuration.assertionLifetime > .zero, configuration.assertionLifetime <= .seconds(300) else {
            throw .invalidSetting("emr.assertionLifetime", "must be more than zero and at most five minutes")
        }
        self.baseURL = baseURL
        self.clientID = configuration.clientID
        self.scope = configuration.scope
        self.lifetime = configuration.assertionLifetime
        self.http = http
        self.logger = logger
        self.hostClock = hostClock
        var signer = try await AssertionSigner(privateKeyFile: configuration.privateKeyFile, algorithm: configuration.signingAlgorithm)
        signer.keyID = configuration.keyID ?? signer.publicJWK.thumbprint
        if let jwksURL = configuration.jwksURL {
            signer.jwkSetURL = try EndpointURL.validated(jwksURL, setting: "emr.jwksURL")
        }
        self.signer = signer
    }

    /// A new token.
    func issue() async throws(RemoteCallError) -> SMARTToken {
        let endpoint = try await tokenEndpoint()
        switch try await ask(endpoint) {
        case .granted(let token):
            return token
        case .refused(let response):
            guard clockCorrection.withLock({ $0 == nil }), let serverTime = Self.serverTime(response) else {
                throw refusal(response)
            }
            let difference = serverTime.timeIntervalSince(hostClock())
            guard abs(difference) >= Self.clockTolerance else { throw refusal(response) }
            clockCorrection.withLock { $0 = difference }
            logger.warning(
                "the EMR's token endpoint refused the assertion and its clock differs from this host's; signing with its time from now on",
                metadata: ["auth.clock_offset_seconds": "\(Int(difference.rounded()))", "auth.oauth_error": "\(Self.errorCode(response))"])
            switch try await ask(endpoint) {
            case .granted(let token): return token
            case .refused(let response): throw refusal(response)
            }
        }
    }

    private enum Answer {
        case granted(SMARTToken)
        case refused(HTTPResponse)
    }

    /// One token request with a fresh assertion.
    private func ask(_ endpoint: URL) async throws(RemoteCallError) -> Answer {
        let now = hostClock().addingTimeInterval(clockCorrection.withLock { $0 } ?? 0)
        let claims = JWTAssertionClaims(issuer: clientID, subject: clientID, audience: endpoint.absoluteString, lifetime: lifetime, now: now)
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
        let requested = hostClock()
        let scope = self.scope
        return try await http.send(request) { (response) throws(RemoteCallError) -> Answer in
            guard response.isSuccess else { return .refused(response) }
            return .granted(try Self.token(from: response, requestedAt: requested, scope: scope))
        }
    }

    /// The refusal as the error that stops the job; an `invalid_scope` names what was asked for.
    private func refusal(_ response: HTTPResponse) -> RemoteCallError {
        var error = OAuthRefusal.error(response)
        if error.error.code == ErrorCode.oauthInvalidScope.rawValue {
            error.error.message = "the EMR refused the scope \"\(scope)\": \(error.error.message)"
        }
        return error
    }

    static func token(from response: HTTPResponse, requestedAt: Date, scope: String) throws(RemoteCallError) -> SMARTToken {
        let body = try? JSONValue(parsing: response.body)
        guard let token = body?["access_token"]?.stringValue, !token.isEmpty else {
            throw FHIRErrors.malformed("the token response has no access_token")
        }
        // RFC 6749 §5.1: a response without `scope` granted what was asked for.
        if let granted = body?["scope"]?.stringValue {
            let refused = SMARTScope.refused(scope, granted: granted)
            guard refused.isEmpty else {
                throw RemoteCallError(
                    .unauthorized,
                    LinkError(
                        .scopeRefused,
                        message: "the EMR did not grant \(refused.joined(separator: " ")) (it granted \"\(granted)\"); "
                            + "the EHR's administrator must authorise them for this client, or emr.scope must ask for less",
                        remoteBody: response.bodyText))
            }
        }
        var expiresAt: Date?
        if case .number(let lexeme)? = body?["expires_in"], let seconds = Double(lexeme) {
            expiresAt = requestedAt.addingTimeInterval(seconds)
        }
        return SMARTToken(accessToken: Secret(token), expiresAt: expiresAt, grantedScope: body?["scope"]?.stringValue ?? scope)
    }

    /// The time in the answer's `Date` header (RFC 9110 IMF-fixdate).
    static func serverTime(_ response: HTTPResponse) -> Date? {
        guard let text = response.headers["Date"] else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    private static func errorCode(_ response: HTTPResponse) -> String {
        (try? JSONValue(parsing: response.body))?["error"]?.stringValue ?? ErrorCode.httpStatus(response.status)
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
                throw RemoteCallError(.unauthorized, LinkError(.insecureTokenEndpoint, message: error.description))
            }
        }
        tokenURL.withLock { $0 = endpoint }
        return endpoint
    }
}
