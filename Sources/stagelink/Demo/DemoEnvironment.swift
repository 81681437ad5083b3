import ArgumentParser
import Foundation
import Logging
import Sandbox
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkPostgres
import StagelinkStore

/// Everything the demo starts: the sandbox, a folder holding the store, keys, mapping and a
/// `stagelink.yaml` that points at the sandbox — the same configuration a real deployment has,
/// read by the same loader.
struct DemoEnvironment {
    var folder: URL
    var sandbox: Sandbox
    var context: Context

    struct Options {
        var folder: String?
        var patients: Int
        var badShare: Double
        var seed: UInt64
        var every: Duration
        /// The mapping to copy into the folder; nil for `config/mapping.yaml` or the built-in one.
        var mapping: String?
        var faultRate: Double
        var emrProfile: EMRProfile = .generic
        /// Encrypt the store with a key made in the folder (`keys/store.key`).
        var encrypt = false
        /// How long each simulator takes to answer.
        var latency = SandboxLatency()
        /// A PostgreSQL server for the store (`--store postgres://…`); nil for `store.sqlite` in the folder.
        var server: PostgresLocation?
    }

    static func start(_ options: Options, logger: Logger) async throws -> DemoEnvironment {
        let folder = URL(fileURLWithPath: options.folder ?? defaultFolder())
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let mappingCopy = folder.appendingPathComponent("mapping.yaml")
        if !FileManager.default.fileExists(atPath: mappingCopy.path) {
            try Data(MappingFile.source(options.mapping).yaml.utf8).write(to: mappingCopy)
        }
        let mapping = try MappingDocument.load(contentsOf: mappingCopy.path)

        let credentials = try SandboxCredentials.generate()
        let files = try credentials.write(to: folder.appendingPathComponent("keys"))
        var configuration = SandboxConfiguration(credentials: credentials)
        configuration.customFields = CustomFieldSpec.fields(of: mapping)
        configuration.people = SalesforcePeople.of(mapping)
        configuration.patientCount = options.patients
        configuration.badShare = options.badShare
        configuration.seed = options.seed
        configuration.emrProfile = options.emrProfile
        configuration.latency = options.latency
        var sandboxLogger = logger
        sandboxLogger.logLevel = .warning
        let sandbox = try await Sandbox.start(configuration, logger: sandboxLogger)
        if options.faultRate > 0 {
            for (kind, endpoint) in [
                (FaultKind.rowLock, SandboxEndpoint.salesforceCollections), (.serviceUnavailable, .fhirSearch), (.internalServerError, .salesforceCollections),
                (.tooManyRequests, .salesforceQuery), (.droppedConnection, .fhirCreate),
            ] {
                try sandbox.faults.inject(FaultRule(kind, on: endpoint, trigger: .rate(options.faultRate)))
            }
        }

        var encryption = ""
        if options.encrypt {
            let keyFile = folder.appendingPathComponent("keys/store.key").path
            // A folder used before keeps its key: its store was sealed with it.
            if !FileManager.default.fileExists(atPath: keyFile) { _ = try StoreKey.generate(at: keyFile) }
            encryption = "encryption: { keyFile: \(keyFile) }"
        }
        let user = credentials.salesforceUser
        let yaml = """
            # Written by `stagelink demo`: a configuration like a real deployment's, pointing at the sandbox.
            store: \(try storeSetting(options.server, folder: folder))
            mapping: mapping.yaml
            schedule:
              every: \(options.every.compactText)
              overlap: 30s
            salesforce:
              loginURL: \(sandbox.salesforceURL)
              auth:
                flow: jwt-bearer
                consumerKey: \(user.consumerKey)
                username: \(user.username)
                privateKeyFile: \(files.salesforcePrivateKey.path)
              http: { idleTimeout: 10s, requestTimeout: 30s }
            emr:
              baseURL: \(sandbox.fhirURL)
              clientID: \(credentials.fhirClient.clientID)
              privateKeyFile: \(files.fhirPrivateKey.path)
              algorithm: \(credentials.fhirAlgorithm)
              http: { idleTimeout: 10s, requestTimeout: 30s }
            \(emrPullSettings(options.emrProfile, fhirURL: sandbox.fhirURL))
            \(encryption)
            """
        let configPath = folder.appendingPathComponent("stagelink.yaml")
        try Data(yaml.utf8).write(to: configPath)
        let context = try await Context.open(config: configPath.path, for: .owning)
        try await context.mapping.loadPolicy(into: context.store)
        return DemoEnvironment(folder: folder, sandbox: sandbox, context: context)
    }

    /// The `store:` value: `store.sqlite` in the folder, or the server in a schema of the demo's own,
    /// named by the URL's `schema=`, else made fresh as `demo_` and the time), the password in a file of the folder's (never in the configuration).
    static func storeSetting(_ server: PostgresLocation?, folder: URL) throws -> String {
        guard var server else { return "store.sqlite" }
        if server.schema == "public" { server.schema = "demo_" + stamp().lowercased().replacingOccurrences(of: "-", with: "_") }
        guard let password = server.password else { return server.description }
        let file = folder.appendingPathComponent("keys/postgres.password")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard FileManager.default.createFile(atPath: file.path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write the store's password to \(file.path)")
        }
        return "{ url: \"\(server.description)\", passwordFile: \(file.path) }"
    }

    /// The `emr:` keys each profile needs (docs/emr-profiles.md): a certified EHR is pulled with
    /// Bulk Data export of its patient group; a lenient one's next links name its other host name.
    static func emrPullSettings(_ profile: EMRProfile, fhirURL: String) -> String {
        switch profile {
        case .generic:
            return ""
        case .certified:
            return "  pull: bulk\n  bulk: { group: all-patients, maxWait: 10m }\n"
        case .lenient:
            let other = fhirURL.replacingOccurrences(of: "://127.0.0.1", with: "://localhost")
            return "  allowedOrigins: [\"\(other)\"]\n"
        }
    }

    static func defaultFolder() -> String {
        "stagelink-demo/run-\(stamp())"
    }

    /// The time, as a demo names its folder and schema: `20261201-235959`.
    static func stamp() -> String {
        Timestamp.formatSeconds(Date()).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
            .replacingOccurrences(of: "T", with: "-").replacingOccurrences(of: "Z", with: "")
    }

    var configPath: String { folder.appendingPathComponent("stagelink.yaml").path }
}

