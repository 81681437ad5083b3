import Foundation
import Logging
import Synchronization
import StagelinkEngine
import StagelinkHTTP

/// A FHIR R4 server as the engine needs it: delta pulls by `_lastUpdated` search, conditional
/// creates, versioned updates and reads, authorised by SMART Backend Services.
///
/// The token lives in memory only, is replaced shortly before it expires and once when the
/// server answers 401; every request, token and discovery requests and retries included, is
/// counted in ``meter``.
///
/// For example:
///
/// ```swift
/// let emr = try await FHIRClient(configuration: configuration, logger: logger)
/// let page = try await emr.page(DeltaRequest(resourceType: "Patient", since: watermark, pageSize: 200), after: nil)
/// let created = try await emr.createIfNoneExist(
///     resourceType: "Patient", identifier: ResourceIdentifier(system: "https://stagelink.example/sf", value: "003xx"),
///     resource: patientBytes)
/// ```
///
/// ## Topics
/// - ``FHIRConfiguration``
public final class FHIRClient: ChangeSource, ResourceWriter, Sendable {
    public let system = SourceSystem.emr
    public let meter: APIMeter
    public let configuration: FHIRConfiguration
    let baseURL: URL
    let http: HTTPClient
    let tokens: BearerTokenHolder<SMARTToken>
    let logger: Logger
    /// The write modes read from the CapabilityStatement, once (`writeModes(for:)`).
    let capabilityModes = Mutex<[String: EMRWriteModes]?>(nil)
    /// Whether the CapabilityStatement lists the system interaction `batch`, read with the write modes.
    let capabilityBatch = Mutex<Bool?>(nil)

    /// Reads the private key file named in `configuration` and checks the base URL; asks for no
    /// token yet (the first call does, discovering the token endpoint first).
    public convenience init(configuration: FHIRConfiguration, meter: APIMeter = APIMeter(), logger: Logger) async throws(ClientSetupError) {
        try await self.init(configuration: configuration, meter: meter, logger: logger, hostClock: { Date() })
    }

    /// `hostClock` stands for this host's clock, so that tests can put it off the server's.
    init(
        configuration: FHIRConfiguration, meter: APIMeter = APIMeter(), logger: Logger, hostClock: @escaping @Sendable () -> Date
    ) async throws(ClientSetupError) {
        let baseURL = try EndpointURL.validated(configuration.baseURL, setting: "emr.baseURL")
        let http = HTTPClient(configuration: configuration.http, meter: meter, logger: logger)
        let issuer = try await SMARTTokenIssuer(configuration: configuration, baseURL: baseURL, http: http, logger: logger, hostClock: hostClock)
        self.configuration = configuration
        self.meter = meter
        self.baseURL = baseURL
        self.http = http
        self.logger = logger
        self.tokens = BearerTokenHolder(renewalMargin: configuration.tokenRenewalMargin) { () throws(RemoteCallError) -> SMARTToken in
            try await issuer.issue()
        }
    }

    /// Sends a request with the bearer token, renewing it once if the server refuses it.
    func call<Value>(
        _ request: HTTPRequest, decode: (HTTPResponse) throws(RemoteCallError) -> Value
    ) async throws(RemoteCallError) -> Value {
        try await http.send(authorizedBy: tokens, { _ in request }, decode: decode)
    }

    /// `<base>/<components…>`.
    func resourceURL(_ components: [String]) throws(RemoteCallError) -> URL {
        try EndpointURL.appending(components, to: baseURL)
    }

    static let fhirJSON = "application/fhir+json"
}
