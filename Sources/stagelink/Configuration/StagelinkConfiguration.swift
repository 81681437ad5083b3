import FHIRClient
import Foundation
import SalesforceClient
import StagelinkEngine
import StagelinkHTTP
import StagelinkOperations
import StagelinkPostgres

/// `stagelink.yaml`: where the store and the mapping are, how often to sync, and how to reach
/// Salesforce and the EMR. Secrets are never in it: it names the files that hold them, and any
/// value may be `${ENVIRONMENT_VARIABLE}`.
///
/// For example:
///
/// ```yaml
/// store: /var/lib/stagelink/stagelink.sqlite
/// mapping: /etc/stagelink/mapping.yaml
/// schedule: { every: 15m }
/// salesforce:
///   loginURL: https://login.salesforce.com
///   auth: { flow: jwt-bearer, consumerKey: 3MVG9…, username: stagelink@example.org, privateKeyFile: salesforce.pem }
/// emr:
///   baseURL: https://emr.example.org/fhir/r4
///   clientID: stagelink-backend
///   privateKeyFile: fhir-es384.pem
/// ```
struct StagelinkConfiguration: Sendable {
    /// The file it was read from.
    var file: String
    /// The SQLite store file, or the PostgreSQL store's URL without its password (see `postgres`).
    var store: String
    /// The PostgreSQL store, when `store:` is a `postgres://` URL (or `{ url:, passwordFile: }`).
    var postgres: PostgresLocation?
    var mapping: String
    /// `mapping` when the file names one; otherwise `config/mapping.yaml` beside it if present, else the built-in mapping.
    var namedMapping: String? { mappingNamed || FileManager.default.fileExists(atPath: mapping) ? mapping : nil }
    private var mappingNamed = false
    var every: Duration
    var settings: SyncSettings
    var salesforce: SalesforceConfiguration?
    var emr: FHIRConfiguration?
    /// The scopes the file asks for; nil asks for the SMART v2 scopes the mapping needs.
    var emrScope: String?
    /// The EMR's time zone (`emr.timeZone`), for the dates of `from: datetime` fields; nil is UTC.
    var emrTimeZone: TimeZone?
    /// The configured log level, when the file names one.
    var logLevel: String?
    /// `retention.payloads`: how long the payloads of linked, superseded and ignored rows are kept
    /// (`stagelink purge`); nil keeps them.
    var payloadRetention: Duration?
    /// `encryption.keyFile`: the key that wraps the store's data key; nil keeps the store in the
    /// clear (for development only; docs/security.md).
    var encryptionKeyFile: String?
    /// What the file allows but should not (a key file others may read), each naming file:line:
    /// logged as warnings when a command opens the configuration.
    var warnings: [String] = []
    // Operations (issue 17): `service.listen`, `logging.format`, `alerts:`.
    var listen: ListenAddress?
    var logFormat = LogFormat.text
    var alerts: AlertSettings?
    /// `lease.ttl`: how long the service's lease lasts without renewal (renewed at a third of it):
    /// a standby on another host takes over within this of the holder's death.
    var leaseTTL = Self.defaultLeaseTTL

    static let defaultEvery: Duration = .seconds(900)
    static let defaultLeaseTTL: Duration = .seconds(30)

    /// The SMART v2 scopes `mapping` needs (`SMARTScope.defaultScope`), with `system/Group.rs`
    /// when a Group is exported.
    func neededEMRScope(for mapping: MappingDocument) -> String {
        SMARTScope.defaultScope(for: mapping, exportsGroup: settings.emrPull == .bulk && settings.bulk.group != nil)
    }

    /// The `emr:` settings with the scopes to ask for: `emr.scope`, else what `mapping` needs.
    func emrConnection(for mapping: MappingDocument) -> FHIRConfiguration? {
        guard var emr else { return nil }
        emr.scope = emrScope ?? neededEMRScope(for: mapping)
        return emr
    }

