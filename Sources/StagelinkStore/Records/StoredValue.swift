import StagelinkEngine

/// Reads a value the store keeps as its raw text (a status, a rule, a system), strictly: a value
/// this build does not know is an error naming the column and the value, never a default. A row
/// whose status no longer reads is evidence someone must look at, not a row to treat as staged.
///
/// For example:
///
/// ```swift
/// let status: RowStatus = try StoredValue.decode(record.status, "staged_row.status")
/// // throws UnreadableValue(column: "staged_row.status", value: "stagd") for a value this build does not know
/// ```
package enum StoredValue {
    package static func decode<Value: RawRepresentable>(_ text: String, _ column: String) throws -> Value where Value.RawValue == String {
        guard let value = Value(rawValue: text) else { throw UnreadableValue(column: column, value: text) }
        return value
    }

    /// An optional column: absent stays absent; present must read.
    package static func decode<Value: RawRepresentable>(_ text: String?, _ column: String) throws -> Value? where Value.RawValue == String {
        try text.map { try decode($0, column) }
    }
}

/// A stored value that this version of Stagelink does not know.
public struct UnreadableValue: Error, Sendable, Hashable, CustomStringConvertible {
    public var column: String
    public var value: String

    public var description: String { "the store holds \"\(value)\" in \(column), which this version of Stagelink does not know" }
}
