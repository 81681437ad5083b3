import FHIRClient
import Foundation
import Logging
import SalesforceClient
import Sandbox
import StagelinkHTTP

/// A sandbox on loopback ports with the key files the clients read, and client configurations
/// pointing at it; each test starts its own so that faults and writes stay its own.
public struct SandboxHarness: Sendable {
    public let sandbox: Sandbox
    public let credentials: SandboxCredentials
    public let files: SandboxCredentials.Files

    /// Credentials and key files made once per test process (RSA key generation is slow); their
    /// folder is removed when the process exits.
    public static let shared: (SandboxCredentials, SandboxCredentials.Files) = {
        let credentials = try! SandboxCredentials.generate()
        let files = try! credentials.write(to: sharedDirectory)
        atexit { try? FileManager.default.removeItem(at: SandboxHarness.sharedDirectory) }
        return (credentials, files)
    }()

    static let sharedDirectory = FileManager.default.temporaryDirectory.appending(path: "stagelink-client-tests-\(getpid())")

    /// Starts a sandbox seeded with `patients` patients (none bad unless `badShare` says so).
    public static func start(
        patients: Int = 20, badShare: Double = 0, seed: UInt64 = 11, configure: (inout SandboxConfiguration) -> Void = { _ in }
    ) async throws -> SandboxHarness {
        let (credentials, files) = shared
        var configuration = SandboxConfiguration(credentials: credentials)
        configuration.patientCount = patients
        configuration.badShare = badShare
        configuration.seed = seed
        configure(&configuration)
        let sandbox = try await Sandbox.start(configuration, logger: Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() })
        return SandboxHarness(sandbox: sandbox, credentials: credentials, files: files)
    }

    /// Runs `body` against a fresh sandbox and stops it afterwards, whatever happens.
    public static func with<Value: Sendable>(
        patients: Int = 20, badShare: Double = 0, configure: (inout SandboxConfiguration) -> Void = { _ in },
        _ body: (SandboxHarness) async throws -> Value
    ) async throws -> Value {
        let harness = try await start(patients: patients, badShare: badShare, configure: configure)
        do {
            let value = try await body(harness)
            await harness.sandbox.stop()
            return value
        } catch {
            await harness.sandbox.stop()
            throw error
        }
    }

    /// Short backoff, so that fault tests finish in a few seconds. The request deadline is generous
    /// by default: the sandbox answers on the same few threads as every test running at once, and
    /// at the suite's start (900 tests) a 3 s deadline cut ordinary answers, so that tests of other
    /// faults saw `REQUEST_TIMEOUT` instead (CI, 2 December). A test of the deadline itself passes
    /// its own `requestTimeout`.
    public static func quickHTTP(requestTimeout: Duration = .seconds(20), attempts: Int = 4) -> HTTPConfiguration {
        HTTPConfiguration(
            idleTimeout: .seconds(5), requestTimeout: requestTimeout,
            retry: RetryPolicy(maximumAttempts: attempts, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(100)))
    }

    public enum SalesforceFlow: Sendable {
        case jwtBearer
        case clientCredentials
    }

    public func salesforceConfiguration(
        _ flow: SalesforceFlow = .jwtBearer, http: HTTPConfiguration = quickHTTP(), limitShare: Double = 0.8
    ) -> SalesforceConfiguration {
        let user = credentials.salesforceUser
        let authentication: SalesforceAuthentication =
            switch flow {
            case .jwtBearer:
                .jwtBearer(consumerKey: user.consumerKey, username: user.username, privateKeyFile: files.salesforcePrivateKey.path)
            case .clientCredentials:
                .clientCredentials(consumerKey: user.consumerKey, consumerSecretFile: files.salesforceConsumerSecret.path)
            }
        return SalesforceConfiguration(
            loginURL: URL(string: sandbox.salesforceURL)!, authentication: authentication, http: http, limitShare: limitShare)
    }

    public func fhirConfiguration(http: HTTPConfiguration = quickHTTP()) -> FHIRConfiguration {
        FHIRConfiguration(
            baseURL: URL(string: sandbox.fhirURL)!, clientID: credentials.fhirClient.clientID,
            privateKeyFile: files.fhirPrivateKey.path, signingAlgorithm: credentials.fhirAlgorithm == "RS384" ? .rs384 : .es384,
            scope: Self.perResourceScopes, http: http)
    }

    /// SMART v2 scopes named per resource type, as certified EHRs grant them (no wildcards):
    /// what the engine reads and writes, and the Group a Bulk Data export starts from.
    public static let perResourceScopes = Sandbox.fhirResourceTypes.map { "system/\($0).rs system/\($0).cu" }.joined(separator: " ")
        + " system/Group.rs"

    public func salesforce(
        _ flow: SalesforceFlow = .jwtBearer, http: HTTPConfiguration = quickHTTP(), limitShare: Double = 0.8, logger: Logger = Self.silent
    ) async throws -> SalesforceClient {
        try await SalesforceClient(configuration: salesforceConfiguration(flow, http: http, limitShare: limitShare), logger: logger)
    }

    public func fhir(http: HTTPConfiguration = quickHTTP(), logger: Logger = Self.silent) async throws -> FHIRClient {
        try await FHIRClient(configuration: fhirConfiguration(http: http), logger: logger)
    }

    public static let silent = Logger(label: "client") { _ in SwiftLogNoOpLogHandler() }
}