    /// The ranges values are bounded to when read (documented in `docs/configuration.md`).
    enum Limits {
        static let every = Duration.seconds(1)...Duration.seconds(7 * 86_400)
        static let overlap = Duration.zero...Duration.seconds(86_400)
        static let timeout = Duration.seconds(1)...Duration.seconds(3600)
        static let pageSize = 1...2_000
        static let automaticRetries = 0...100
        static let reconcile = Duration.seconds(60)...Duration.seconds(30 * 86_400)
        static let maxAttempts = 1...10
        static let maxConnections = 1...64
        static let concurrency = 1...64
        /// `service.workers` and `stagelink run --workers`: linking workers (docs/scale.md#linking-workers).
        static let workers = 1...16
        /// `emr.batchSize`: entries of one `batch` Bundle (1: no batches).
        static let emrBatchSize = 1...500
        static let leaseTTL = Duration.seconds(3)...Duration.seconds(600)
    }

    /// Every key the file accepts, by section: `docs/configuration.md` documents exactly these.
    static let keys: [String: Set<String>] = [
        "": ["store", "mapping", "schedule", "salesforce", "emr", "logging", "service", "alerts", "retention", "encryption", "lease"],
        "store": ["url", "passwordFile"],
        "retention": ["payloads"],
        "encryption": ["keyFile"],
        "schedule": ["every", "overlap", "pageSize", "automaticRetries", "reconcile"],
        "salesforce": ["loginURL", "apiVersion", "assertionAudience", "limitShare", "batchSize", "bulkThreshold", "concurrency", "auth", "http"],
        "salesforce.auth": ["flow", "consumerKey", "username", "privateKeyFile", "consumerSecretFile"],
        "emr": ["baseURL", "clientID", "privateKeyFile", "algorithm", "keyID", "jwksURL", "scope", "timeZone", "http", "pull", "bulk", "allowedOrigins", "writes", "concurrency", "batchSize"],
        "emr.bulk": ["group", "maxWait", "since"],
        "emr.writes": ["create", "update"],
        "http": ["idleTimeout", "requestTimeout", "maxAttempts", "maxConnections"],
        "logging": ["level", "format"],
        "service": ["listen", "workers"],
        "lease": ["ttl"],
    ]

    /// Every key that holds a value, as a dotted path (`salesforce.auth.flow`): what
    /// `docs/configuration.md` documents, one row each.
    static var allKeyPaths: Set<String> {
        let sections: Set<String> = ["schedule", "salesforce", "emr", "logging", "auth", "http", "bulk", "writes", "service", "alerts", "retention", "encryption", "lease"]
        var paths = Set<String>()
        for (section, names) in keys {
            for name in names where !sections.contains(name) {
                switch section {
                case "": paths.insert(name)
                case "http":
                    paths.insert("salesforce.http.\(name)")
                    paths.insert("emr.http.\(name)")
                default: paths.insert("\(section).\(name)")
                }
            }
        }
        return paths.union(AlertSettings.keyPaths)
    }

    static func load(contentsOf path: String) throws(ConfigurationError) -> StagelinkConfiguration {
        try StagelinkConfiguration(reader: YAMLReader.load(contentsOf: path))
    }

