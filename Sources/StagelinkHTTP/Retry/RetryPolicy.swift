/// Exponential backoff with jitter, a bounded number of attempts, and `Retry-After` honoured.
///
/// The wait before attempt *n + 1* is drawn between half and all of
/// `min(maximumDelay, initialDelay × 2ⁿ⁻¹)` ("equal jitter"), so that clients that failed together
/// do not come back together. When the server says how long to wait (`Retry-After`), that wait is
/// used instead, unless it is longer than `maximumRetryAfter`, in which case the call fails at once
/// rather than holding the job.
///
/// For example:
///
/// ```swift
/// let policy = RetryPolicy(maximumAttempts: 4, initialDelay: .milliseconds(500))
/// var random = SystemRandomNumberGenerator()
/// policy.delay(afterAttempt: 1, retryAfter: nil, using: &random)   // 250–500 ms
/// policy.delay(afterAttempt: 4, retryAfter: nil, using: &random)   // nil: no attempt left
/// ```
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included; 1 never retries.
    public var maximumAttempts: Int
    /// The backoff before the second attempt (before jitter).
    public var initialDelay: Duration
    /// The longest backoff between two attempts.
    public var maximumDelay: Duration
    /// The longest `Retry-After` waited for; a longer one fails the call at once.
    public var maximumRetryAfter: Duration

    public init(
        maximumAttempts: Int = 4, initialDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(30),
        maximumRetryAfter: Duration = .seconds(120)
    ) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// No retries at all.
    public static let never = RetryPolicy(maximumAttempts: 1)

    /// The wait before the attempt after `attempt` (1-based), or nil when no attempt is left or the
    /// server asks for a longer wait than `maximumRetryAfter`.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?, using random: inout some RandomNumberGenerator) -> Duration? {
        guard attempt < maximumAttempts else { return nil }
        if let retryAfter {
            return retryAfter <= maximumRetryAfter ? max(retryAfter, .zero) : nil
        }
        let ceiling = min(maximumDelay, initialDelay * (1 << min(attempt - 1, 30)))
        let half = ceiling / 2
        let jitterNanoseconds = Int64.random(in: 0...max(0, Self.nanoseconds(half)), using: &random)
        return half + .nanoseconds(jitterNanoseconds)
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
