import Foundation
import Hummingbird

/// SMART Backend Services: the discovery document and the token endpoint that takes a client assertion
/// (RS384 or ES384) signed with the registered client's key.
struct SMARTAuth: Sendable {
    let world: SandboxWorld

    var tokenURL: String { world.fhirBaseURL + "/auth/token" }

    func configuration() -> Response {
        HTTPReply.json([
            "issuer": .string(world.fhirBaseURL), "token_endpoint": .string(tokenURL),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["system/*.read", "system/*.write", "system/*.rs", "system/*.cruds"],
            "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
        ])
    }

    private func failure(_ error: String, _ description: String) -> Response {
        HTTPReply.json(["error": .string(error), "error_description": .string(description)], status: .badRequest)
    }

    func token(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let form = FormEncoding.dictionary(
            String(decoding: try await HTTPReply.body(of: request, context: context), as: UTF8.self))
        guard form["grant_type"] == "client_credentials" else {
            return failure("unsupported_grant_type", "grant_type must be client_credentials")
        }
        guard form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            let assertion = form["client_assertion"]
        else { return failure("invalid_request", "a jwt-bearer client_assertion is required") }
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64URLEncoded: String(parts[1])),
            let unverified = try? WireJSON.parse(Array(data)), let issuer = unverified["iss"]?.stringValue,
            let client = world.configuration.fhirClients.first(where: { $0.clientID == issuer })
        else { return failure("invalid_client", "unknown client") }
        let claims: AssertionClaims
        do {
            claims = try await AssertionVerifier.verify(
                assertion, publicKeyPEM: client.publicKeyPEM, algorithms: ["RS384", "ES384"])
        } catch {
            return failure("invalid_client", error.reason)
        }
        guard claims.iss == client.clientID, claims.sub == client.clientID else {
            return failure("invalid_client", "iss and sub must both be the client id")
        }
        guard claims.aud.contains(tokenURL) else { return failure("invalid_client", "aud must be the token URL") }
        let now = Double(world.clock.now().milliseconds) / 1000
        guard claims.exp > now else { return failure("invalid_client", "the assertion has expired") }
        guard claims.exp <= now + 300 else { return failure("invalid_client", "exp is more than five minutes ahead") }
        guard let jti = claims.jti, world.emr.useAssertionID("\(client.clientID)|\(jti)") else {
            return failure("invalid_client", "the assertion needs a jti not used before")
        }
        let requested = (form["scope"] ?? "system/*.read").split(separator: " ").map(String.init)
        let granted = requested.filter { scope in
            client.allowedScopes.contains(scope) || client.allowedScopes.contains { Self.covers($0, scope) }
        }
        guard !granted.isEmpty else { return failure("invalid_scope", "none of the requested scopes is allowed") }
        var random = SystemRandomNumberGenerator()
        let token = (0..<40).map { _ in String(random.next() % 36, radix: 36) }.joined()
        let lifetime = world.configuration.fhirTokenLifetime
        world.emr.openSession(token: token, clientID: client.clientID, scopes: granted, lifetime: lifetime)
        return HTTPReply.json([
            "access_token": .string(token), "token_type": "bearer", "expires_in": .int(Int(lifetime.components.seconds)),
            "scope": .string(granted.joined(separator: " ")),
        ])
    }

    /// Whether an allowed scope (`system/*.read`) covers a requested one (`system/Patient.read`, `system/Patient.rs`).
    static func covers(_ allowed: String, _ requested: String) -> Bool {
        guard let (allowedType, allowedAccess) = split(allowed), let (type, access) = split(requested),
            allowedType == "*" || allowedType == type
        else { return false }
        return permissions(allowedAccess).isSuperset(of: permissions(access))
    }

    /// Whether `scopes` allow `access` (`r`, `s`, `c`, `u`) on `type`.
    static func allows(_ scopes: [String], _ access: Character, on type: String) -> Bool {
        scopes.contains { scope in
            guard let (scopeType, scopeAccess) = split(scope) else { return false }
            return (scopeType == "*" || scopeType == type) && permissions(scopeAccess).contains(access)
        }
    }

    private static func split(_ scope: String) -> (String, String)? {
        guard scope.hasPrefix("system/"), let dot = scope.lastIndex(of: ".") else { return nil }
        return (String(scope[scope.index(scope.startIndex, offsetBy: 7)..<dot]), String(scope[scope.index(after: dot)...]))
    }

    private static func permissions(_ access: String) -> Set<Character> {
        switch access {
        case "read": return ["r", "s"]
        case "write": return ["c", "u", "d"]
        case "*": return ["c", "r", "u", "d", "s"]
        default: return Set(access)
        }
    }
}

