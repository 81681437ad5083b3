/// Why a JSON text could not be read, and where.
///
/// The description names the position and the problem, never the text around it: payloads hold
/// patient data and this message may reach a log line.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    /// Byte offset of the problem from the start of the text.
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(reason: String, offset: Int, line: Int, column: Int) {
        self.reason = reason
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var description: String { "invalid JSON at line \(line), column \(column): \(reason)" }
}
