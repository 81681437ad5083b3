import Logging
import Synchronization

/// Everything both simulators share: configuration, clock, ledger, faults, the org, the EMR and the seeded truth.
final class SandboxWorld: Sendable {
    let configuration: SandboxConfiguration
    let clock = SandboxClock()
    let ledger = WriteLedger()
    let faults: FaultInjector
    let salesforce: SalesforceOrg
    let emr: EMRStore
    /// The Bulk Data exports kicked off on the FHIR simulator.
    let exports = BulkExports()
    /// Alert deliveries under `/_sandbox/webhooks`.
    let webhooks = WebhookReceiver()
    let signingSecret: [UInt8]
    let logger: Logger
    /// Salesforce's requests running now, for its limit on concurrent long requests.
    let salesforceRequests: LongRequestGate
    /// The EMR's rate limit, when it has one.
    let emrRate: RateGate?
    private let driver = Mutex<MutationDriver?>(nil)
    private let truthRecords = Mutex<[SeededRecord]>([])
    private let baseURLs = Mutex<(salesforce: String, salesforceLogin: String, fhir: String)>(
        ("http://127.0.0.1", "http://127.0.0.1", "http://127.0.0.1/fhir"))

    init(configuration: SandboxConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        salesforceRequests = LongRequestGate(rule: configuration.salesforceLongRequests)
        emrRate = configuration.emrRateLimit.map { RateGate(rate: $0) }
        faults = FaultInjector(seed: configuration.seed)
        salesforce = SalesforceOrg(
            schema: SalesforceSchema(customFields: configuration.customFields), clock: clock, ledger: ledger,
            dailyLimit: configuration.dailyAPILimit, pageSize: configuration.queryPageSize)
        emr = EMRStore(clock: clock, ledger: ledger)
        var random = SystemRandomNumberGenerator()
        signingSecret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        seed()
    }

    /// The Salesforce simulator's base URL, `http://127.0.0.1:PORT`.
    var salesforceBaseURL: String { baseURLs.withLock { $0.salesforce } }

    /// The Salesforce simulator's generic login host (login.salesforce.com), `http://127.0.0.1:PORT`.
    var salesforceLoginURL: String { baseURLs.withLock { $0.salesforceLogin } }

    /// The FHIR simulator's base URL, `http://127.0.0.1:PORT/fhir`.
    var fhirBaseURL: String { baseURLs.withLock { $0.fhir } }

    func setBaseURLs(salesforce: String, salesforceLogin: String? = nil, fhir: String) {
        baseURLs.withLock { $0 = (salesforce, salesforceLogin ?? salesforce, fhir) }
    }

    /// The mutation driver over this world.
    var mutations: MutationDriver {
        driver.withLock { driver in
            if let driver { return driver }
            let made = MutationDriver(world: self, logger: logger)
            driver = made
            return made
        }
    }

    var truth: [SeededRecord] { truthRecords.withLock { $0 } }

    /// Empties both simulators, counters and faults, and seeds again from the same seed.
    func reset() {
        faults.reset()
        ledger.reset()
        salesforce.reset()
        emr.reset()
        exports.reset()
        seed()
    }

    private func seed() {
        let records = SeedGenerator(configuration: configuration).populate(org: salesforce, emr: emr)
        truthRecords.withLock { $0 = records }
    }
}
