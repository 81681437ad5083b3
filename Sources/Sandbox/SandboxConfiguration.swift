/// Everything a sandbox needs to start: where it listens, what it seeds, and whom it lets in.
///
/// Ports of 0 ask the system for free ones; `Sandbox.salesforceURL` and `Sandbox.fhirURL` tell which.
/// For example:
///
/// ```swift
/// let credentials = try SandboxCredentials.generate()
/// var configuration = SandboxConfiguration(credentials: credentials)
/// configuration.patientCount = 500
/// configuration.badShare = 0.1
/// let sandbox = try await Sandbox.start(configuration)
/// ```
///
/// ## Topics
/// - ``SalesforceIntegrationUser``
/// - ``FHIRBackendClient``
/// - ``SandboxCredentials``
public struct SandboxConfiguration: Sendable {
    /// The address both servers bind, loopback unless told otherwise.
    public var host: String = "127.0.0.1"
    /// The Salesforce simulator's port; 0 picks a free one.
    public var salesforcePort: Int = 0
    /// The FHIR simulator's port; 0 picks a free one.
    public var fhirPort: Int = 0
    /// The seed number: the same seed gives the same records, ids and fault decisions.
    public var seed: UInt64 = 1
    /// How many EMR patients the seed makes.
    public var patientCount: Int = 200
    /// How many referral Contacts (with admissions) the seed puts in Salesforce; nil is a quarter of the patients.
    public var referralCount: Int? = nil
    /// The share (0...1) of seeded records that are bad on purpose. Above 0, every kind of bad record appears.
    public var badShare: Double = 0.05
    /// How many PHQ-9 / GAD-7 responses each good patient gets (drawn from this range).
    public var assessmentsPerPatient: ClosedRange<Int> = 0...2
    /// How long a Salesforce session token stays valid.
    public var salesforceTokenLifetime: Duration = .seconds(7200)
    /// How long a FHIR access token stays valid.
    public var fhirTokenLifetime: Duration = .seconds(300)
    /// The org's daily API request limit, reported in `Sforce-Limit-Info`.
    public var dailyAPILimit: Int = 1_000_000
    /// The records a Salesforce query page holds at most.
    public var queryPageSize: Int = 2000
    /// How long an injected slow response waits before it answers.
    public var slowResponseDelay: Duration = .seconds(30)
    /// The `aud` values the simulated My Domain accepts in a JWT bearer assertion besides its own
    /// URL: none for an External Client App (the default), `https://login.salesforce.com` for a
    /// legacy connected app of a production org.
    public var salesforceAudiences: [String] = []
    /// The integration users the Salesforce token endpoint accepts.
    public var salesforceUsers: [SalesforceIntegrationUser] = []
    /// The SMART Backend Services clients the FHIR token endpoint accepts.
    public var fhirClients: [FHIRBackendClient] = []
    /// The SMART rules the FHIR token endpoint enforces beyond those every server has (a signed,
    /// unexpired, unreplayed assertion living at most five minutes); `.certified` is Epic's and
    /// Oracle Health's set.
    public var smartRules: SMARTRules = []
    /// The FHIR client's JWK set, a file or the http(s) URL it is hosted at (`--emr-jwks`): when
    /// set, assertions are checked with its key of the header's `kid` instead of the registered
    /// PEM key, and a `jku` header must be this URL.
    public var fhirJWKS: String? = nil
    /// The custom fields of the simulated org (the mapping file's Salesforce side).
    public var customFields: [CustomFieldSpec] = CustomFieldSpec.stagelinkDefaults
    /// Where the org keeps people, as the seed and the mutation driver write them: Contacts, or Person
    /// Accounts (Health Cloud). The custom fields must match (`CustomFieldSpec.fields(of:)` reads them
    /// from the mapping).
    public var people: SalesforcePeople = .contacts
    /// How often the mutation driver edits records once started; nil leaves it stopped.
    public var mutationInterval: Duration? = nil
    /// The share (0...1) of the mutation driver's changes that delete or merge a record instead of
    /// editing one: a Contact deleted or two merged in Salesforce, a Patient deleted or two merged in
    /// the EMR. 0 (the default) never deletes or merges.
    public var deletionShare: Double = 0
    /// Which kind of EHR the FHIR simulator behaves as.
    public var emrProfile: EMRProfile = .generic
    /// How Bulk Data exports behave (generic and certified profiles).
    public var bulkExport = BulkExportSettings()
    /// How long each simulator takes to answer (`--latency salesforce=150ms,emr=80ms`); none by default.
    public var latency = SandboxLatency()
    /// Salesforce's limit on concurrent long-running requests (25 of 20 s or longer).
    public var salesforceLongRequests = LongRequestLimit()
    /// The EMR's rate limit (`--emr-rate-limit`, requests per second): over it, 429 with
    /// `Retry-After`; nil has none.
    public var emrRateLimit: RequestRate? = nil

