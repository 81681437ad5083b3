import ArgumentParser
import FHIRClient
import Foundation
import Logging
import SalesforceClient
import StagelinkEngine
import StagelinkOperations
import StagelinkPostgres
import StagelinkStore

/// Where a command finds its store, mapping and configuration.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file.", discussion: "Default: $STAGELINK_CONFIG, then ./stagelink.yaml."))
    var config: String?

    @Option(help: ArgumentHelp(
        "The store: a SQLite file, or a PostgreSQL server's postgres:// URL; overrides the configuration's store.",
        discussion: "A URL's password comes from the environment through the shell (postgres://user:${PGPASS}@host/db), or use a configuration with store.passwordFile."))
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

/// The configuration, the mapping or the store could not be read: the command could not even
/// start. Every command exits with 3 (configuration or mapping) or 4 (store) for it, apart from
/// the codes of what it does (`status`: 0 healthy, 1 degraded, 2 failing).
struct SetupError: Error, CustomStringConvertible {
    enum Part: Sendable {
        /// The configuration or the mapping file: exit code 3.
        case configuration
        /// The store: exit code 4.
        case store
    }

    var part: Part
    var message: String

    init(_ part: Part, _ message: String) {
        self.part = part
        self.message = message
    }

    init(_ part: Part, _ error: any Error) {
        self.init(part, (error as? SetupError)?.message ?? (error as? ValidationError)?.message ?? "\(error)")
    }

    var exitCode: Int32 {
        switch part {
        case .configuration: 3
        case .store: 4
        }
    }

    var description: String { message }
}

/// What a command works with: the store, the mapping and the configuration when there is one.
struct Context {
    /// What the command does to the store.
    ///
    /// Only a command that owns the store may create or migrate it, so that a mistyped path,
    /// database or `?schema=` never becomes a new, empty store that a command then reads as "no
    /// rows" or writes into. The other commands refuse a store that is not there, or that an
    /// older Stagelink wrote, naming it and what to run (`stagelink store migrate`); SQLite and
    /// PostgreSQL alike (docs/operations.md#which-commands-create-or-migrate-the-store).
    enum Purpose {
        /// Owns the store (`run`, `sync`, `reconcile`, `demo`, `store migrate`): it is created
        /// when missing and migrated to this build's schema; the mapping is read at once.
        case owning
        /// Writes to an existing store (retry, resolve, policy changes, purge, rekey): it must be
        /// there at this build's schema; the mapping is read at once.
        case writing
        /// Only reads (status, rows, show, jobs, …): the store must be there at this build's
        /// schema and is opened read-only when it can be (a store file of mode 0400 works); the
        /// mapping is read when one is named or found, and asked for only by what truly needs it.
        case reading
    }

    var configuration: StagelinkConfiguration?
    /// The store, through its roles: a SQLite file or a PostgreSQL server alike.
    var store: any SyncStore
    /// The SQLite store file, for what only a file has (its path, its key and `store rekey`, read-only
    /// opening); nil when the store is on a PostgreSQL server.
    var file: SQLiteStore?
    /// Where the store is, as messages show it: the file's path, or the server's URL without its password.
    var storeName: String
    /// The mapping, when it was read: always for a writing command.
    var loadedMapping: MappingDocument?
    var logger: Logger

    init(configuration: StagelinkConfiguration?, file: SQLiteStore, loadedMapping: MappingDocument?, logger: Logger) {
        self.init(configuration: configuration, store: file, file: file, storeName: file.path, loadedMapping: loadedMapping, logger: logger)
    }

    init(
        configuration: StagelinkConfiguration?, store: any SyncStore, file: SQLiteStore?, storeName: String, loadedMapping: MappingDocument?, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.file = file
        self.storeName = storeName
        self.loadedMapping = loadedMapping
        self.logger = logger
    }

    /// The mapping, for what needs it; a clear error when a reading command was given none.
    var mapping: MappingDocument {
        get throws(SetupError) {
            guard let loadedMapping else {
                throw SetupError(
                    .configuration,
                    "This needs the mapping file: pass --mapping FILE, or name it in the configuration (mapping:). The store alone does not hold it.")
            }
            return loadedMapping
        }
    }

