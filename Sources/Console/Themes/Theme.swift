/// How the console looks: a colour and attributes for every role.
///
/// Themes are YAML files in a `themes/` folder (`dark`, `light`, `high-contrast`, `monochrome`
/// ship with Stagelink). A role the file does not name keeps its attribute-only default, so a
/// theme can be small. Colour is never the only signal: statuses carry words and symbols too.
///
/// For example:
///
/// ```swift
/// let theme = try Theme.load(named: "light", from: ThemeLibrary.standard())
/// theme.style(for: .cursor)    // CellStyle(foreground: .index(0), background: .index(6), attributes: [.bold])
/// ```
///
/// ## Topics
/// - ``CellStyle``
/// - ``ThemeColor``
/// - ``ThemeLibrary``
public struct Theme: Sendable, Hashable {
    /// The theme's name (its file name without `.yaml`).
    public var name: String
    public var styles: [Role: CellStyle]

    public init(name: String, styles: [Role: CellStyle]) {
        self.name = name
        self.styles = styles
    }

    public func style(for role: Role) -> CellStyle {
        styles[role] ?? role.fallbackStyle
    }

    /// Attributes only, for `NO_COLOR` and terminals without colour: each role keeps its attributes,
    /// and a role left with none takes its default, so that the cursor and marks still show.
    public func withoutColour() -> Theme {
        var plain = Theme(name: name, styles: [:])
        for role in Role.allCases {
            let attributes = style(for: role).attributes
            plain.styles[role] = CellStyle(attributes: attributes.isEmpty ? role.fallbackStyle.attributes : attributes)
        }
        return plain
    }

    /// Roles with attributes alone: the look when no theme file is found.
    public static let fallback = Theme(name: "built-in", styles: [:])
}

/// A colour and attributes for one role.
public struct CellStyle: Sendable, Hashable {
    public var foreground: ThemeColor
    public var background: ThemeColor
    public var attributes: Set<TextAttribute>

    public init(foreground: ThemeColor = .terminalDefault, background: ThemeColor = .terminalDefault, attributes: Set<TextAttribute> = []) {
        self.foreground = foreground
        self.background = background
        self.attributes = attributes
    }
}

/// A text attribute a terminal can show without colour.
public enum TextAttribute: String, Sendable, Hashable, CaseIterable {
    case bold, dim, italic, underline, reverse
}

/// A colour as a theme names it: the terminal's own default, one of the 256 indexed colours
/// (`red` is 1, `bright-black` is 8), or an RGB value that the terminal layer maps to the nearest
/// colour the terminal has.
public enum ThemeColor: Sendable, Hashable {
    case terminalDefault
    case index(Int)
    case rgb(red: Int, green: Int, blue: Int)

    /// The names a theme file may use for the first sixteen colours.
    public static let names: [String] = [
        "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
        "bright-black", "bright-red", "bright-green", "bright-yellow", "bright-blue", "bright-magenta", "bright-cyan", "bright-white",
    ]

    /// Reads `default`, a name, `grey`, a number 0–255 or `#rrggbb`; nil for anything else.
    public init?(_ text: String) {
        let word = text.lowercased()
        if word == "default" {
            self = .terminalDefault
        } else if word == "grey" || word == "gray" {
            self = .index(8)
        } else if let index = Self.names.firstIndex(of: word) {
            self = .index(index)
        } else if let number = Int(word), (0...255).contains(number) {
            self = .index(number)
        } else if word.hasPrefix("#"), word.count == 7, let value = Int(word.dropFirst(), radix: 16) {
            self = .rgb(red: value >> 16 & 0xFF, green: value >> 8 & 0xFF, blue: value & 0xFF)
        } else {
            return nil
        }
    }
}

extension Role {
    /// What a role looks like with no theme and no colour: enough attributes that the cursor, marks,
    /// the active tab and the highlighted field stand out on any terminal.
    public var fallbackStyle: CellStyle {
        switch self {
        case .cursor, .tabActive, .crumbActive: CellStyle(attributes: [.reverse])
        case .marked, .section: CellStyle(attributes: [.bold, .underline])
        case .highlight: CellStyle(attributes: [.reverse, .bold])
        case .match: CellStyle(attributes: [.reverse, .underline])
        case .logo, .title, .hintKey, .promptLabel, .dialogTitle, .error, .tableHeader: CellStyle(attributes: [.bold])
        case .muted, .inactive, .border: CellStyle(attributes: [.dim])
        case .escaped: CellStyle(attributes: [.underline])
        default: CellStyle()
        }
    }
}
