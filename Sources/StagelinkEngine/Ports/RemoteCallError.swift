/// A call to the other system that failed as a whole (as opposed to one record in it).
///
/// Clients have already retried what was worth retrying when they throw this; the kind tells the
/// engine what to do with the rows the call carried.
public struct RemoteCallError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// 429, 5xx, a timeout or a dropped connection, still failing after the retries: the rows
        /// fail with a transient error and are tried again on a later cycle.
        case transient
        /// The org's API limit (or the configured share of it) is reached: stop the job cleanly and
        /// leave the rows untouched for the next cycle.
        case limitReached
        /// Credentials were refused even after renewing the token.
        case unauthorized
        /// The other system refused the call itself (4xx): the rows fail with its answer.
        case rejected
        /// The answer could not be read (not JSON, wrong shape).
        case malformedResponse
    }

    public var kind: Kind
    /// Code, message and the other system's body, as it will be attached to the rows.
    public var error: LinkError

    public init(_ kind: Kind, _ error: LinkError) {
        self.kind = kind
        self.error = error
    }

    public var description: String { "\(kind.rawValue): \(error)" }

    /// Whether the job must stop rather than fail the rows.
    public var stopsJob: Bool { kind == .limitReached || kind == .unauthorized }
}
