import Foundation
import Yams

/// Reads a YAML document key by key, so that every complaint names the file, line and key.
///
/// Decodable would say "data couldn't be read"; this says
/// `stagelink.yaml:4:12: schedule.every: "15 minutes" is not a duration (try 15m or 30s)`.
/// Unknown keys are errors too: a misspelt key must not be silently ignored.
///
/// For example:
///
/// ```swift
/// let root = try YAMLReader.load(contentsOf: "stagelink.yaml")
/// let store = try root.mapping(allowed: ["store", "schedule"])
/// let path = try store.required("store").string()
/// ```
public struct YAMLReader {
    public let node: Node
    public let file: String
    /// Where this node sits in the document (`inbound[0].fields`); empty at the root.
    public let keyPath: String

    public init(node: Node, file: String, keyPath: String = "") {
        self.node = node
        self.file = file
        self.keyPath = keyPath
    }

    /// Parses YAML text. A syntax error names its line and column.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> YAMLReader {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigurationError(file: file, line: nil, column: nil, key: "", message: "the file is empty")
            }
            return YAMLReader(node: node, file: file)
        } catch let error as ConfigurationError {
            throw error
        } catch let error as YamlError {
            throw Self.describe(error, file: file)
        } catch {
            throw ConfigurationError(file: file, line: nil, column: nil, key: "", message: "not readable as YAML")
        }
    }

    public static func load(contentsOf path: String) throws(ConfigurationError) -> YAMLReader {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, line: nil, column: nil, key: "", message: "cannot read the file (does it exist, and may this user read it?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, line: nil, column: nil, key: "", message: "the file is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    private static func describe(_ error: YamlError, file: String) -> ConfigurationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigurationError(file: file, line: mark.line, column: mark.column, key: "", message: "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigurationError(
                file: file, line: context.mark.line, column: context.mark.column, key: "",
                message: "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", "))")
        case .reader(let problem, _, _, _):
            return ConfigurationError(file: file, line: nil, column: nil, key: "", message: "YAML: \(problem)")
        default:
            return ConfigurationError(file: file, line: nil, column: nil, key: "", message: "not readable as YAML")
        }
    }

    /// An error pointing at this node.
    public func error(_ message: String) -> ConfigurationError {
        ConfigurationError(file: file, line: node.mark?.line, column: node.mark?.column, key: keyPath, message: message)
    }

    private func child(_ node: Node, key: String) -> YAMLReader {
        YAMLReader(node: node, file: file, keyPath: keyPath.isEmpty ? key : "\(keyPath).\(key)")
    }

    // MARK: - Containers

    /// This node as a mapping whose keys must all be in `allowed`.
    public func mapping(allowed: Set<String>) throws(ConfigurationError) -> YAMLMapping {
        guard let mapping = node.mapping else { throw error("expected a mapping of keys to values, found \(kind)") }
        var entries: [(key: String, value: YAMLReader)] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else { throw error("keys must be text") }
            guard allowed.contains(key) else {
                let place = YAMLReader(node: keyNode, file: file, keyPath: keyPath.isEmpty ? key : "\(keyPath).\(key)")
                throw place.error("unknown key (expected one of \(allowed.sorted().joined(separator: ", ")))")
            }
            entries.append((key, child(valueNode, key: key)))
        }
        return YAMLMapping(reader: self, entries: entries)
    }

    /// This node as a list; each element knows its index for error messages.
    public func sequence() throws(ConfigurationError) -> [YAMLReader] {
        guard let sequence = node.sequence else { throw error("expected a list, found \(kind)") }
        return sequence.enumerated().map { index, element in
            YAMLReader(node: element, file: file, keyPath: "\(keyPath)[\(index)]")
        }
    }

    /// This node as a mapping of text keys to nodes, in document order (for open-ended maps such
    /// as code → picklist value).
    public func pairs() throws(ConfigurationError) -> [(key: String, value: YAMLReader)] {
        guard let mapping = node.mapping else { throw error("expected a mapping of keys to values, found \(kind)") }
        var result: [(key: String, value: YAMLReader)] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else { throw error("keys must be text") }
            result.append((key, child(valueNode, key: key)))
        }
        return result
    }

    // MARK: - Scalars

    /// The text of a scalar. A value left empty or written `~` / `null` is refused, not read as
    /// the text "~": a key that is present must say something.
    public func string() throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected text, found \(kind)") }
        guard node.null == nil else { throw error("has no value (it is empty, ~ or null); give a value or leave the key out") }
        return scalar.string
    }

    public func int() throws(ConfigurationError) -> Int {
        let text = try string()
        guard let value = Int(text) else { throw error("expected a whole number, found \"\(text)\"") }
        return value
    }

    /// A whole number within `range`; the message names the range, so `maxConnections: 0` says
    /// what is allowed.
    public func int(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = try string()
        guard let value = Int(text), range.contains(value) else {
            throw error("expected a whole number between \(range.lowerBound) and \(range.upperBound), found \"\(text)\"")
        }
        return value
    }

    public func double() throws(ConfigurationError) -> Double {
        let text = try string()
        guard let value = Double(text), value.isFinite else { throw error("expected a number, found \"\(text)\"") }
        return value
    }

    public func bool() throws(ConfigurationError) -> Bool {
        guard let value = node.bool else { throw error("expected true or false") }
        return value
    }

    public func `enum`<Value: RawRepresentable & CaseIterable>(_ type: Value.Type, what: String) throws(ConfigurationError) -> Value
    where Value.RawValue == String {
        let text = try string()
        guard let value = Value(rawValue: text) else {
            throw error("unknown \(what) \"\(text)\" (expected one of \(Value.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return value
    }

    /// A duration such as `15m`, `30s`, `2h`, `500ms` or a number of seconds, within `range`
    /// (at most ``Duration/longestAccepted`` whatever the range).
    public func duration(in range: ClosedRange<Duration> = Duration.zero...Duration.longestAccepted) throws(ConfigurationError) -> Duration {
        let text = try string()
        do {
            return try Duration.parse(text, in: range)
        } catch {
            throw self.error(error.message)
        }
    }

    public func strings() throws(ConfigurationError) -> [String] {
        var values: [String] = []
        for element in try sequence() { values.append(try element.string()) }
        return values
    }

    private var kind: String {
        switch node {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

/// The keys of one YAML mapping, checked against the allowed set.
public struct YAMLMapping {
    public let reader: YAMLReader
    public let entries: [(key: String, value: YAMLReader)]

    public subscript(key: String) -> YAMLReader? {
        entries.first { $0.key == key }?.value
    }

    public func required(_ key: String) throws(ConfigurationError) -> YAMLReader {
        guard let value = self[key] else { throw reader.error("missing required key \"\(key)\"") }
        return value
    }
}

extension Duration {
    /// The longest duration Stagelink reads anywhere (a schedule, a timeout, a `--every`): 366
    /// days. Longer values are refused when they are read, so no arithmetic on them can overflow.
    public static let longestAccepted: Duration = .seconds(366 * 86_400)

    /// Parses `15m`, `30s`, `2h`, `500ms`, `1d`, compounds such as `1h30m`, or a bare number of
    /// seconds; nil when the text is not a duration or is longer than ``longestAccepted``.
    public static func parse(_ text: String) -> Duration? {
        try? parse(text, in: Duration.zero...longestAccepted)
    }

    /// Parses a duration and checks it lies within `range`, with a message saying which rule
    /// the text broke: `"9999999999999h" is out of range (between 1s and 168h)`.
    ///
    /// For example:
    ///
    /// ```swift
    /// try Duration.parse("1h30m", in: Duration.seconds(1)...Duration.seconds(86_400))   // 5400 seconds
    /// ```
    public static func parse(_ text: String, in range: ClosedRange<Duration>) throws(DurationError) -> Duration {
        guard let seconds = totalSeconds(in: text) else {
            throw DurationError(message: "\"\(text)\" is not a duration (try 15m, 30s, 2h or 500ms)")
        }
        let longest = min(range.upperBound, longestAccepted)
        // Compared as seconds before any conversion to whole milliseconds: 1e17 or
        // 9999999999999h must be refused here, not trap in Int64(_:).
        guard seconds >= range.lowerBound.seconds, seconds <= longest.seconds else {
            throw DurationError(message: "\"\(text)\" is out of range (between \(range.lowerBound.compactText) and \(longest.compactText))")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The number of seconds `text` spells, unbounded; nil when it is not a duration.
    private static func totalSeconds(in text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let seconds = Double(trimmed) { return seconds.isFinite && seconds >= 0 ? seconds : nil }
        let unitSeconds: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400]
        var total = 0.0
        var rest = Substring(trimmed)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let value = Double(number), value.isFinite, let scale = unitSeconds[String(unit)] else { return nil }
            total += value * scale
        }
        return total.isFinite ? total : nil
    }

    /// Seconds as a Double, for arithmetic with dates.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }

    /// `15m`, `30s`, `1h30m`: the form `parse` reads.
    public var compactText: String {
        let total = Int(seconds.rounded())
        if total == 0 { return "\(Int((seconds * 1000).rounded()))ms" }
        var parts: [String] = []
        if total >= 3600 { parts.append("\(total / 3600)h") }
        if total % 3600 >= 60 { parts.append("\(total % 3600 / 60)m") }
        if total % 60 > 0 { parts.append("\(total % 60)s") }
        return parts.joined()
    }
}

/// Text that is not a duration, or a duration out of the range a setting allows.
public struct DurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
}
