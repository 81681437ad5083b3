import StagelinkEngine

/// Why a token endpoint refused to sign in, in words an administrator can act on: the OAuth
/// `error` and `error_description` Salesforce and SMART token endpoints answer, mapped to their
/// cause and its fix (docs/check.md lists the sources).
///
/// For example:
///
/// ```swift
/// SignInRefusal.salesforce(LinkError(.oauthInvalidGrant, message: "user hasn't approved this consumer"))
/// // ("the integration user is not pre-authorized for the connected app", "In Setup > Connected Apps > …")
/// ```
enum SignInRefusal {
    /// The cause and the fix of a refusal by Salesforce's token endpoint.
    ///
    /// Salesforce help, "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration" and
    /// "OAuth 2.0 Client Credentials Flow": `invalid_client_id` (unknown consumer key),
    /// `invalid_grant` with `user hasn't approved this consumer` (Permitted Users is "Admin
    /// approved users are pre-authorized" and the user's profile or permission set is not
    /// assigned), `audience is invalid`, `invalid assertion` (the signature does not verify with
    /// the connected app's certificate), `expired authorization code` (the assertion's `exp` is
    /// past when it arrives: this host's clock is behind), `invalid_client` / `invalid client
    /// credentials`, `request not supported on this domain` (client credentials outside My
    /// Domain, help article 000886201) and `no client credentials user enabled` (no Run As user).
    static func salesforce(_ error: LinkError) -> (cause: String, fix: String) {
        let message = error.message.lowercased()
        switch (error.code, message) {
        case ("invalid_client_id", _):
            return (
                "Salesforce knows no connected app with this consumer key (\(error.code): \(error.message))",
                "Copy the consumer key from Setup > App Manager > the connected app > View into salesforce.auth.consumerKey."
            )
        case (_, let text) where text.contains("hasn't approved") || text.contains("not approved"):
            return (
                "the integration user is not pre-authorized for the connected app (\(error.message))",
                "Set the connected app's Permitted Users to \"Admin approved users are pre-authorized\" and assign it the integration user's profile or permission set."
            )
        case (_, let text) where text.contains("audience"):
            return (
                "the assertion's audience is not the one this login host accepts (\(error.message))",
                "Use https://login.salesforce.com or https://test.salesforce.com as salesforce.loginURL, or set salesforce.assertionAudience to the host the connected app expects."
            )
        case (_, let text) where text.contains("expired"):
            return (
                "the assertion had expired when it arrived: this host's clock is behind Salesforce's (\(error.message))",
                "Synchronise this host's clock (chrony or systemd-timesyncd)."
            )
        case (_, let text) where text.contains("invalid assertion") || text.contains("signature"):
            return (
                "the assertion's signature does not verify with the connected app's certificate: the key does not match it, or the certificate was replaced or expired (\(error.message))",
                "Upload the certificate of salesforce.auth.privateKeyFile to the connected app (Use digital signatures), or renew it if it expired."
            )
        case (_, let text) where text.contains("not supported on this domain"):
            return (
                "the client credentials flow works only at the org's My Domain (\(error.message))",
                "Set salesforce.loginURL to https://MyDomainName.my.salesforce.com."
            )
        case (_, let text) where text.contains("client credentials user"):
            return (
                "the connected app has no Run As user for the client credentials flow (\(error.message))",
                "In the connected app's policies, enable Client Credentials Flow and choose the integration user as Run As."
            )
        case ("invalid_client", _):
            return (
                "Salesforce refused the consumer key and secret (\(error.message))",
                "Copy the consumer secret into salesforce.auth.consumerSecretFile, and the key into salesforce.auth.consumerKey."
            )
        case (_, let text) where text.contains("inactive") || text.contains("not active"):
            return ("the integration user is inactive (\(error.message))", "Reactivate the integration user in Setup > Users.")
        default:
            return (
                "Salesforce refused to sign in (\(error.code): \(error.message))",
                "Check the connected app, the integration user and salesforce.auth against docs/salesforce-setup.md."
            )
        }
    }

    /// The cause and the fix of a refusal by a SMART Backend Services token endpoint (SMART App
    /// Launch 2, "Backend Services": `invalid_client` when the client or its key is unknown or
    /// the assertion does not verify, `invalid_scope`, `invalid_grant`).
    static func emr(_ error: LinkError, clientID: String, scope: String) -> (cause: String, fix: String) {
        let message = error.message.lowercased()
        switch (error.code, message) {
        case ("SCOPE_REFUSED", _):
            return (error.message, "Ask the EHR's administrator to authorise those scopes for client \(clientID), or set emr.scope to ask for less.")
        case ("invalid_scope", _):
            return (
                "the EHR refused the scopes asked for (\(error.message))",
                "Ask the EHR's administrator to authorise \(scope) for client \(clientID), or correct emr.scope."
            )
        case (_, let text) where text.contains("exp") || text.contains("expired") || text.contains("clock"):
            return (
                "the EHR refused the assertion's time: this host's clock is off (\(error.message))",
                "Synchronise this host's clock (chrony or systemd-timesyncd)."
            )
        case ("invalid_client", _):
            return (
                "the EHR does not know client \(clientID) or cannot verify its assertion with the registered key (\(error.message))",
                "Register the public key (stagelink keys jwks) under client \(clientID) with the EHR, and set emr.keyID to its kid if the EHR names another."
            )
        default:
            return (
                "the EHR refused to sign in (\(error.code): \(error.message))",
                "Check emr.clientID, emr.privateKeyFile and the client's registration with the EHR (docs/emr-profiles.md)."
            )
        }
    }
}
