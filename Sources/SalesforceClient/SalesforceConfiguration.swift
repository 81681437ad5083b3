import Foundation
import StagelinkHTTP

/// Everything the Salesforce client needs to start, as the CLI reads it from its YAML: where to
/// log in, how, which API version, the HTTP policy and the API budget.
///
/// Secrets are not in it: it names the files that hold them, read once when the client starts.
///
/// For example:
///
/// ```swift
/// var configuration = SalesforceConfiguration(
///     loginURL: URL(string: "https://login.salesforce.com")!,
///     authentication: .jwtBearer(consumerKey: "3MVG9…", username: "stagelink@example.org",
///                                privateKeyFile: "/etc/stagelink/salesforce.pem"))
/// configuration.limitShare = 0.8
/// let salesforce = try await SalesforceClient(configuration: configuration, logger: logger)
/// ```
public struct SalesforceConfiguration: Sendable, Hashable {
    /// Where tokens are asked for (`https://login.salesforce.com`, `https://test.salesforce.com`
    /// or the org's My Domain); API calls then go to the `instance_url` the token names.
    public var loginURL: URL
    public var authentication: SalesforceAuthentication
    /// The JWT bearer assertion's `aud`; nil uses `loginURL` (Salesforce wants
    /// `https://login.salesforce.com` or `https://test.salesforce.com` even behind a My Domain).
    public var assertionAudience: String?
    /// The REST API version, `v60.0`.
    public var apiVersion: String
    public var http: HTTPConfiguration
    /// The share (0…1) of the org's daily API request limit at which calls stop with
    /// `RemoteCallError.Kind.limitReached`, leaving the rest of the limit to the org's other users.
    public var limitShare: Double
    /// Records per sObject Collections call, at most 200.
    public var upsertBatchSize: Int

    public init(
        loginURL: URL, authentication: SalesforceAuthentication, assertionAudience: String? = nil, apiVersion: String = "v60.0",
        http: HTTPConfiguration = HTTPConfiguration(), limitShare: Double = 0.8, upsertBatchSize: Int = 200
    ) {
        self.loginURL = loginURL
        self.authentication = authentication
        self.assertionAudience = assertionAudience
        self.apiVersion = apiVersion
        self.http = http
        self.limitShare = limitShare
        self.upsertBatchSize = upsertBatchSize
    }

    /// The largest batch sObject Collections accepts.
    public static let collectionLimit = 200
}

/// How the client proves who it is to Salesforce.
public enum SalesforceAuthentication: Sendable, Hashable {
    /// OAuth 2.0 JWT bearer flow: an RS256 assertion (iss = consumer key, sub = username,
    /// aud = login URL) signed with the integration user's private key, read from a PEM file.
    case jwtBearer(consumerKey: String, username: String, privateKeyFile: String)
    /// OAuth 2.0 client credentials flow: the connected app's consumer key and the file holding
    /// its consumer secret (alone, on one line).
    case clientCredentials(consumerKey: String, consumerSecretFile: String)
}
