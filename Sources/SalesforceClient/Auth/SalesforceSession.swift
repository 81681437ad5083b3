import Foundation
import StagelinkHTTP

/// A Salesforce access token with the instance it is valid on and the user it acts as.
struct SalesforceSession: BearerCredential {
    var accessToken: Secret
    /// Where API calls go: the token response's `instance_url`.
    var instanceURL: URL
    /// The integration user's id, the last segment of the token response's `id` URL.
    var userID: String
    /// Salesforce does not say when a session ends: it is renewed when refused.
    var expiresAt: Date? { nil }
}
