/// How the shared transport talks to one service: timeouts, retries and connection pooling.
///
/// FoundationNetworking on Linux offers no connect-only timeout: its one timer is an idle timer
/// (no byte sent or received), which bounds connecting and every silence after it. The
/// whole-request deadline is enforced by the client itself, so a server that trickles bytes
/// cannot hold a call for longer than `requestTimeout`.
///
/// For example:
///
/// ```swift
/// var http = HTTPConfiguration()
/// http.idleTimeout = .seconds(10)
/// http.requestTimeout = .seconds(60)
/// http.retry.maximumAttempts = 5
/// ```
public struct HTTPConfiguration: Sendable, Hashable {
    /// How long a call may go without a byte moving, connecting included, before it is abandoned.
    public var idleTimeout: Duration
    /// The most one attempt may take from start to complete answer, however the bytes trickle.
    public var requestTimeout: Duration
    /// When and how often failed calls are sent again.
    public var retry: RetryPolicy
    /// The most connections kept open to one host; calls beyond it wait for a free one.
    public var maximumConnectionsPerHost: Int

    public init(
        idleTimeout: Duration = .seconds(30), requestTimeout: Duration = .seconds(120), retry: RetryPolicy = RetryPolicy(),
        maximumConnectionsPerHost: Int = 4
    ) {
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.retry = retry
        self.maximumConnectionsPerHost = maximumConnectionsPerHost
    }
}
