/// A configuration file (mapping, service config, theme) that cannot be used, and exactly where.
///
/// For example: `config/mapping.yaml:57:18: inbound[0].fields[3].owner: unknown rule "emrr"
/// (expected one of emr, salesforce, emr-unless-blank, salesforce-unless-blank, hold)`.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// The key path inside the document (`inbound[0].fields[3].owner`); empty for the whole file.
    public var key: String
    public var message: String

    public init(file: String, line: Int?, column: Int?, key: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}
