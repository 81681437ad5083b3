import FHIRClient
import Foundation
import Logging
import SalesforceClient
import Sandbox

/// A sandbox started for one benchmark: fresh credentials written to a temporary folder, and
/// Stagelink's two clients signed in to it on demand. `stop()` stops it and removes the folder.
///
/// For example:
///
/// ```swift
/// let systems = try await BenchmarkSandbox.start("sync") { $0.patientCount = 10_000 }
/// let salesforce = try await systems.salesforceClient()
/// await systems.stop()
/// ```
struct BenchmarkSandbox {
    let sandbox: Sandbox
    let credentials: SandboxCredentials
    let files: SandboxCredentials.Files
    let directory: URL

    /// A sandbox without bad records, one referral and a daily limit no benchmark reaches, as
    /// `configure` changes it.
    static func start(_ name: String, _ configure: (inout SandboxConfiguration) -> Void) async throws -> BenchmarkSandbox {
        let credentials = try SandboxCredentials.generate()
        let directory = FileManager.default.temporaryDirectory.appending(path: "stagelink-bench-\(name)-\(UUID().uuidString)")
        let files = try credentials.write(to: directory)
        var configuration = SandboxConfiguration(credentials: credentials)
        configuration.badShare = 0
        configuration.referralCount = 1
        configuration.dailyAPILimit = 100_000_000
        configure(&configuration)
        do {
            let sandbox = try await Sandbox.start(configuration, logger: silent)
            return BenchmarkSandbox(sandbox: sandbox, credentials: credentials, files: files, directory: directory)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Stagelink's Salesforce client signed in to the sandbox, its configuration as `configure` changes it.
    func salesforceClient(_ configure: (inout SalesforceConfiguration) -> Void = { _ in }) async throws -> SalesforceClient {
        let user = credentials.salesforceUser
        var configuration = SalesforceConfiguration(
            loginURL: URL(string: sandbox.salesforceURL)!,
            authentication: .jwtBearer(consumerKey: user.consumerKey, username: user.username, privateKeyFile: files.salesforcePrivateKey.path))
        configure(&configuration)
        return try await SalesforceClient(configuration: configuration, logger: Self.silent)
    }

    func fhirClient(batchSize: Int = FHIRConfiguration.defaultBatchSize) async throws -> FHIRClient {
        var configuration = FHIRConfiguration(
            baseURL: URL(string: sandbox.fhirURL)!, clientID: credentials.fhirClient.clientID, privateKeyFile: files.fhirPrivateKey.path,
            signingAlgorithm: credentials.fhirAlgorithm == "RS384" ? .rs384 : .es384)
        configuration.batchSize = batchSize
        return try await FHIRClient(configuration: configuration, logger: Self.silent)
    }

    func stop() async {
        await sandbox.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `work` against a started sandbox and stops it whatever happens.
    static func with<T>(_ name: String, _ configure: (inout SandboxConfiguration) -> Void, _ work: (BenchmarkSandbox) async throws -> T) async throws -> T {
        let systems = try await start(name, configure)
        do {
            let result = try await work(systems)
            await systems.stop()
            return result
        } catch {
            await systems.stop()
            throw error
        }
    }

    private static let silent = Logger(label: "stagelink.bench") { _ in SwiftLogNoOpLogHandler() }
}