    init(reader root: YAMLReader) throws(ConfigurationError) {
        let folder = URL(fileURLWithPath: root.file).deletingLastPathComponent()
        func path(_ reader: YAMLReader) throws(ConfigurationError) -> String {
            let value = try Self.expand(reader)
            return value.hasPrefix("/") ? value : folder.appendingPathComponent(value).standardized.path
        }
        var warnings: [String] = []
        /// The path of a file holding a key or secret, with a warning when others may read it.
        func keyFile(_ reader: YAMLReader) throws(ConfigurationError) -> String {
            let file = try path(reader)
            if let warning = Self.keyFileWarning(file, reader: reader) { warnings.append(warning) }
            return file
        }
        let top = try root.mapping(allowed: Self.keys[""]!)
        file = root.file
        (store, postgres) = try Self.store(top.required("store"), path: path)
        mapping = try top["mapping"].map(path) ?? folder.appendingPathComponent("config/mapping.yaml").path
        mappingNamed = top["mapping"] != nil
        every = Self.defaultEvery
        settings = SyncSettings()
        if let schedule = try top["schedule"]?.mapping(allowed: Self.keys["schedule"]!) {
            if let reader = schedule["every"] { every = try reader.duration(in: Limits.every) }
            if let reader = schedule["overlap"] { settings.overlap = try reader.duration(in: Limits.overlap) }
            if let reader = schedule["pageSize"] { settings.pageSize = try reader.int(in: Limits.pageSize) }
            if let reader = schedule["automaticRetries"] { settings.automaticRetries = try reader.int(in: Limits.automaticRetries) }
            if let reader = schedule["reconcile"] { settings.reconcileEvery = try reader.duration(in: Limits.reconcile) }
        }
        if let reader = try top["retention"]?.mapping(allowed: Self.keys["retention"]!)["payloads"] {
            payloadRetention = try Self.days(reader)
        }
        if let reader = try top["encryption"]?.mapping(allowed: Self.keys["encryption"]!)["keyFile"] {
            encryptionKeyFile = try path(reader)
        }
        let logging = try top["logging"]?.mapping(allowed: Self.keys["logging"]!)
        logLevel = try logging?["level"]?.enum(LogLevelName.self, what: "level").rawValue
        // Operations (issue 17).
        if let reader = logging?["format"] { logFormat = try reader.enum(LogFormat.self, what: "format") }
        let service = try top["service"]?.mapping(allowed: Self.keys["service"]!)
        if let reader = service?["listen"] {
            let text = try Self.expand(reader)
            do { listen = try ListenAddress(parsing: text) } catch { throw reader.error(error.description) }
        }
        if let reader = service?["workers"] { settings.linkingWorkers = try reader.int(in: Limits.workers) }
        if let reader = try top["lease"]?.mapping(allowed: Self.keys["lease"]!)["ttl"] { leaseTTL = try reader.duration(in: Limits.leaseTTL) }
        alerts = try top["alerts"].map { reader throws(ConfigurationError) in try AlertSettings(reader: reader, expand: Self.expand) }

        if let section = try top["salesforce"]?.mapping(allowed: Self.keys["salesforce"]!) {
            let auth = try section.required("auth").mapping(allowed: Self.keys["salesforce.auth"]!)
            let flow = try auth.required("flow")
            let authentication: SalesforceAuthentication
            switch try Self.expand(flow) {
            case "jwt-bearer":
                authentication = .jwtBearer(
                    consumerKey: try Self.expand(auth.required("consumerKey")), username: try Self.expand(auth.required("username")),
                    privateKeyFile: try keyFile(auth.required("privateKeyFile")))
            case "client-credentials":
                authentication = .clientCredentials(
                    consumerKey: try Self.expand(auth.required("consumerKey")), consumerSecretFile: try keyFile(auth.required("consumerSecretFile")))
            case let other:
                throw flow.error("unknown flow \"\(other)\" (expected jwt-bearer or client-credentials)")
            }
            let loginURL = try section.required("loginURL")
            var configuration = SalesforceConfiguration(loginURL: try Self.url(loginURL), authentication: authentication)
            if case .clientCredentials = authentication, !SalesforceLoginHost(configuration.loginURL).acceptsClientCredentials {
                throw loginURL.error(SalesforceConfiguration.clientCredentialsNeedMyDomain)
            }
            if let reader = section["apiVersion"] {
                let version = try Self.expand(reader)
                configuration.apiVersion = version.hasPrefix("v") ? version : "v\(version)"
            }
            if let reader = section["assertionAudience"] { configuration.assertionAudience = try Self.expand(reader) }
            if let reader = section["limitShare"] {
                configuration.limitShare = try reader.double()
                guard (0.01...1).contains(configuration.limitShare) else { throw reader.error("must be between 0.01 and 1 (a share of the daily limit)") }
            }
            if let reader = section["batchSize"] {
                configuration.upsertBatchSize = try reader.int(in: 1...SalesforceConfiguration.collectionLimit)
            }
            if let reader = section["bulkThreshold"] { configuration.bulkThreshold = try reader.int(in: 0...100_000_000) }
            if let reader = section["http"] { configuration.http = try Self.http(reader) }
            if let reader = section["concurrency"] { settings.salesforceConcurrency = try reader.int(in: Limits.concurrency) }
            salesforce = configuration
        }

        if let section = try top["emr"]?.mapping(allowed: Self.keys["emr"]!) {
            var configuration = FHIRConfiguration(
                baseURL: try Self.url(section.required("baseURL")), clientID: try Self.expand(section.required("clientID")),
                privateKeyFile: try keyFile(section.required("privateKeyFile")))
            if let reader = section["algorithm"] {
                let algorithm = try reader.enum(AssertionSigner.Algorithm.self, what: "algorithm")
                guard algorithm != .rs256 else { throw reader.error("SMART Backend Services signs with ES384 or RS384") }
                configuration.signingAlgorithm = algorithm
            }
            if let reader = section["keyID"] { configuration.keyID = try Self.expand(reader) }
            if let reader = section["jwksURL"] { configuration.jwksURL = try Self.url(reader) }
            if let reader = section["scope"] { emrScope = try Self.expand(reader) }
            if let reader = section["timeZone"] {
                let name = try Self.expand(reader)
                guard let zone = TimeZone(identifier: name) else { throw reader.error("\"\(name)\" is not a time zone (try America/Chicago or UTC)") }
                emrTimeZone = zone
            }
            if let reader = section["http"] { configuration.http = try Self.http(reader) }
            try Self.emrPull(section, into: &settings, configuration: &configuration)
            if let reader = section["concurrency"] { settings.emrConcurrency = try reader.int(in: Limits.concurrency) }
            if let reader = section["batchSize"] { configuration.batchSize = try reader.int(in: Limits.emrBatchSize) }
            emr = configuration
        }
        self.warnings = warnings
    }

