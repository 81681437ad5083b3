import Foundation
import StagelinkEngine
import StagelinkHTTP

/// Where `stagelink run` serves `/metrics`, `/healthz`, `/readyz` and `/status`: `--listen` or
/// `service.listen`. Loopback unless a host is named: `9464` and `:9464` mean `127.0.0.1:9464`.
///
/// For example:
///
/// ```swift
/// try ListenAddress(parsing: "127.0.0.1:9464")   // host 127.0.0.1, port 9464
/// try ListenAddress(parsing: "[::1]:9464")       // host ::1
/// try ListenAddress(parsing: "0.0.0.0:9464")     // every interface: only when configured so
/// ```
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    /// 0 asks the system for a free port (tests).
    public var port: Int

    public static let defaultHost = "127.0.0.1"

    public init(host: String = defaultHost, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ListenAddressError) {
        var host = Self.defaultHost
        var portText = Substring(text.trimmingCharacters(in: .whitespaces))
        if portText.hasPrefix("[") {
            guard let close = portText.firstIndex(of: "]") else { throw ListenAddressError(text: text, problem: "an IPv6 host needs its closing ]") }
            host = String(portText[portText.index(after: portText.startIndex)..<close])
            portText = portText[portText.index(after: close)...]
            guard portText.hasPrefix(":") else { throw ListenAddressError(text: text, problem: "expected :PORT after the host") }
            portText = portText.dropFirst()
        } else if let colon = portText.lastIndex(of: ":") {
            let named = portText[..<colon]
            if !named.isEmpty { host = String(named) }
            portText = portText[portText.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65_535).contains(port) else {
            throw ListenAddressError(text: text, problem: "the port must be a number from 0 to 65535")
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:".contains($0) }) else {
            throw ListenAddressError(text: text, problem: "the host must be an address or a host name")
        }
        self.init(host: host, port: port)
    }

    /// Whether only this machine can reach it.
    public var isLoopback: Bool { EndpointURL.isLoopback(URL(string: "http://\(host.contains(":") ? "[\(host)]" : host)/")!) }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A listen address that cannot be used, with the reason.
public struct ListenAddressError: Error, Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var problem: String

    public var description: String { "\"\(text)\" is not a listen address: \(problem) (expected HOST:PORT, such as 127.0.0.1:9464)" }
}

/// `logging.format`: how log lines are written.
public enum LogFormat: String, Sendable, Hashable, CaseIterable {
    /// swift-log's default: one readable line per message.
    case text
    /// One JSON object per line, for log shippers.
    case json
}

/// The `alerts:` section of stagelink.yaml: which rules watch the store, where alerts go, and how
/// often a firing alert is sent again.
///
/// ```yaml
/// alerts:
///   repeat: 4h
///   rules:
///     newErrorCode: {}
///     failedRows: { above: 100 }
///     noSuccessfulPull: { for: 1h }
///   webhooks:
///     - { name: ops-slack, url: "${SLACK_WEBHOOK_URL}", format: slack }
/// ```
public struct AlertSettings: Sendable, Hashable {
    public var rules: [ConfiguredAlertRule]
    public var webhooks: [WebhookTarget]
    /// A firing alert is sent again after this long.
    public var repeatInterval: Duration
    /// How often the rules are checked while the service runs (also after every cycle).
    public var evaluateEvery: Duration

    public init(rules: [ConfiguredAlertRule] = [], webhooks: [WebhookTarget] = [], repeatInterval: Duration = .seconds(4 * 3600), evaluateEvery: Duration = .seconds(30)) {
        self.rules = rules
        self.webhooks = webhooks
        self.repeatInterval = repeatInterval
        self.evaluateEvery = evaluateEvery
    }

    /// Every key the section accepts, by subsection (`docs/configuration.md` documents each).
    public static let keys: [String: Set<String>] = [
        "alerts": ["repeat", "evaluateEvery", "rules", "webhooks"],
        "alerts.rules": Set(AlertRule.Kind.allCases.map(\.rawValue)),
        "alerts.rules.*": ["above", "for", "severity"],
        "alerts.webhooks[]": ["name", "url", "format", "maxAttempts", "timeout"],
    ]