    /// A configuration with no clients registered.
    public init() {}

    /// A configuration that accepts the integration user and FHIR client of these credentials.
    public init(credentials: SandboxCredentials) {
        self.salesforceUsers = [credentials.salesforceUser]
        self.fhirClients = [credentials.fhirClient]
    }

    var effectiveReferralCount: Int { referralCount ?? max(1, patientCount / 4) }
}

/// A Salesforce integration user: a connected app's consumer key, the certificate key that
/// verifies its JWT bearer assertions, and optionally a consumer secret for client credentials.
///
/// For example:
///
/// ```swift
/// let user = SalesforceIntegrationUser(
///     username: "stagelink@example.org", consumerKey: "3MVG9-stagelink", publicKeyPEM: pem)
/// ```
public struct SalesforceIntegrationUser: Sendable, Hashable {
    /// The username the JWT's `sub` names.
    public var username: String
    /// The connected app's consumer key, the JWT's `iss` and the client id of client credentials.
    public var consumerKey: String
    /// The RSA public key (PEM) that verifies RS256 assertions; nil turns the JWT bearer flow off.
    public var publicKeyPEM: String?
    /// The consumer secret of the client credentials flow; nil turns that flow off.
    public var consumerSecret: String?
    /// Whether an administrator pre-authorized the user for the connected app (Permitted Users:
    /// "Admin approved users are pre-authorized", the user's profile or permission set assigned).
    /// The JWT bearer flow of a user who is not is refused: `invalid_grant`, "user hasn't approved
    /// this consumer" (Salesforce help, "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration").
    public var preAuthorized = true

    public init(username: String, consumerKey: String, publicKeyPEM: String? = nil, consumerSecret: String? = nil) {
        self.username = username
        self.consumerKey = consumerKey
        self.publicKeyPEM = publicKeyPEM
        self.consumerSecret = consumerSecret
    }
}

/// A SMART Backend Services client registered with the FHIR simulator.
///
/// For example:
///
/// ```swift
/// let client = FHIRBackendClient(clientID: "stagelink", publicKeyPEM: p384PublicKeyPEM)
/// ```
public struct FHIRBackendClient: Sendable, Hashable {
    /// The client id, the assertion's `iss` and `sub`.
    public var clientID: String
    /// The public key (PEM) that verifies assertions: RSA for RS384, P-384 for ES384.
    public var publicKeyPEM: String
    /// The scopes this client may be granted.
    public var allowedScopes: [String]

    public init(
        clientID: String, publicKeyPEM: String, allowedScopes: [String] = ["system/*.read", "system/*.write"]
    ) {
        self.clientID = clientID
        self.publicKeyPEM = publicKeyPEM
        self.allowedScopes = allowedScopes
    }
}

/// SMART App Launch 2 rules the FHIR simulator's token endpoint can enforce, each modelled on
/// `client-confidential-asymmetric` ("Authenticating to the Token endpoint", "Signature
/// Verification") and on "Scopes for requesting clinical data".
///
/// For example:
///
/// ```swift
/// var configuration = SandboxConfiguration(credentials: credentials)
/// configuration.smartRules = .certified
/// configuration.fhirJWKS = "/tmp/stagelink-sandbox/fhir-jwks.json"
/// ```
public struct SMARTRules: OptionSet, Sendable, Hashable {
    public let rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The assertion's header must name a `kid`, and the key is the one of that `kid` in the
    /// client's JWK set (`fhirJWKS`, or the set of its registered key under its RFC 7638
    /// thumbprint): the profile lists `kid` as required.
    public static let requireKeyID = SMARTRules(rawValue: 1 << 0)
    /// Only SMART v2 scopes (`system/Patient.rs`): a v1 scope (`.read`, `.write`, `.*`) is
    /// `invalid_scope`, and discovery does not advertise `permission-v1`.
    public static let v2ScopesOnly = SMARTRules(rawValue: 1 << 1)
    /// Access is granted per resource type: a wildcard scope (`system/*.rs`) is left out of the
    /// grant, which names each resource type it allows.
    public static let perResourceGrants = SMARTRules(rawValue: 1 << 2)

    /// What certified EHRs enforce (Epic, Oracle Health).
    public static let certified: SMARTRules = [.requireKeyID, .v2ScopesOnly, .perResourceGrants]
}