    /// A warning when the key or secret file at `file` may be read by its group or others
    /// (mode wider than 0600); nil when it is private or cannot be examined (the client that
    /// reads it reports a missing file).
    static func keyFileWarning(_ file: String, reader: YAMLReader) -> String? {
        guard let mode = wideMode(of: file) else { return nil }
        return reader.error("\(file) may be read by its group or others (mode \(mode)): make it private with chmod 600").description
    }

    /// The mode (`0644`) of a file its group or others may read or write; nil when it is private
    /// or cannot be examined.
    static func wideMode(of file: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? (attributes[.posixPermissions] as? Int),
            mode & 0o077 != 0
        else { return nil }
        return "0" + String(mode & 0o777, radix: 8)
    }

    /// `emr.pull`, `emr.bulk.*` and `emr.allowedOrigins`: how inbound changes are asked for; and
    /// `emr.writes.*`: how outbound ones are written.
    private static func emrPull(
        _ section: YAMLMapping, into settings: inout SyncSettings, configuration: inout FHIRConfiguration
    ) throws(ConfigurationError) {
        if let reader = section["pull"] { settings.emrPull = try reader.enum(EMRPullMode.self, what: "pull") }
        if let bulk = try section["bulk"]?.mapping(allowed: Self.keys["emr.bulk"]!) {
            if let reader = bulk["group"] {
                let group = try expand(reader)
                guard FieldConversion.isFHIRID(group) else { throw reader.error("must be a FHIR id (1 to 64 of A-Z, a-z, 0-9, - and .)") }
                settings.bulk.group = group
            }
            if let reader = bulk["maxWait"] {
                settings.bulk.maxWait = try reader.duration()
                guard settings.bulk.maxWait >= .seconds(1) else { throw reader.error("must be at least 1s") }
            }
            if let reader = bulk["since"] { settings.bulk.incremental = try reader.bool() }
        }
        if let reader = section["allowedOrigins"] {
            configuration.allowedOrigins = try reader.sequence().map { (item) throws(ConfigurationError) -> URL in try url(item) }
        }
        if let writes = try section["writes"]?.mapping(allowed: Self.keys["emr.writes"]!) {
            if let reader = writes["create"] { configuration.writes.create = try reader.enum(EMRCreateMode.self, what: "create") }
            if let reader = writes["update"] { configuration.writes.update = try reader.enum(EMRUpdateMode.self, what: "update") }
        }
    }

    private static func http(_ reader: YAMLReader) throws(ConfigurationError) -> HTTPConfiguration {
        let keys = try reader.mapping(allowed: Self.keys["http"]!)
        var http = HTTPConfiguration()
        if let value = keys["idleTimeout"] { http.idleTimeout = try value.duration(in: Limits.timeout) }
        if let value = keys["requestTimeout"] { http.requestTimeout = try value.duration(in: Limits.timeout) }
        if let value = keys["maxAttempts"] { http.retry.maximumAttempts = try value.int(in: Limits.maxAttempts) }
        if let value = keys["maxConnections"] { http.maximumConnectionsPerHost = try value.int(in: Limits.maxConnections) }
        return http
    }