    /// The store's monitoring and alert roles, for the metrics, the alert rules and `stagelink
    /// alerts`; a clear error when the store does not take them.
    var operationsStore: any OperationsStore {
        get throws(SetupError) {
            guard let operations = store as? any OperationsStore else {
                throw SetupError(
                    .store,
                    "\(storeName) does not keep alerts and monitoring figures in this build (missing: \(Self.missingRoles(of: store).joined(separator: ", "))): "
                        + "metrics, alert rules and stagelink alerts need a store that does.")
            }
            return operations
        }
    }

    /// The SQLite store file, for a command that works on a file only; a clear error on PostgreSQL.
    func storeFile(for command: String) throws(SetupError) -> SQLiteStore {
        guard let file else {
            throw SetupError(.store, "\(command) works on a SQLite store file; \(storeName) is a PostgreSQL store.")
        }
        return file
    }

    /// The folder the console writes its hand-off files to (what `y` copied, what `o` pages): the
    /// store file's folder, else the configuration's, else the current one.
    var folder: String {
        if let file { return URL(fileURLWithPath: file.path).deletingLastPathComponent().path }
        if let config = configuration?.file { return URL(fileURLWithPath: config).deletingLastPathComponent().path }
        return FileManager.default.currentDirectoryPath
    }

    /// Finds the configuration (`--config`, `$STAGELINK_CONFIG`, `./stagelink.yaml`), opens the store
    /// and reads the mapping. Without a configuration, `--store` is needed.
    /// `quietLevel` is the log level when the configuration names none: the service logs its
    /// jobs at info; the other commands keep their output to what they print.
    /// Throws ``SetupError`` when the configuration, the mapping or the store cannot be read.
    static func open(_ options: StoreOptions, for purpose: Purpose = .writing, quietLevel: Logger.Level = .warning) async throws(SetupError) -> Context {
        try await open(config: options.config, store: options.store, mapping: options.mapping, for: purpose, quietLevel: quietLevel)
    }

    static func open(
        config: String?, store: String? = nil, mapping: String? = nil, for purpose: Purpose = .writing, quietLevel: Logger.Level = .warning
    ) async throws(SetupError) -> Context {
        let configuration: StagelinkConfiguration?
        do {
            try CrashSwitch.installFromEnvironment()
            configuration = try loadConfiguration(config)
        } catch {
            throw SetupError(.configuration, error)
        }
        if configuration?.logFormat == .json { _ = Self.jsonLogs }
        var logger = Logger(label: "stagelink")
        logger.logLevel = configuration?.logLevel.flatMap(Logger.Level.init(rawValue:)) ?? quietLevel
        for warning in configuration?.warnings ?? [] { logger.warning("\(warning)") }
        guard let storePath = store ?? configuration?.store else {
            throw SetupError(.configuration, "No store: pass --store PATH, or --config FILE (or set STAGELINK_CONFIG, or put a stagelink.yaml here).")
        }
        let server: PostgresLocation?
        do {
            server = try store.map { text throws(PostgresLocationError) in PostgresLocation.isURL(text) ? try PostgresLocation(parsing: text) : nil }
                ?? configuration?.postgres
        } catch {
            throw SetupError(.store, "--store \(error)")
        }
        // The named mapping, else config/mapping.yaml here, else the one built into the binary.
        let loadedMapping: MappingDocument?
        do {
            var document = try MappingFile.load(mapping ?? configuration?.namedMapping)
            if let zone = configuration?.emrTimeZone { document.setEMRTimeZone(zone) }
            loadedMapping = document
        } catch {
            throw SetupError(.configuration, error)
        }
        let key: StoreKey?
        do {
            key = try configuration?.encryptionKeyFile.map { file throws(StoreKeyError) in try StoreKey.load(file: file) }
        } catch {
            throw SetupError(.configuration, "\(error) (encryption.keyFile in \(configuration?.file ?? "the configuration"))")
        }
        if let server {
            let opened = try await openServer(
                server, opening: purpose == .owning ? .creatingOrMigrating : .existing, key: key, leaseTTL: configuration?.leaseTTL, logger: logger)
            return Context(configuration: configuration, store: opened, file: nil, storeName: server.description, loadedMapping: loadedMapping, logger: logger)
        }
        func open(_ key: StoreKey?) throws -> SQLiteStore {
            switch purpose {
            case .owning: try SQLiteStore(path: storePath, key: key)
            case .writing: try SQLiteStore.forWriting(path: storePath, key: key)
            case .reading: try SQLiteStore.forReading(path: storePath, key: key)
            }
        }
        let opened: SQLiteStore
        do {
            do {
                opened = try open(key)
            } catch let error as StoreError {
                // `stagelink store rekey` between wrapping the data key with FILE.new and moving it over FILE.
                guard case .wrongKey = error, let key, let newKey = try? StoreKey.load(file: key.file + ".new"), let store = try? open(newKey) else {
                    throw error
                }
                opened = store
            }
        } catch {
            throw SetupError(.store, error)
        }
        return Context(configuration: configuration, file: opened, loadedMapping: loadedMapping, logger: logger)
    }

