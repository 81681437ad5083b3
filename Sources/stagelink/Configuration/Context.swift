import ArgumentParser
import FHIRClient
import Foundation
import Logging
import SalesforceClient
import StagelinkEngine
import StagelinkOperations
import StagelinkStore

/// Where a command finds its store, mapping and configuration.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file.", discussion: "Default: $STAGELINK_CONFIG, then ./stagelink.yaml."))
    var config: String?

    @Option(help: "The store file; overrides the configuration's store.")
    var store: String?

    @Option(help: "The mapping and policy file; overrides the configuration's mapping.")
    var mapping: String?
}

/// Who is acting, for the audit trail.
struct OperatorOptions: ParsableArguments {
    @Option(name: .customLong("operator"), help: "Your name in the audit trail (default: your login name).")
    var name: String?

    var resolved: String {
        name ?? ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "operator"
    }
}

/// What a command works with: the store, the mapping, and the configuration when there is one.
struct Context {
    var configuration: StagelinkConfiguration?
    var store: SQLiteStore
    var mapping: MappingDocument
    var logger: Logger

    /// Finds the configuration (`--config`, `$STAGELINK_CONFIG`, `./stagelink.yaml`), opens the store
    /// and reads the mapping. Without a configuration, `--store` is needed.
    /// `quietLevel` is the log level when the configuration names none: the service logs its
    /// jobs at info; the other commands keep their output to what they print.
    static func open(_ options: StoreOptions, quietLevel: Logger.Level = .warning) throws -> Context {
        try open(config: options.config, store: options.store, mapping: options.mapping, quietLevel: quietLevel)
    }

    static func open(config: String?, store: String? = nil, mapping: String? = nil, quietLevel: Logger.Level = .warning) throws -> Context {
        try CrashSwitch.installFromEnvironment()
        let configuration = try loadConfiguration(config)
        if configuration?.logFormat == .json { _ = Self.jsonLogs }
        var logger = Logger(label: "stagelink")
        logger.logLevel = configuration?.logLevel.flatMap(Logger.Level.init(rawValue:)) ?? quietLevel
        guard let storePath = store ?? configuration?.store else {
            throw ValidationError("No store: pass --store PATH, or --config FILE (or set STAGELINK_CONFIG, or put a stagelink.yaml here).")
        }
        let mapping = try MappingFile.load(mapping ?? configuration?.namedMapping)
        let store = try SQLiteStore(path: storePath)
        return Context(configuration: configuration, store: store, mapping: mapping, logger: logger)
    }

    /// `logging.format: json`: every logger of the process writes JSON lines (swift-log is bootstrapped once).
    private static let jsonLogs: Void = LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }

    static func loadConfiguration(_ explicit: String?) throws -> StagelinkConfiguration? {
        if let path = explicit ?? ProcessInfo.processInfo.environment["STAGELINK_CONFIG"] {
            return try StagelinkConfiguration.load(contentsOf: path)
        }
        if FileManager.default.fileExists(atPath: "stagelink.yaml") {
            return try StagelinkConfiguration.load(contentsOf: "stagelink.yaml")
        }
        return nil
    }

    /// The clients the configuration names, started (their tokens are fetched on first use).
    func endpoints() async throws -> SyncEndpoints {
        guard let configuration, configuration.salesforce != nil || configuration.emr != nil else {
            throw ValidationError("No connections are configured: this needs a configuration file with salesforce: and emr: sections (see docs/configuration.md).")
        }
        var endpoints = SyncEndpoints()
        if let settings = configuration.salesforce {
            let salesforce = try await SalesforceClient(configuration: settings, logger: logger)
            endpoints.salesforceSource = salesforce
            endpoints.salesforceLookup = salesforce
            endpoints.salesforceTarget = salesforce
            endpoints.integrationUserID = { try? await salesforce.integrationUserID() }
        }
        if let settings = configuration.emr {
            let emr = try await FHIRClient(configuration: settings, logger: logger)
            endpoints.emrSource = emr
            endpoints.emrWriter = emr
        }
        return endpoints
    }

    func cycle(_ endpoints: SyncEndpoints) -> SyncCycle {
        SyncCycle(store: store, mapping: mapping, endpoints: endpoints, settings: configuration?.settings ?? SyncSettings(), logger: logger)
    }

    /// Operations that need no connection (ignore, policy, why) work from this alone.
    var offlineOperations: Operations {
        Operations(store: store, mapping: mapping, inbound: nil, logger: logger)
    }

    /// The lease holder this process would be.
    static func holder(_ name: String) -> LeaseHolder {
        LeaseHolder(name: name, host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier)
    }
}
