import StagelinkEngine

extension Theme {
    /// Reads a theme file. Every mistake names the file, line and key:
    /// `themes/mine.yaml:7:5: styles.status.okk: unknown key (expected one of error, inactive, ok, pending, warning)`.
    public static func load(contentsOf path: String) throws(ConfigurationError) -> Theme {
        try Theme(reader: YAMLReader.load(contentsOf: path), name: Self.name(ofFile: path))
    }

    public init(yaml: String, file: String) throws(ConfigurationError) {
        try self.init(reader: YAMLReader.parse(yaml, file: file), name: Self.name(ofFile: file))
    }

    private static func name(ofFile path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file.hasSuffix(".yaml") ? String(file.dropLast(5)) : file
    }

    private static let styleKeys: Set<String> = ["fg", "bg", "attrs"]

    /// Role keys grouped by their first part: `table` → `header`, `cursor`, `marked`; a role
    /// without a dot stands alone.
    private static var groups: [String: [String: Role]] {
        var groups: [String: [String: Role]] = [:]
        for role in Role.allCases {
            let parts = role.themeKey.split(separator: ".", maxSplits: 1).map(String.init)
            groups[parts[0], default: [:]][parts.count == 2 ? parts[1] : ""] = role
        }
        return groups
    }

    init(reader: YAMLReader, name: String) throws(ConfigurationError) {
        let document = try reader.mapping(allowed: ["description", "styles"])
        if let description = document["description"] { _ = try description.string() }
        var styles: [Role: CellStyle] = [:]
        let groups = Self.groups
        for (key, value) in try document.required("styles").mapping(allowed: Set(groups.keys)).entries {
            guard let members = groups[key] else { continue }
            if let role = members[""] {
                styles[role] = try Self.style(value)
                continue
            }
            for (member, style) in try value.mapping(allowed: Set(members.keys)).entries {
                if let role = members[member] { styles[role] = try Self.style(style) }
            }
        }
        self.init(name: name, styles: styles)
    }

    private static func style(_ reader: YAMLReader) throws(ConfigurationError) -> CellStyle {
        let keys = try reader.mapping(allowed: styleKeys)
        var style = CellStyle()
        if let foreground = keys["fg"] { style.foreground = try color(foreground) }
        if let background = keys["bg"] { style.background = try color(background) }
        if let attributes = keys["attrs"] {
            for element in try attributes.sequence() {
                style.attributes.insert(try element.enum(TextAttribute.self, what: "attribute"))
            }
        }
        return style
    }

    private static func color(_ reader: YAMLReader) throws(ConfigurationError) -> ThemeColor {
        let text = try reader.string()
        guard let color = ThemeColor(text) else {
            throw reader.error("unknown colour \"\(text)\" (expected default, a name such as red or bright-blue, a number 0–255, or #rrggbb)")
        }
        return color
    }
}
