/// A token, key or client secret: usable by the code that needs it, invisible to everything else.
///
/// Its description, debug description and reflection all print `‹redacted›`, so that a secret put
/// into a log line, an error message or a `dump` by mistake shows nothing.
///
/// For example:
///
/// ```swift
/// let token = Secret("00Dxx0000001gPL!AR8AQ…")
/// logger.info("renewed \(token)")           // renewed ‹redacted›
/// request.headers["Authorization"] = "Bearer " + token.reveal()
/// ```
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    public init(_ value: String) { self.value = value }

    /// The secret itself, for the one place that must send it.
    public func reveal() -> String { value }

    public var isEmpty: Bool { value.isEmpty }

    public var description: String { "‹redacted›" }
    public var debugDescription: String { "‹redacted›" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
