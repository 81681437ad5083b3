import Foundation
import StagelinkEngine
import StagelinkHTTP

/// Everything the FHIR client needs to start, as the CLI reads it from its YAML: the server's
/// base URL, the SMART Backend Services registration, the HTTP policy.
///
/// The private key is not in it: it names the PEM file, read once when the client starts.
///
/// For example:
///
/// ```swift
/// let configuration = FHIRConfiguration(
///     baseURL: URL(string: "https://emr.example.org/fhir/r4")!,
///     clientID: "stagelink-backend", privateKeyFile: "/etc/stagelink/fhir-es384.pem",
///     jwksURL: URL(string: "https://stagelink.example.org/.well-known/jwks.json"), scope: "system/Patient.rs system/Patient.cu")
/// let emr = try await FHIRClient(configuration: configuration, logger: logger)
/// ```
public struct FHIRConfiguration: Sendable, Hashable {
    /// The FHIR base; `<base>/.well-known/smart-configuration` names the token endpoint.
    public var baseURL: URL
    /// The registered client id: the assertion's `iss` and `sub`.
    public var clientID: String
    /// The PEM file of the private key whose public half the EMR holds.
    public var privateKeyFile: String
    /// `ES384` or `RS384`, the algorithms SMART Backend Services allows.
    public var signingAlgorithm: AssertionSigner.Algorithm
    /// The `kid` of the key in the JWK set registered with the EMR; nil sends the key's RFC 7638
    /// thumbprint, the `kid` that `stagelink keys jwks` publishes. Always sent.
    public var keyID: String?
    /// The URL of the JWK set registered with the EMR, sent as the assertion's `jku`; nil sends none
    /// (the server then uses the key set it was given at registration).
    public var jwksURL: URL?
    /// The scopes asked for, space-separated; a token that grants less is refused with the
    /// missing scopes named. The CLI derives SMART v2 scopes from the mapping (`SMARTScope.defaultScope`).
    public var scope: String
    /// How long an assertion is valid, at most five minutes.
    public var assertionLifetime: Duration
    /// How long before its expiry a token is replaced.
    public var tokenRenewalMargin: Duration
    public var http: HTTPConfiguration
    /// Origins other than the base URL's whose links (next pages) may be followed, with the bearer
    /// token: a server behind a proxy may name its other host name (`emr.allowedOrigins`).
    public var allowedOrigins: [URL] = []
    /// How resources are created and updated (`emr.writes`); what is nil is read from the server's
    /// CapabilityStatement.
    public var writes = FHIRWriteSettings()
    /// `emr.batchSize`: the most writes sent in one `batch` Bundle where the server offers `batch`;
    /// 1 sends each on its own.
    public var batchSize = FHIRConfiguration.defaultBatchSize
    /// The default of `emr.batchSize`.
    public static let defaultBatchSize = 50

    public init(
        baseURL: URL, clientID: String, privateKeyFile: String, signingAlgorithm: AssertionSigner.Algorithm = .es384,
        keyID: String? = nil, jwksURL: URL? = nil, scope: String = "system/*.rs system/*.cu", assertionLifetime: Duration = .seconds(240),
        tokenRenewalMargin: Duration = .seconds(30), http: HTTPConfiguration = HTTPConfiguration()
    ) {
        self.baseURL = baseURL
        self.clientID = clientID
        self.privateKeyFile = privateKeyFile
        self.signingAlgorithm = signingAlgorithm
        self.keyID = keyID
        self.jwksURL = jwksURL
        self.scope = scope
        self.assertionLifetime = assertionLifetime
        self.tokenRenewalMargin = tokenRenewalMargin
        self.http = http
    }
}

/// `emr.writes.create` and `emr.writes.update`; nil follows the server's CapabilityStatement.
public struct FHIRWriteSettings: Sendable, Hashable {
    public var create: EMRCreateMode?
    public var update: EMRUpdateMode?

    public init(create: EMRCreateMode? = nil, update: EMRUpdateMode? = nil) {
        self.create = create
        self.update = update
    }
}