    /// Every key path the section accepts, as `docs/configuration.md` lists them (a rule's optional
    /// `severity` is documented with the rules; `webhooks` is a list of entries with these keys).
    public static var keyPaths: Set<String> {
        var paths: Set<String> = ["alerts.repeat", "alerts.evaluateEvery"]
        for key in keys["alerts.webhooks[]"]! { paths.insert("alerts.webhooks.\(key)") }
        for kind in AlertRule.Kind.allCases {
            switch kind {
            case .newErrorCode, .signInRefused: paths.insert("alerts.rules.\(kind.rawValue)")
            case .failedRows, .watermarkLag, .apiShare, .conflictsHeld: paths.insert("alerts.rules.\(kind.rawValue).above")
            case .noSuccessfulPull, .exportStuck: paths.insert("alerts.rules.\(kind.rawValue).for")
            }
        }
        return paths
    }

    /// Reads the section; `expand` resolves `${ENVIRONMENT_VARIABLE}` in text values (webhook URLs are secrets).
    public init(reader: YAMLReader, expand: (YAMLReader) throws(ConfigurationError) -> String) throws(ConfigurationError) {
        self.init()
        let section = try reader.mapping(allowed: Self.keys["alerts"]!)
        if let value = section["repeat"] {
            repeatInterval = try value.duration()
            guard repeatInterval >= .seconds(60) else { throw value.error("must be at least 1m") }
        }
        if let value = section["evaluateEvery"] {
            evaluateEvery = try value.duration()
            guard evaluateEvery >= .seconds(1) else { throw value.error("must be at least 1s") }
        }
        for (name, value) in try section["rules"]?.mapping(allowed: Self.keys["alerts.rules"]!).entries ?? [] {
            rules.append(try ConfiguredAlertRule(kind: AlertRule.Kind(rawValue: name)!, reader: value))
        }
        var names = Set<String>()
        for element in try section["webhooks"]?.sequence() ?? [] {
            let webhook = try WebhookTarget(reader: element, expand: expand)
            guard names.insert(webhook.name).inserted else { throw element.error("another webhook is already named \"\(webhook.name)\"") }
            webhooks.append(webhook)
        }
    }
}

/// One alert rule and its threshold.
public enum AlertRule: Sendable, Hashable {
    /// An error code appears on failed rows (one alert per code, resolved when no row fails with it).
    case newErrorCode
    /// More failed rows than this.
    case failedRows(above: Int)
    /// A direction whose last successful pull is older than this.
    case noSuccessfulPull(for: Duration)
    /// A resource type staged up to an instant older than this.
    case watermarkLag(above: Duration)
    /// The last job of a direction stopped because the other system refused our credentials.
    case signInRefused
    /// The Salesforce API usage above this share of the daily limit.
    case apiShare(above: Double)
    /// More conflicts than this waiting for a person (`hold`).
    case conflictsHeld(above: Int)
    /// A pull (an EMR export) running for longer than this.
    case exportStuck(for: Duration)

    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case newErrorCode, failedRows, noSuccessfulPull, watermarkLag, signInRefused, apiShare, conflictsHeld, exportStuck
    }

    public var kind: Kind {
        switch self {
        case .newErrorCode: .newErrorCode
        case .failedRows: .failedRows
        case .noSuccessfulPull: .noSuccessfulPull
        case .watermarkLag: .watermarkLag
        case .signInRefused: .signInRefused
        case .apiShare: .apiShare
        case .conflictsHeld: .conflictsHeld
        case .exportStuck: .exportStuck
        }
    }

    /// How bad it is unless the configuration says otherwise.
    public var defaultSeverity: AlertSeverity {
        switch self {
        case .noSuccessfulPull, .signInRefused: .critical
        default: .warning
        }
    }
}

/// A rule as configured: the rule with its threshold, and its severity.
public struct ConfiguredAlertRule: Sendable, Hashable {
    public var rule: AlertRule
    public var severity: AlertSeverity

    public init(_ rule: AlertRule, severity: AlertSeverity? = nil) {
        self.rule = rule
        self.severity = severity ?? rule.defaultSeverity
    }

