import Foundation
import StagelinkEngine
import StagelinkHTTP

/// Asks Salesforce's token endpoint for a session, by JWT bearer assertion or client credentials.
struct SalesforceTokenIssuer: Sendable {
    enum Grant: Sendable {
        case jwtBearer(consumerKey: String, username: String, audience: String, signer: AssertionSigner)
        case clientCredentials(consumerKey: String, secret: Secret)
    }

    let tokenURL: URL
    let grant: Grant
    let http: HTTPClient
    let assertionLifetime: Duration

    init(configuration: SalesforceConfiguration, http: HTTPClient) async throws(ClientSetupError) {
        let loginURL = try EndpointURL.validated(configuration.loginURL, setting: "salesforce.loginURL")
        do throws(RemoteCallError) {
            tokenURL = try EndpointURL.appending(["services", "oauth2", "token"], to: loginURL)
        } catch {
            throw .invalidSetting("salesforce.loginURL", error.error.message)
        }
        self.http = http
        assertionLifetime = .seconds(180)
        switch configuration.authentication {
        case .jwtBearer(let consumerKey, let username, let keyFile):
            let signer = try await AssertionSigner(privateKeyFile: keyFile, algorithm: .rs256)
            let audience = configuration.assertionAudience ?? SalesforceLoginHost(loginURL).jwtAudience
            grant = .jwtBearer(consumerKey: consumerKey, username: username, audience: audience, signer: signer)
        case .clientCredentials(let consumerKey, let secretFile):
            guard SalesforceLoginHost(loginURL).acceptsClientCredentials else {
                throw .invalidSetting("salesforce.loginURL", SalesforceConfiguration.clientCredentialsNeedMyDomain)
            }
            let secret: String
            do {
                secret = try String(contentsOfFile: secretFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw .unreadableFile(secretFile, reason: "it does not exist or is not readable text")
            }
            guard !secret.isEmpty else { throw .unreadableFile(secretFile, reason: "it is empty") }
            // One line: a secret with a line break inside is a copy-paste mistake, and would be sent as two.
            guard !secret.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw .unreadableFile(secretFile, reason: "the secret must be one line without control characters")
            }
            grant = .clientCredentials(consumerKey: consumerKey, secret: Secret(secret))
        }
    }

    /// A new session.
    func issue() async throws(RemoteCallError) -> SalesforceSession {
        let fields: [(String, String)]
        let retry: HTTPRequest.RetrySafety
        switch grant {
        case .jwtBearer(let consumerKey, let username, let audience, let signer):
            let claims = JWTAssertionClaims(issuer: consumerKey, subject: username, audience: audience, lifetime: assertionLifetime)
            let assertion = try await signer.sign(claims)
            fields = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.reveal())]
            // An assertion is single-use: one the server may have seen is not sent again; the
            // next call asks anew with a fresh one.
            retry = .nonIdempotent
        case .clientCredentials(let consumerKey, let secret):
            fields = [("grant_type", "client_credentials"), ("client_id", consumerKey), ("client_secret", secret.reveal())]
            retry = .idempotent
        }
        let request = HTTPRequest(
            .post, url: tokenURL,
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: EndpointURL.formBody(fields), retry: retry)
        return try await http.send(request) { (response) throws(RemoteCallError) -> SalesforceSession in
            try Self.session(from: response)
        }
    }

    static func session(from response: HTTPResponse) throws(RemoteCallError) -> SalesforceSession {
        guard response.isSuccess else { throw OAuthRefusal.error(response) }
        let body = try? JSONValue(parsing: response.body)
        guard let token = body?["access_token"]?.stringValue, !token.isEmpty,
            let instance = body?["instance_url"]?.stringValue.flatMap(URL.init(string:)),
            let identity = body?["id"]?.stringValue.flatMap(URL.init(string:)), !identity.lastPathComponent.isEmpty
        else {
            throw RemoteCallError(
                .malformedResponse, LinkError(.malformedResponse, message: "the token response lacks access_token, instance_url or id"))
        }
        let instanceURL: URL
        do {
            instanceURL = try EndpointURL.validated(instance, setting: "the token's instance_url")
        } catch {
            throw RemoteCallError(.unauthorized, LinkError(.insecureInstanceURL, message: error.description))
        }
        return SalesforceSession(accessToken: Secret(token), instanceURL: instanceURL, userID: identity.lastPathComponent)
    }
}
