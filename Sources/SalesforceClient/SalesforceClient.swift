import Foundation
import Logging
import StagelinkEngine
import StagelinkHTTP
import Synchronization

/// The Salesforce REST API as the engine needs it: delta pulls by SOQL on `SystemModstamp`,
/// lookups by id, upserts through sObject Collections, within a share of the org's API limit.
///
/// The token lives in memory only and is renewed once when Salesforce answers 401
/// `INVALID_SESSION_ID`; every request, token requests and retries included, is counted in
/// ``meter``, which also keeps the last `Sforce-Limit-Info` usage.
///
/// For example:
///
/// ```swift
/// let salesforce = try await SalesforceClient(configuration: configuration, logger: logger)
/// let me = try await salesforce.integrationUserID()      // compared with LastModifiedById
/// let page = try await salesforce.page(
///     DeltaRequest(resourceType: "Admission__c", since: watermark, fields: ["Stage__c"], pageSize: 2000), after: nil)
/// let results = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: batch)
/// ```
///
/// ## Topics
/// - ``SalesforceConfiguration``
/// - ``SalesforceAuthentication``
/// - ``SOQLQuery``
public final class SalesforceClient: ChangeSource, RecordLookup, UpsertTarget, Sendable {
    public let system = SourceSystem.salesforce
    public let meter: APIMeter
    public let maxBatchSize: Int
    public let configuration: SalesforceConfiguration
    let http: HTTPClient
    let tokens: BearerTokenHolder<SalesforceSession>
    let logger: Logger
    /// Whether earlier Bulk API jobs of this integration user may still run: true at start (a
    /// previous process may have crashed inside one) and after a job was given up.
    let bulkJobsMayRun = Mutex(true)
    /// The Bulk API jobs this client has created and not finished with (the linker runs several at once).
    let bulkJobsRunning = Mutex(Set<String>())
    /// The Bulk API job creations this client has sent (`sent`), and how many of them have not
    /// been answered yet (`unanswered`): the org may list such a job `Open` before its creation's
    /// answer puts it in ``bulkJobsRunning``.
    let bulkJobCreations = Mutex((sent: 0, unanswered: 0))

    /// Reads the key or secret file named in `configuration` and checks the endpoints; asks for no
    /// token yet (the first call does).
    public init(configuration: SalesforceConfiguration, meter: APIMeter = APIMeter(), logger: Logger) async throws(ClientSetupError) {
        guard (0...1).contains(configuration.limitShare) else {
            throw .invalidSetting("salesforce.limit_share", "must be between 0 and 1")
        }
        guard (1...SalesforceConfiguration.collectionLimit).contains(configuration.upsertBatchSize) else {
            throw .invalidSetting("salesforce.upsert_batch_size", "must be between 1 and \(SalesforceConfiguration.collectionLimit)")
        }
        let http = HTTPClient(
            configuration: configuration.http, meter: meter,
            metering: SalesforceLimits(meter: meter, share: configuration.limitShare), logger: logger)
        let issuer = try await SalesforceTokenIssuer(configuration: configuration, http: http)
        self.configuration = configuration
        self.meter = meter
        self.maxBatchSize = configuration.upsertBatchSize
        self.http = http
        self.logger = logger
        self.tokens = BearerTokenHolder { () throws(RemoteCallError) -> SalesforceSession in try await issuer.issue() }
    }

    /// The integration user's id (`005…`), from the token's identity URL; the engine compares it
    /// with `LastModifiedById` to recognise its own writes.
    public func integrationUserID() async throws(RemoteCallError) -> String {
        try await tokens.credential().userID
    }

    /// Sends a request to the instance, renewing the session once if Salesforce refuses it, and
    /// reads the answer; any status other than 2xx becomes a ``RemoteCallError``.
    func call<Value>(
        _ build: (SalesforceSession) throws(RemoteCallError) -> HTTPRequest,
        decode: (HTTPResponse) throws(RemoteCallError) -> Value
    ) async throws(RemoteCallError) -> Value {
        try await http.send(authorizedBy: tokens, isStaleToken: SalesforceErrors.isExpiredSession, build) {
            (response) throws(RemoteCallError) -> Value in
            guard response.isSuccess else { throw SalesforceErrors.callError(response) }
            return try decode(response)
        }
    }

    /// `<instance>/services/data/<version>/<components…>`.
    func dataURL(_ session: SalesforceSession, _ components: [String]) throws(RemoteCallError) -> URL {
        try EndpointURL.appending(["services", "data", configuration.apiVersion] + components, to: session.instanceURL)
    }

    static let jsonHeaders: HTTPHeaders = ["Accept": "application/json", "Content-Type": "application/json"]
}
