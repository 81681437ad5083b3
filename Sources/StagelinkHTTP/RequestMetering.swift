import StagelinkEngine

/// What a client checks before each request and reads from each answer to keep an API budget.
///
/// Salesforce's implementation stops calls once the configured share of the org's daily limit is
/// used and reads `Sforce-Limit-Info`; services without a budget use ``unmetered``.
///
/// For example:
///
/// ```swift
/// struct Budget: RequestMetering {
///     func admit(_ request: HTTPRequest) throws(RemoteCallError) {}
///     func usage(in response: HTTPResponse) -> APIUsage? { nil }
/// }
/// ```
public protocol RequestMetering: Sendable {
    /// Throws (`.limitReached`) when the request must not be sent.
    func admit(_ request: HTTPRequest) throws(RemoteCallError)
    /// The usage the answer reports, if it reports any.
    func usage(in response: HTTPResponse) -> APIUsage?
    /// The error of an answer that says "too many at once" with a status other than 429
    /// (Salesforce's 403 `REQUEST_LIMIT_EXCEEDED` for concurrent long requests): the client counts
    /// it as a throttle and retries it as it retries a 429. Nil for any other answer (the default).
    func throttle(in response: HTTPResponse) -> RemoteCallError?
}

extension RequestMetering {
    public func throttle(in response: HTTPResponse) -> RemoteCallError? { nil }
}

/// No budget: every request is admitted and no answer reports usage.
public struct Unmetered: RequestMetering {
    public init() {}
    public func admit(_ request: HTTPRequest) throws(RemoteCallError) {}
    public func usage(in response: HTTPResponse) -> APIUsage? { nil }
}

extension RequestMetering where Self == Unmetered {
    public static var unmetered: Unmetered { Unmetered() }
}