    /// Connects to the PostgreSQL store: creating or migrating it (a command that owns it), or
    /// checking that it is there at this build's schema; with `key`, its data key is unwrapped (or
    /// made, for a new store) as a SQLite store's is. The message names the store (never its password).
    static func openServer(
        _ location: PostgresLocation, opening: PostgresStore.Opening, key: StoreKey? = nil, leaseTTL: Duration? = nil, logger: Logger
    ) async throws(SetupError) -> PostgresStore {
        do {
            do {
                return try await PostgresStore(location: location, opening: opening, key: key, leaseTTL: leaseTTL, logger: logger)
            } catch let error as StoreError {
                // `stagelink store rekey` between wrapping the data key with FILE.new and moving it over FILE.
                guard case .wrongKey = error, let key, let newKey = try? StoreKey.load(file: key.file + ".new"),
                    let store = try? await PostgresStore(location: location, opening: opening, key: newKey, leaseTTL: leaseTTL, logger: logger)
                else { throw error }
                return store
            }
        } catch let error as StoreError {
            throw SetupError(.store, error)
        } catch {
            let text = "\(error)"
            throw SetupError(.store, text.contains(location.description) ? text : "cannot open the PostgreSQL store \(location): \(text)")
        }
    }

    /// The store roles (of ``SyncStore`` and ``OperationsStore``) that `store` does not conform to.
    static func missingRoles(of store: Any) -> [String] {
        let roles: [(String, Bool)] = [
            ("StagingStore", store is any StagingStore), ("LinkingStore", store is any LinkingStore), ("PolicyStore", store is any PolicyStore),
            ("JobStore", store is any JobStore), ("ServiceLeaseStore", store is any ServiceLeaseStore), ("RowReader", store is any RowReader),
            ("HistoryReader", store is any HistoryReader), ("AccessLogStore", store is any AccessLogStore), ("RetentionStore", store is any RetentionStore),
            ("ChangeTracking", store is any ChangeTracking), ("LeaseFencing", store is any LeaseFencing), ("MonitoringReader", store is any MonitoringReader),
            ("AlertStore", store is any AlertStore),
        ]
        return roles.filter { !$0.1 }.map(\.0)
    }

    /// This context with its store opened for writing (and migrated), for a reading command that
    /// also acts when it may (the console); nil when the store file is not writable. A PostgreSQL
    /// store is opened for writing already.
    func forWriting() throws(SetupError) -> Context? {
        guard let file, file.access != .readWrite else { return self }
        guard FileManager.default.isWritableFile(atPath: file.path) else { return nil }
        do {
            return Context(configuration: configuration, file: try SQLiteStore(path: file.path, key: file.key), loadedMapping: loadedMapping, logger: logger)
        } catch {
            throw SetupError(.store, error)
        }
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
        if let settings = configuration.emrConnection(for: try mapping) {
            let emr = try await FHIRClient(configuration: settings, logger: logger)
            endpoints.emrSource = emr
            endpoints.emrBulk = emr
            endpoints.emrWriter = emr
        }
        return endpoints
    }

    func cycle(_ endpoints: SyncEndpoints) throws(SetupError) -> SyncCycle {
        SyncCycle(store: store, mapping: try mapping, endpoints: endpoints, settings: configuration?.settings ?? SyncSettings(), logger: logger)
    }

    /// Operations that need no connection (ignore, policy, why) work from this alone.
    var offlineOperations: Operations {
        get throws(SetupError) { Operations(store: store, mapping: try mapping, inbound: nil, logger: logger) }
    }

    /// The lease holder this process would be.
    static func holder(_ name: String) -> LeaseHolder {
        LeaseHolder(name: name, host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier)
    }
}
