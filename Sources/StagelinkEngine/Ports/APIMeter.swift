import Synchronization

/// Counts the calls a client makes and keeps the last usage the other system reported.
///
/// Jobs read it before and after their work to record how many API calls they made; the
/// console's header shows the usage.
public final class APIMeter: Sendable {
    private struct State {
        var calls = 0
        var throttles = 0
        var usage: APIUsage?
    }

    private let state = Mutex(State())

    public init() {}

    /// Called by a client once per HTTP request it sends, retries and token calls included.
    public func recordCall(usage: APIUsage? = nil) {
        state.withLock {
            $0.calls += 1
            if let usage { $0.usage = usage }
        }
    }

    /// Called by a client for each answer that says "too many at once, slow down" (a 429, or
    /// Salesforce's `REQUEST_LIMIT_EXCEEDED` for concurrent long requests), retried or not: what
    /// a ``ConcurrencyWindow`` shrinks on.
    public func recordThrottle() {
        state.withLock { $0.throttles += 1 }
    }

    public var calls: Int { state.withLock { $0.calls } }
    /// How many throttling answers the clients met so far.
    public var throttles: Int { state.withLock { $0.throttles } }
    public var usage: APIUsage? { state.withLock { $0.usage } }
}
