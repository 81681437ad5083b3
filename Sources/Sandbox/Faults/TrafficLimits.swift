import Synchronization

/// How long each simulator takes to answer, as real services do over the internet: Salesforce
/// answers a collections call in 100–500 ms, an EHR a create in 50–300 ms. Every call to an API
/// endpoint (token, data, FHIR) waits this long, give or take `jitter`, before it is answered;
/// the inspection endpoints answer at once.
///
/// For example:
///
/// ```swift
/// configuration.latency = try SandboxLatency(parsing: "salesforce=150ms,emr=80ms")
/// ```
public struct SandboxLatency: Sendable, Hashable, CustomStringConvertible {
    public var salesforce: Duration = .zero
    public var emr: Duration = .zero
    /// Each wait is drawn uniformly from ±this share of the latency (0.25: 150 ms is 112–187 ms).
    public var jitter: Double = 0.25

    public init(salesforce: Duration = .zero, emr: Duration = .zero, jitter: Double = 0.25) {
        self.salesforce = salesforce
        self.emr = emr
        self.jitter = jitter
    }

    /// `salesforce=150ms,emr=80ms`: either side may be left out (no latency); durations in `ms`
    /// or `s`, at most 10 s.
    public init(parsing text: String) throws(SandboxError) {
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let duration = Self.duration(pair[1]) else {
                throw .invalidSetting("a latency is salesforce=150ms,emr=80ms (milliseconds or seconds, at most 10s), not \"\(part)\"")
            }
            switch pair[0] {
            case "salesforce": salesforce = duration
            case "emr": emr = duration
            default: throw .invalidSetting("a latency names salesforce or emr, not \"\(pair[0])\"")
            }
        }
    }

    static func duration(_ text: String) -> Duration? {
        let milliseconds: Double?
        if text.hasSuffix("ms") {
            milliseconds = Double(text.dropLast(2))
        } else if text.hasSuffix("s") {
            milliseconds = Double(text.dropLast()).map { $0 * 1000 }
        } else {
            milliseconds = nil
        }
        guard let milliseconds, milliseconds.isFinite, (0...10_000).contains(milliseconds) else { return nil }
        return .microseconds(Int64(milliseconds * 1000))
    }

    public var description: String {
        "salesforce=\(Self.milliseconds(salesforce))ms,emr=\(Self.milliseconds(emr))ms"
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Waits as long as one answer of `system` takes.
    func wait(_ system: SandboxSystem) async throws {
        let base = system == .salesforce ? salesforce : emr
        guard base > .zero else { return }
        let spread = max(0, min(1, jitter))
        try await Task.sleep(for: base * Double.random(in: (1 - spread)...(1 + spread)))
    }
}

/// Salesforce's limit on concurrent long-running requests: while `limit` requests have been
/// running `threshold` or longer, a new request is refused with `REQUEST_LIMIT_EXCEEDED` until
/// fewer run (25 in production orgs and sandboxes, 5 in Developer Edition and trial orgs, for
/// requests of 20 seconds or longer: Salesforce Developer Limits and Allocations, "API Request
/// Limits and Allocations"; REST API "Status Codes and Error Responses": 403). The sandbox's
/// threshold can be lowered so that its short calls count (tests, benchmarks).
public struct LongRequestLimit: Sendable, Hashable {
    public var limit: Int
    public var threshold: Duration

    public init(limit: Int = 25, threshold: Duration = .seconds(20)) {
        self.limit = limit
        self.threshold = threshold
    }
}

/// The requests running on the Salesforce simulator, for ``LongRequestLimit``.
final class LongRequestGate: Sendable {
    private let state = Mutex<(next: Int, running: [Int: ContinuousClock.Instant])>((0, [:]))
    let rule: LongRequestLimit

    init(rule: LongRequestLimit) { self.rule = rule }

    /// A ticket for a request that may run; nil when `limit` long requests run already.
    func enter() -> Int? {
        let now = ContinuousClock.now
        return state.withLock { state -> Int? in
            let long = state.running.values.filter { now - $0 >= rule.threshold }.count
            guard long < rule.limit else { return nil }
            state.next += 1
            state.running[state.next] = now
            return state.next
        }
    }

    func leave(_ ticket: Int) {
        _ = state.withLock { $0.running.removeValue(forKey: ticket) }
    }
}

/// A rate: at most `requests` in any `period` (20 a second; 2,000 a minute).
public struct RequestRate: Sendable, Hashable, CustomStringConvertible {
    public var requests: Int
    public var period: Duration

    public init(requests: Int, per period: Duration = .seconds(1)) {
        self.requests = max(1, requests)
        self.period = period
    }

    public var description: String { "\(requests) per \(period)" }
}

/// An EHR's rate limit: at most `rate.requests` API requests in any `rate.period`; over it the
/// server answers 429 Too Many Requests with `Retry-After` (RFC 6585 §4) and an OperationOutcome
/// whose issue code is `throttled` (FHIR R4 IssueType). FHIR servers document such limits per
/// client (Zus Health: "rate limited at 20 requests per second per IP … will return HTTP 429";
/// Oracle Health Data Intelligence: "If the request rate exceeds a safe threshold, an HTTP 429
/// status code is returned … the system should retry the original request"). Token requests are
/// not counted.
final class RateGate: Sendable {
    let rate: RequestRate
    private let recent = Mutex<[ContinuousClock.Instant]>([])

    init(rate: RequestRate) { self.rate = rate }

    /// Nil when the request may go; otherwise the whole seconds until it may (`Retry-After`).
    func admit() -> Int? {
        let now = ContinuousClock.now
        return recent.withLock { recent -> Int? in
            recent.removeAll { now - $0 >= rate.period }
            guard recent.count >= rate.requests else {
                recent.append(now)
                return nil
            }
            let wait = rate.period - (now - recent[0])
            return max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
        }
    }
}