    /// An endpoint URL, refused here, naming this key and its file:line, when the clients would
    /// refuse it (`EndpointURL.validated`: https, or plain http on loopback only).
    private static func url(_ reader: YAMLReader) throws(ConfigurationError) -> URL {
        let text = try expand(reader)
        guard let url = URL(string: text), let scheme = url.scheme, ["https", "http"].contains(scheme), url.host != nil else {
            throw reader.error("\"\(text)\" is not an http(s) URL")
        }
        do {
            return try EndpointURL.validated(url, setting: "\"\(text)\"")
        } catch {
            throw reader.error(error.description)
        }
    }

    /// The value with each `${NAME}` replaced by that environment variable. Whatever the file or
    /// the environment holds, the result is one line without control characters: a value with a
    /// newline could split a header or a form field it is sent in.
    /// `store:`: a SQLite file's path, a `postgres://` URL, or `{ url: postgres://…, passwordFile: FILE }`.
    private static func store(
        _ reader: YAMLReader, path: (YAMLReader) throws(ConfigurationError) -> String
    ) throws(ConfigurationError) -> (String, PostgresLocation?) {
        let urlReader: YAMLReader
        var passwordFile: String?
        if (try? reader.pairs()) == nil {
            urlReader = reader
        } else {
            let section = try reader.mapping(allowed: keys["store"]!)
            urlReader = try section.required("url")
            passwordFile = try section["passwordFile"].map(path)
        }
        let text = try expand(urlReader)
        guard PostgresLocation.isURL(text) else {
            guard passwordFile == nil else { throw urlReader.error("store.passwordFile is for a postgres:// store; a SQLite store is a file path") }
            return (try path(urlReader), nil)
        }
        do {
            let location = try PostgresLocation(parsing: text, passwordFile: passwordFile)
            return (location.description, location)
        } catch {
            throw urlReader.error(error.description)
        }
    }

    /// The environment `${NAME}` reads: the process's, or a dictionary bound for one task (tests).
    /// Tests bind it rather than call `setenv`, which races with another test's `Process.run`
    /// reading the environment (glibc's environment is not thread-safe: the suite crashed in
    /// Foundation's `Process.run`).
    @TaskLocal static var environment: [String: String]? = nil

    static func expand(_ reader: YAMLReader) throws(ConfigurationError) -> String {
        var text = ""
        var rest = try reader.string()[...]
        while let start = rest.range(of: "${") {
            text += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw reader.error("an unclosed ${ (write ${NAME} for the environment variable NAME)")
            }
            let name = String(rest[start.upperBound..<end])
            guard let first = name.first, first.isASCII, first.isLetter || first == "_",
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else {
                throw reader.error("${\(DisplayText.escaped(name))} does not name an environment variable (letters, digits and _)")
            }
            guard let value = (Self.environment ?? ProcessInfo.processInfo.environment)[name] else {
                throw reader.error("the environment variable \(name) is not set")
            }
            // The value is not searched again: an environment variable holding `${X}` is text.
            text += value
            rest = rest[rest.index(after: end)...]
        }
        text += rest
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            throw reader.error("holds a line break or another control character (a value must be one line)")
        }
        return text
    }
}

enum LogLevelName: String, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

extension StagelinkConfiguration {
    /// A retention period in days (`90d`), from 1 day to 10 years.
    static func days(_ reader: YAMLReader) throws(ConfigurationError) -> Duration {
        let text = try reader.string()
        guard let period = retentionPeriod(text) else { throw reader.error(retentionProblem(text)) }
        return period
    }

    /// `90d` as a duration; nil for anything but 1d to 3650d.
    static func retentionPeriod(_ text: String) -> Duration? {
        guard text.hasSuffix("d"), let days = Int(text.dropLast()), (1...3_650).contains(days) else { return nil }
        return .seconds(days * 86_400)
    }

    static func retentionProblem(_ text: String) -> String {
        "\"\(text)\" is not a retention period: a number of days from 1d to 3650d, such as 90d"
    }
}
