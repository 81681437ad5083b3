import Synchronization

/// How many calls to one system the linkers keep in flight at once, adjusted as the system
/// answers: additive increase, multiplicative decrease (AIMD, as TCP's congestion window).
///
/// The window starts at its maximum (`salesforce.concurrency`, `emr.concurrency`). A call that met
/// a throttling answer (a 429, Salesforce's limit on concurrent long requests: the client counts it
/// in its ``APIMeter``) halves the window, at most once for the calls that were in flight together
/// (those that started before the halving do not halve it again); every `limit` calls in a row
/// without one grow it by one, back up to the maximum.
///
/// For example:
///
/// ```swift
/// let window = ConcurrencyWindow(maximum: 4, meter: salesforce.meter)
/// let ticket = window.begin()
/// _ = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: batch)
/// window.end(ticket)   // a 429 met on the way: the window is 2 now
/// ```
public final class ConcurrencyWindow: Sendable {
    /// The configured concurrency: the window never grows past it.
    public let maximum: Int
    private let meter: APIMeter?
    private struct State {
        var limit: Int
        /// Calls finished without a throttle since the last change.
        var successes = 0
        /// The meter's throttle count when the window last shrank: a call that started before it
        /// was in flight with the call that shrank it.
        var shrunkAt: Int
        var changes: [Int] = []
    }

    private let state: Mutex<State>

    /// What ``begin()`` hands out and ``end(_:throttled:)`` takes back: the meter's throttle count
    /// when the call started.
    public struct Ticket: Sendable {
        let throttles: Int
    }

    public init(maximum: Int, meter: APIMeter?) {
        self.maximum = max(1, maximum)
        self.meter = meter
        state = Mutex(State(limit: max(1, maximum), shrunkAt: meter?.throttles ?? 0))
    }

    /// How many calls may be in flight now.
    public var limit: Int { state.withLock { $0.limit } }

    /// Every value the window took after its first, in order: for tests and the job's events.
    public var history: [Int] { state.withLock { $0.changes } }

    /// A call starts.
    public func begin() -> Ticket { Ticket(throttles: meter?.throttles ?? 0) }

    /// A call ended; `throttled` when its failure itself was a throttling answer (a client without
    /// a meter, or one whose retries gave up on a 429). Returns the new limit when it changed.
    @discardableResult
    public func end(_ ticket: Ticket, throttled: Bool = false) -> Int? {
        let now = meter?.throttles ?? 0
        return state.withLock { state -> Int? in
            if throttled || now > ticket.throttles {
                // Calls in flight when the window last shrank met the same congestion: one halving.
                if meter != nil {
                    guard ticket.throttles >= state.shrunkAt else { return nil }
                    state.shrunkAt = now
                }
                state.successes = 0
                let shrunk = max(1, state.limit / 2)
                guard shrunk != state.limit else { return nil }
                state.limit = shrunk
                state.changes.append(shrunk)
                return shrunk
            }
            state.successes += 1
            guard state.limit < maximum, state.successes >= state.limit else { return nil }
            state.successes = 0
            state.limit += 1
            state.changes.append(state.limit)
            return state.limit
        }
    }
}

extension LinkError {
    /// The codes of a throttling answer: HTTP 429, Salesforce's `REQUEST_LIMIT_EXCEEDED` (its
    /// limit on concurrent long requests; the daily limit stops the job before it is a row's
    /// error), and FHIR's `throttled` issue type.
    public static let throttleCodes: Set<String> = [ErrorCode.http429.rawValue, ErrorCode.requestLimitExceeded.rawValue, ErrorCode.fhirThrottled.rawValue]
}
