import FHIRClient
import Foundation
import SalesforceClient
import StagelinkEngine
import StagelinkHTTP
import StagelinkOperations

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
    var store: String
    var mapping: String
    /// `mapping` when the file names one; otherwise `config/mapping.yaml` beside it if present, else the built-in mapping.
    var namedMapping: String? { mappingNamed || FileManager.default.fileExists(atPath: mapping) ? mapping : nil }
    private var mappingNamed = false
    var every: Duration
    var settings: SyncSettings
    var salesforce: SalesforceConfiguration?
    var emr: FHIRConfiguration?
    /// The configured log level, when the file names one.
    var logLevel: String?
    // Operations (issue 17): `service.listen`, `logging.format`, `alerts:`.
    var listen: ListenAddress?
    var logFormat = LogFormat.text
    var alerts: AlertSettings?

    static let defaultEvery: Duration = .seconds(900)

    /// Every key the file accepts, by section: `docs/configuration.md` documents exactly these.
    static let keys: [String: Set<String>] = [
        "": ["store", "mapping", "schedule", "salesforce", "emr", "logging", "service", "alerts"],
        "schedule": ["every", "overlap", "pageSize", "automaticRetries"],
        "salesforce": ["loginURL", "apiVersion", "assertionAudience", "limitShare", "batchSize", "auth", "http"],
        "salesforce.auth": ["flow", "consumerKey", "username", "privateKeyFile", "consumerSecretFile"],
        "emr": ["baseURL", "clientID", "privateKeyFile", "algorithm", "keyID", "scope", "http"],
        "http": ["idleTimeout", "requestTimeout", "maxAttempts", "maxConnections"],
        "logging": ["level", "format"],
        "service": ["listen"],
    ]

    /// Every key that holds a value, as a dotted path (`salesforce.auth.flow`): what
    /// `docs/configuration.md` documents, one row each.
    static var allKeyPaths: Set<String> {
        let sections: Set<String> = ["schedule", "salesforce", "emr", "logging", "auth", "http", "service", "alerts"]
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
        let top = try root.mapping(allowed: Self.keys[""]!)
        file = root.file
        store = try path(top.required("store"))
        mapping = try top["mapping"].map(path) ?? folder.appendingPathComponent("config/mapping.yaml").path
        mappingNamed = top["mapping"] != nil
        every = Self.defaultEvery
        settings = SyncSettings()
        if let schedule = try top["schedule"]?.mapping(allowed: Self.keys["schedule"]!) {
            if let reader = schedule["every"] {
                every = try reader.duration()
                guard every >= .seconds(1) else { throw reader.error("must be at least 1s") }
            }
            if let reader = schedule["overlap"] { settings.overlap = try reader.duration() }
            if let reader = schedule["pageSize"] {
                settings.pageSize = try reader.int()
                guard (1...2_000).contains(settings.pageSize) else { throw reader.error("must be between 1 and 2000") }
            }
            if let reader = schedule["automaticRetries"] { settings.automaticRetries = try reader.int() }
        }
        let logging = try top["logging"]?.mapping(allowed: Self.keys["logging"]!)
        logLevel = try logging?["level"]?.enum(LogLevelName.self, what: "level").rawValue
        // Operations (issue 17).
        if let reader = logging?["format"] { logFormat = try reader.enum(LogFormat.self, what: "format") }
        if let reader = try top["service"]?.mapping(allowed: Self.keys["service"]!)["listen"] {
            let text = try Self.expand(reader)
            do { listen = try ListenAddress(parsing: text) } catch { throw reader.error(error.description) }
        }
        alerts = try top["alerts"].map { reader throws(ConfigurationError) in try AlertSettings(reader: reader, expand: Self.expand) }

        if let section = try top["salesforce"]?.mapping(allowed: Self.keys["salesforce"]!) {
            let auth = try section.required("auth").mapping(allowed: Self.keys["salesforce.auth"]!)
            let flow = try auth.required("flow")
            let authentication: SalesforceAuthentication
            switch try Self.expand(flow) {
            case "jwt-bearer":
                authentication = .jwtBearer(
                    consumerKey: try Self.expand(auth.required("consumerKey")), username: try Self.expand(auth.required("username")),
                    privateKeyFile: try path(auth.required("privateKeyFile")))
            case "client-credentials":
                authentication = .clientCredentials(
                    consumerKey: try Self.expand(auth.required("consumerKey")), consumerSecretFile: try path(auth.required("consumerSecretFile")))
            case let other:
                throw flow.error("unknown flow \"\(other)\" (expected jwt-bearer or client-credentials)")
            }
            var configuration = SalesforceConfiguration(loginURL: try Self.url(section.required("loginURL")), authentication: authentication)
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
                configuration.upsertBatchSize = try reader.int()
                guard (1...SalesforceConfiguration.collectionLimit).contains(configuration.upsertBatchSize) else {
                    throw reader.error("must be between 1 and \(SalesforceConfiguration.collectionLimit)")
                }
            }
            if let reader = section["http"] { configuration.http = try Self.http(reader) }
            salesforce = configuration
        }

        if let section = try top["emr"]?.mapping(allowed: Self.keys["emr"]!) {
            var configuration = FHIRConfiguration(
                baseURL: try Self.url(section.required("baseURL")), clientID: try Self.expand(section.required("clientID")),
                privateKeyFile: try path(section.required("privateKeyFile")))
            if let reader = section["algorithm"] {
                let algorithm = try reader.enum(AssertionSigner.Algorithm.self, what: "algorithm")
                guard algorithm != .rs256 else { throw reader.error("SMART Backend Services signs with ES384 or RS384") }
                configuration.signingAlgorithm = algorithm
            }
            if let reader = section["keyID"] { configuration.keyID = try Self.expand(reader) }
            if let reader = section["scope"] { configuration.scope = try Self.expand(reader) }
            if let reader = section["http"] { configuration.http = try Self.http(reader) }
            emr = configuration
        }
    }

    private static func http(_ reader: YAMLReader) throws(ConfigurationError) -> HTTPConfiguration {
        let keys = try reader.mapping(allowed: Self.keys["http"]!)
        var http = HTTPConfiguration()
        if let value = keys["idleTimeout"] { http.idleTimeout = try value.duration() }
        if let value = keys["requestTimeout"] { http.requestTimeout = try value.duration() }
        if let value = keys["maxAttempts"] {
            http.retry.maximumAttempts = try value.int()
            guard (1...10).contains(http.retry.maximumAttempts) else { throw value.error("must be between 1 and 10") }
        }
        if let value = keys["maxConnections"] { http.maximumConnectionsPerHost = try value.int() }
        return http
    }

    private static func url(_ reader: YAMLReader) throws(ConfigurationError) -> URL {
        let text = try expand(reader)
        guard let url = URL(string: text), let scheme = url.scheme, ["https", "http"].contains(scheme), url.host != nil else {
            throw reader.error("\"\(text)\" is not an http(s) URL")
        }
        return url
    }

    /// The value with `${NAME}` replaced by that environment variable.
    static func expand(_ reader: YAMLReader) throws(ConfigurationError) -> String {
        var text = try reader.string()
        while let start = text.range(of: "${"), let end = text.range(of: "}", range: start.upperBound..<text.endIndex) {
            let name = String(text[start.upperBound..<end.lowerBound])
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw reader.error("the environment variable \(name) is not set")
            }
            text.replaceSubrange(start.lowerBound..<end.upperBound, with: value)
        }
        return text
    }
}

enum LogLevelName: String, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}
