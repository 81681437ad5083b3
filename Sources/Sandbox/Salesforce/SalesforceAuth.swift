import Crypto
import Foundation
import Hummingbird

/// The OAuth 2.0 token endpoint: JWT bearer (RS256, checking iss, sub, aud and exp) and client credentials.
/// The answer has Salesforce's shape, with no `expires_in`.
///
/// The simulator serves two hosts, each on its own port (docs/salesforce-setup.md cites the rules):
/// the generic login host (login.salesforce.com, `Sandbox.salesforceLoginURL`), which serves the
/// token endpoint only, and the org's My Domain (`Sandbox.salesforceURL`, also the `instance_url`).
/// - JWT bearer: the login host accepts `aud` `https://login.salesforce.com` (or its own URL, which
///   stands for it); the My Domain accepts its own URL, as External Client Apps require since the
///   legacy hostname redirections ended, plus `SandboxConfiguration.salesforceAudiences` (a legacy
///   connected app's). Anything else is `invalid_grant` / `audience is invalid`. A user the
///   connected app is not pre-authorized for gets `invalid_grant` / `user hasn't approved this consumer`.
/// - Client credentials work at the My Domain only; the login host answers `invalid_grant` /
///   `request not supported on this domain` (help article 000886201).
struct SalesforceAuth: Sendable {
    let world: SandboxWorld
    let host: Host

    /// Which host the token endpoint plays.
    enum Host: Sendable, Equatable {
        case login
        case myDomain
    }

    init(world: SandboxWorld, host: Host = .myDomain) {
        self.world = world
        self.host = host
    }

    private struct OAuthFailure: Error {
        var error: String
        var description: String
    }

    func token(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let form = FormEncoding.dictionary(String(decoding: try await HTTPReply.body(of: request, context: context), as: UTF8.self))
        do {
            let user: SalesforceIntegrationUser
            switch form["grant_type"] {
            case "urn:ietf:params:oauth:grant-type:jwt-bearer":
                user = try await jwtBearer(form["assertion"] ?? "")
            case "client_credentials":
                guard host == .myDomain else {
                    throw OAuthFailure(error: "invalid_grant", description: "request not supported on this domain")
                }
                user = try clientCredentials(form, authorization: request.headers[.authorization])
            default:
                throw OAuthFailure(error: "unsupported_grant_type", description: "grant type not supported")
            }
            return issue(for: user)
        } catch let failure as OAuthFailure {
            let body: WireJSON = ["error": .string(failure.error), "error_description": .string(failure.description)]
            return HTTPReply.json(body, status: .badRequest)
        }
    }

    private func jwtBearer(_ assertion: String) async throws -> SalesforceIntegrationUser {
        guard let unverified = AssertionVerifier.header(of: assertion), unverified.alg == "RS256" else {
            throw OAuthFailure(error: "invalid_grant", description: "invalid assertion")
        }
        let payload = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard payload.count == 3, let claimsData = Data(base64URLEncoded: String(payload[1])),
            let claims = try? WireJSON.parse(Array(claimsData)), let issuer = claims["iss"]?.stringValue,
            let subject = claims["sub"]?.stringValue
        else { throw OAuthFailure(error: "invalid_grant", description: "invalid assertion") }
        guard
            let user = world.configuration.salesforceUsers.first(where: {
                $0.consumerKey == issuer && $0.username.lowercased() == subject.lowercased()
            }), let key = user.publicKeyPEM
        else { throw OAuthFailure(error: "invalid_client_id", description: "client identifier invalid") }
        let verified: AssertionClaims
        do {
            verified = try await AssertionVerifier.verify(assertion, publicKeyPEM: key, algorithms: ["RS256"])
        } catch {
            throw OAuthFailure(error: "invalid_grant", description: "invalid assertion")
        }
        let audiences: Set<String> =
            switch host {
            case .login: ["https://login.salesforce.com", world.salesforceLoginURL]
            case .myDomain: Set(world.configuration.salesforceAudiences + [world.salesforceBaseURL])
            }
        guard verified.aud.count == 1, audiences.contains(verified.aud[0]) else {
            throw OAuthFailure(error: "invalid_grant", description: "audience is invalid")
        }
        guard Double(world.clock.now().milliseconds) / 1000 < verified.exp else {
            throw OAuthFailure(error: "invalid_grant", description: "expired authorization code")
        }
        guard user.preAuthorized else {
            throw OAuthFailure(error: "invalid_grant", description: "user hasn't approved this consumer")
        }
        return user
    }

    private func clientCredentials(_ form: [String: String], authorization: String?) throws -> SalesforceIntegrationUser {
        var clientID = form["client_id"]
        var secret = form["client_secret"]
        if let authorization, authorization.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))),
            let pair = String(data: decoded, encoding: .utf8), let colon = pair.firstIndex(of: ":")
        {
            clientID = String(pair[..<colon])
            secret = String(pair[pair.index(after: colon)...])
        }
        guard
            let user = world.configuration.salesforceUsers.first(where: {
                $0.consumerKey == clientID && $0.consumerSecret != nil && $0.consumerSecret == secret
            })
        else { throw OAuthFailure(error: "invalid_client", description: "invalid client credentials") }
        return user
    }

    private func issue(for user: SalesforceIntegrationUser) -> Response {
        let org = world.salesforce
        let userID = org.user(named: user.username, displayName: "Stagelink Integration")
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._")
        let token = String(org.organizationID.prefix(15)) + "!AQ"
            + String((0..<96).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
        org.openSession(token: token, userID: userID, username: user.username, lifetime: world.configuration.salesforceTokenLifetime)
        let base = world.salesforceBaseURL
        let identity = "\(base)/id/\(org.organizationID)/\(userID)"
        let issuedAt = String(world.clock.now().milliseconds)
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data((identity + issuedAt).utf8), using: SymmetricKey(data: world.signingSecret))
        let body: WireJSON = [
            "access_token": .string(token), "scope": "api", "instance_url": .string(base), "id": .string(identity),
            "token_type": "Bearer", "issued_at": .string(issuedAt), "signature": .string(Data(mac).base64EncodedString()),
        ]
        return HTTPReply.json(body)
    }

    /// `GET /id/{org}/{user}`: the identity behind a token.
    func identity(_ request: Request, context: SandboxRequestContext) throws -> Response {
        let userID = context.parameters.get("user") ?? ""
        let store = world.salesforce.store
        guard let user = store.records[userID], user.object == "User" else {
            throw SalesforceAPIError(status: 404, [.notFound])
        }
        return HTTPReply.json([
            "id": .string("\(world.salesforceBaseURL)/id/\(world.salesforce.organizationID)/\(userID)"),
            "user_id": .string(userID), "organization_id": .string(world.salesforce.organizationID),
            "username": user["Username"], "display_name": user["Name"], "active": true,
        ])
    }
}
