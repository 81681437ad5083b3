import Foundation
import StagelinkEngine

/// Everything the console needs besides the store and its actions: what to show in the header,
/// how it looks, who is at the keyboard, and whether actions are allowed.
///
/// For example:
///
/// ```swift
/// var configuration = ConsoleConfiguration(storePath: "stagelink.sqlite")
/// configuration.themeName = "light"
/// configuration.readOnly = true
/// ```
public struct ConsoleConfiguration: Sendable {
    /// The two systems' addresses, shown in the header; nil when not configured.
    public struct Endpoints: Sendable, Hashable {
        public var emr: String?
        public var salesforce: String?

        public init(emr: String? = nil, salesforce: String? = nil) {
            self.emr = emr
            self.salesforce = salesforce
        }
    }

    /// The store's path (or a PostgreSQL store's URL without its password), as the header shows it.
    public var storePath: String
    /// The folder for what `y` copies and `o` hands to the pager; nil: the store file's folder.
    public var handoffFolder: String?
    public var endpoints: Endpoints
    /// The mapping file, which resolves an error's Salesforce field names (`Birthdate`) to payload
    /// paths (`birthDate`) for the highlight; nil shows errors without it.
    public var mapping: MappingDocument?
    /// A theme name (`dark`, `light`, `high-contrast`, `monochrome`) or a theme file's path.
    public var themeName: String
    public var themes: ThemeLibrary
    /// False under `NO_COLOR`: attributes only.
    public var usesColour: Bool
    /// Compliance reviewers look without touching: every action is refused, and the screen says so.
    public var readOnly: Bool
    /// Named in the audit trail of every action.
    public var operatorName: String
    /// The view shown first.
    public var initialTab: ConsoleTab
    /// The schedule and API share health is judged against (the header, the Jobs view).
    public var healthThresholds = ServiceHealth.Thresholds()
    /// How often the store's change token is polled.
    public var refreshInterval: Duration
    /// How far back the live view's sparklines look.
    public var sparklineSpan: Duration
    public var timeZone: TimeZone
    /// The current time; fixed in tests so that "2m ago" renders the same every run.
    public var clock: @Sendable () -> Date

    public init(
        storePath: String, endpoints: Endpoints = Endpoints(), mapping: MappingDocument? = nil, themeName: String = ConsoleConfiguration.defaultThemeName,
        themes: ThemeLibrary = .standard(), usesColour: Bool = ConsoleConfiguration.colourAllowed(), readOnly: Bool = false,
        operatorName: String = ConsoleConfiguration.loginName(), initialTab: ConsoleTab = .live, refreshInterval: Duration = .milliseconds(500),
        sparklineSpan: Duration = .seconds(6 * 3600), timeZone: TimeZone = .current, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.storePath = storePath
        self.endpoints = endpoints
        self.mapping = mapping
        self.themeName = themeName
        self.themes = themes
        self.usesColour = usesColour
        self.readOnly = readOnly
        self.operatorName = operatorName
        self.initialTab = initialTab
        self.refreshInterval = refreshInterval
        self.sparklineSpan = sparklineSpan
        self.timeZone = timeZone
        self.clock = clock
    }

    /// Whether colour may be used: not when `NO_COLOR` is set to anything (https://no-color.org).
    public static func colourAllowed(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["NO_COLOR"].map(\.isEmpty) ?? true
    }

    /// The person logged in at this terminal: `$USER`, `$LOGNAME`, or the user database's name.
    public static func loginName(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let user = environment["USER"] ?? environment["LOGNAME"], !user.isEmpty { return user }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(getuid())"
    }

    /// The theme used when none is named.
    public static let defaultThemeName = "dark"

    /// The theme this configuration names, without colour when colour is not allowed. A theme
    /// named on purpose must be found; the default one falls back to the built-in attributes, so
    /// that a binary installed without its themes folder still starts.
    public func loadTheme(named name: String? = nil) throws(ConfigurationError) -> Theme {
        let wanted = name ?? themeName
        let theme: Theme
        if wanted == Self.defaultThemeName && !themes.names.contains(wanted) {
            theme = .fallback
        } else {
            theme = try themes.theme(named: wanted)
        }
        return usesColour ? theme : theme.withoutColour()
    }
}
