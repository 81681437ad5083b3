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