    init(kind: AlertRule.Kind, reader: YAMLReader) throws(ConfigurationError) {
        let keys = try reader.mapping(allowed: AlertSettings.keys["alerts.rules.*"]!)
        func count(_ key: String) throws(ConfigurationError) -> Int {
            let value = try keys.required(key)
            let number = try value.int()
            guard number >= 0 else { throw value.error("must be 0 or more") }
            return number
        }
        func duration(_ key: String) throws(ConfigurationError) -> Duration {
            let value = try keys.required(key)
            let duration = try value.duration()
            guard duration >= .seconds(1) else { throw value.error("must be at least 1s") }
            return duration
        }
        func share(_ key: String) throws(ConfigurationError) -> Double {
            let value = try keys.required(key)
            let share = try value.double()
            guard share > 0, share <= 1 else { throw value.error("must be a share of the daily limit, above 0 and at most 1 (0.8 for 80%)") }
            return share
        }
        let (rule, expected): (AlertRule, String?) =
            switch kind {
            case .newErrorCode: (.newErrorCode, nil)
            case .failedRows: (.failedRows(above: try count("above")), "above")
            case .noSuccessfulPull: (.noSuccessfulPull(for: try duration("for")), "for")
            case .watermarkLag: (.watermarkLag(above: try duration("above")), "above")
            case .signInRefused: (.signInRefused, nil)
            case .apiShare: (.apiShare(above: try share("above")), "above")
            case .conflictsHeld: (.conflictsHeld(above: try count("above")), "above")
            case .exportStuck: (.exportStuck(for: try duration("for")), "for")
            }
        for (key, value) in keys.entries where key != "severity" && key != expected {
            throw value.error(expected.map { "this rule takes \"\($0)\", not \"\(key)\"" } ?? "this rule takes no threshold")
        }
        self.init(rule, severity: try keys["severity"]?.enum(AlertSeverity.self, what: "severity"))
    }
}

/// Where alerts are posted, and in which shape.
public struct WebhookTarget: Sendable, Hashable {
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// Stagelink's own JSON body (docs/monitoring.md).
        case generic
        /// A Slack incoming webhook (`{"text", "blocks"}`).
        case slack
        /// A Microsoft Teams workflow or incoming webhook (an Adaptive Card in a message).
        case teams
    }

    /// How the store and the logs name it: its URL may hold a secret and is never written anywhere.
    public var name: String
    public var url: URL
    public var format: Format
    /// Attempts per delivery, the first one included.
    public var maxAttempts: Int
    /// The whole-request deadline of one attempt.
    public var timeout: Duration
    /// The wait before the second attempt; doubled for each later one.
    public var retryDelay: Duration

    public init(name: String, url: URL, format: Format = .generic, maxAttempts: Int = 4, timeout: Duration = .seconds(10), retryDelay: Duration = .seconds(2)) {
        self.name = name
        self.url = url
        self.format = format
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.retryDelay = retryDelay
    }

    init(reader: YAMLReader, expand: (YAMLReader) throws(ConfigurationError) -> String) throws(ConfigurationError) {
        let keys = try reader.mapping(allowed: AlertSettings.keys["alerts.webhooks[]"]!)
        let nameReader = try keys.required("name")
        let name = try nameReader.string()
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw nameReader.error("a webhook name is 1 to 64 letters, digits, -, _ or .")
        }
        let urlReader = try keys.required("url")
        guard let parsed = URL(string: try expand(urlReader)) else { throw urlReader.error("not a URL") }
        let url: URL
        do {
            url = try EndpointURL.validated(parsed, setting: urlReader.keyPath)
        } catch {
            // The URL is not repeated: a webhook URL is a secret.
            throw urlReader.error("webhooks are posted over https (plain http only to a loopback address)")
        }
        self.init(name: name, url: url)
        if let value = keys["format"] { format = try value.enum(Format.self, what: "format") }
        if let value = keys["maxAttempts"] {
            maxAttempts = try value.int()
            guard (1...10).contains(maxAttempts) else { throw value.error("must be between 1 and 10") }
        }
        if let value = keys["timeout"] {
            timeout = try value.duration()
            guard timeout >= .seconds(1) else { throw value.error("must be at least 1s") }
        }
    }
}
