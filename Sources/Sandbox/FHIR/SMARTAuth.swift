import Foundation
import Hummingbird

/// SMART Backend Services: the discovery document and the token endpoint that takes a client assertion
/// (RS384 or ES384) signed with the registered client's key, as SMART App Launch 2's
/// `client-confidential-asymmetric` profile and "Scopes for requesting clinical data" describe it.
///
/// Every profile checks the signature, `iss` = `sub` = a registered client id, `aud` = the token
/// URL, an `exp` in the future and at most five minutes ahead ("SHALL be no more than five
/// minutes in the future"), and a `jti` not seen before. `SandboxConfiguration.smartRules` adds
/// the stricter rules of certified EHRs: `kid` required and looked up in the client's JWK set,
/// v2 scopes only, grants per resource type.
struct SMARTAuth: Sendable {
    let world: SandboxWorld

    var tokenURL: String { world.fhirBaseURL + "/auth/token" }
    private var rules: SMARTRules { world.configuration.smartRules.union(world.configuration.emrProfile.smartRules) }

    func configuration() -> Response {
        let v2Only = rules.contains(.v2ScopesOnly)
        let scopes: [WireJSON] =
            rules.contains(.perResourceGrants)
            ? EMRStore.resourceTypes.flatMap { ["system/\($0).rs", "system/\($0).cud"] }.map(WireJSON.string)
            : (v2Only ? ["system/*.rs", "system/*.cruds"] : ["system/*.read", "system/*.write", "system/*.rs", "system/*.cruds"])
        return HTTPReply.json([
            "issuer": .string(world.fhirBaseURL), "token_endpoint": .string(tokenURL),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": .array(scopes),
            "capabilities": .array((v2Only ? ["client-confidential-asymmetric", "permission-v2"]
                : ["client-confidential-asymmetric", "permission-v1", "permission-v2"]).map(WireJSON.string)),
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
            claims = try await AssertionVerifier.verify(assertion, key: try await key(of: client, for: assertion), algorithms: ["RS384", "ES384"])
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
        let requested = (form["scope"] ?? "system/*.rs").split(separator: " ").map(String.init)
        if rules.contains(.v2ScopesOnly), let v1 = requested.first(where: Self.isV1) {
            return failure("invalid_scope", "\(v1) is a SMART v1 scope; this server grants SMART v2 scopes only (system/Patient.rs, system/Patient.cu)")
        }
        let granted = requested.filter { scope in
            guard !(rules.contains(.perResourceGrants) && scope.hasPrefix("system/*.")) else { return false }
            return client.allowedScopes.contains(scope) || client.allowedScopes.contains { Self.covers($0, scope) }
        }
        guard !granted.isEmpty else { return failure("invalid_scope", "none of the requested scopes is allowed: \(requested.joined(separator: " "))") }
        var random = SystemRandomNumberGenerator()
        let token = (0..<40).map { _ in String(random.next() % 36, radix: 36) }.joined()
        let lifetime = world.configuration.fhirTokenLifetime
        world.emr.openSession(token: token, clientID: client.clientID, scopes: granted, lifetime: lifetime)
        return HTTPReply.json([
            "access_token": .string(token), "token_type": "bearer", "expires_in": .int(Int(lifetime.components.seconds)),
            "scope": .string(granted.joined(separator: " ")),
        ])
    }

    /// The key that checks `assertion`: from the client's JWK set by `kid` when the sandbox has one
    /// (`fhirJWKS`) or requires `kid`, else the registered PEM key.
    private func key(of client: FHIRBackendClient, for assertion: String) async throws(AssertionError) -> AssertionVerifier.PublicKey {
        guard let header = AssertionVerifier.header(of: assertion) else { throw AssertionError(reason: "the assertion is not a JWT") }
        let keySet: ClientKeySet
        if let source = world.configuration.fhirJWKS {
            keySet = ClientKeySet(source: source)
        } else if rules.contains(.requireKeyID) {
            do {
                keySet = ClientKeySet(keys: try ClientKeySet.jwks(publicKeyPEM: client.publicKeyPEM, alg: header.alg))
            } catch {
                throw AssertionError(reason: "the registered key cannot verify \(header.alg) assertions")
            }
        } else {
            return .pem(client.publicKeyPEM)
        }
        return .jwk(try await keySet.key(kid: header.kid, alg: header.alg, jku: header.jku))
    }

    /// Whether `scope` is in SMART v1 syntax (`system/Patient.read`, `.write`, `.*`).
    static func isV1(_ scope: String) -> Bool {
        guard let (_, access) = split(scope) else { return false }
        return access == "read" || access == "write" || access == "*"
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

