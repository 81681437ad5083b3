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
    /// The JWT bearer assertion's `aud`; nil uses the audience Salesforce documents for the kind
    /// of `loginURL` (``SalesforceLoginHost/jwtAudience``).
    public var assertionAudience: String?
    /// The REST API version, `v60.0`.
    public var apiVersion: String
    public var http: HTTPConfiguration
    /// The share (0…1) of the org's daily API request limit at which calls stop with
    /// `RemoteCallError.Kind.limitReached`, leaving the rest of the limit to the org's other users.
    public var limitShare: Double
    /// Records per sObject Collections call, at most 200.
    public var upsertBatchSize: Int
    /// Above this many rows for one object in a cycle, upserts go through Bulk API 2.0 (0: never).
    public var bulkThreshold: Int = 10_000
    /// The first wait between polls of a Bulk API 2.0 job; it doubles up to 5 seconds.
    public var bulkPollInterval: Duration = .milliseconds(100)

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

    /// Why client credentials are refused at login.salesforce.com and test.salesforce.com.
    public static let clientCredentialsNeedMyDomain =
        "the client credentials flow works only at the org's My Domain (https://MyDomainName.my.salesforce.com, "
        + "see Setup > My Domain); login.salesforce.com and test.salesforce.com refuse it (Salesforce help article 000886201)"
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

/// The kind of host a Salesforce login URL names, and the sign-in rules Salesforce documents for
/// it (docs/salesforce-setup.md cites the sources).
///
/// - The JWT bearer assertion's `aud` is `https://login.salesforce.com` at the production login
///   host, `https://test.salesforce.com` at the sandbox one, the site's URL for an Experience Cloud
///   site, and the My Domain URL itself at a My Domain (what External Client Apps accept since
///   the legacy hostname redirections ended; a legacy connected app may still need
///   `salesforce.assertionAudience: https://login.salesforce.com`).
/// - The client credentials flow works at a My Domain only (Salesforce help article 000886201).
///
/// For example:
///
/// ```swift
/// SalesforceLoginHost(URL(string: "https://acme.my.salesforce.com")!).jwtAudience   // "https://acme.my.salesforce.com"
/// SalesforceLoginHost(URL(string: "https://test.salesforce.com")!).acceptsClientCredentials   // false
/// ```
public enum SalesforceLoginHost: Sendable, Hashable {
    /// `login.salesforce.com`.
    case production
    /// `test.salesforce.com`.
    case sandbox
    /// An Experience Cloud site: `*.my.site.com`, or a legacy `*.force.com` site (with its path).
    case experienceCloudSite(URL)
    /// The org's My Domain (`*.my.salesforce.com`, `*.sandbox.my.salesforce.com`), or any other
    /// host (a custom domain, the sandbox simulator on loopback).
    case myDomain(URL)

    public init(_ url: URL) {
        let host = url.host()?.lowercased() ?? ""
        switch host {
        case "login.salesforce.com": self = .production
        case "test.salesforce.com": self = .sandbox
        default:
            let legacySite = host.hasSuffix(".force.com") && !host.hasSuffix(".lightning.force.com") && !host.hasSuffix(".my.salesforce.com")
            self = host.hasSuffix(".my.site.com") || legacySite ? .experienceCloudSite(url) : .myDomain(url)
        }
    }

    /// The `aud` of a JWT bearer assertion posted to this host.
    public var jwtAudience: String {
        switch self {
        case .production: "https://login.salesforce.com"
        case .sandbox: "https://test.salesforce.com"
        case .experienceCloudSite(let url): Self.trimmed(url, keepingPath: true)
        case .myDomain(let url): Self.trimmed(url, keepingPath: false)
        }
    }

    /// Whether the client credentials flow works here.
    public var acceptsClientCredentials: Bool {
        if case .myDomain = self { return true }
        return false
    }

    /// `https://acme.my.site.com/customers` from `https://acme.my.site.com/customers/`, without
    /// query or fragment; the bare origin unless `keepingPath`.
    private static func trimmed(_ url: URL, keepingPath: Bool) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false) ?? URLComponents()
        components.path = keepingPath ? String(components.path.reversed().drop { $0 == "/" }.reversed()) : ""
        components.query = nil
        components.fragment = nil
        return components.string ?? url.absoluteString
    }
}
