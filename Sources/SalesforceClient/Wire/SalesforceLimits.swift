import StagelinkEngine
import StagelinkHTTP

/// Keeps the client within its share of the org's daily API limit: reads `Sforce-Limit-Info`
/// (`api-usage=18/5000`) from every answer and refuses to send once the share is used.
///
/// For example:
///
/// ```swift
/// SalesforceLimits.usage(inHeader: "api-usage=4100/5000")   // APIUsage(used: 4100, limit: 5000)
/// ```
struct SalesforceLimits: RequestMetering {
    let meter: APIMeter
    let share: Double

    func admit(_ request: HTTPRequest) throws(RemoteCallError) {
        guard let usage = meter.usage, usage.limit > 0, usage.share >= share else { return }
        let percent = Int((share * 100).rounded())
        throw RemoteCallError(
            .limitReached,
            LinkError(
                .apiLimitShareReached,
                message: "the org has used \(usage.used) of its \(usage.limit) daily API requests, the configured \(percent)% share"))
    }

    func usage(in response: HTTPResponse) -> APIUsage? {
        Self.usage(inHeader: response.headers["Sforce-Limit-Info"])
    }

    /// Salesforce refuses a request while 25 (production and sandbox orgs; 5 in Developer Edition)
    /// requests of 20 seconds or longer run: `REQUEST_LIMIT_EXCEEDED`, "Any new concurrent requests
    /// aren't processed until there are fewer requests than the allowed limit" (Salesforce
    /// Developer Limits and Allocations, "API Request Limits and Allocations"; REST API "Status
    /// Codes and Error Responses": 403 with `REQUEST_LIMIT_EXCEEDED`). Its message names the
    /// `ConcurrentPerOrgLongTxn` limit; the daily limit's names `TotalRequests` and stops the job.
    /// The concurrent one passes as requests finish: transient, a throttle to back off from.
    func throttle(in response: HTTPResponse) -> RemoteCallError? {
        guard response.status == 403 || response.status == 429 else { return nil }
        let error = SalesforceErrors.callError(response).error
        guard error.catalogued == .requestLimitExceeded, Self.isConcurrencyLimit(error.message) else { return nil }
        return RemoteCallError(.transient, error)
    }

    /// Whether a `REQUEST_LIMIT_EXCEEDED` message is the concurrent long-request limit's.
    static func isConcurrencyLimit(_ message: String) -> Bool {
        message.contains("ConcurrentPerOrgLongTxn")
    }

    /// The `api-usage` entry of the header, which may list other entries (`per-app-api-usage=…`).
    static func usage(inHeader header: String?) -> APIUsage? {
        guard let header else { return nil }
        for entry in header.split(separator: ",") {
            let pair = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == "api-usage" else { continue }
            let numbers = pair[1].split(separator: "/").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard numbers.count == 2, numbers[0] >= 0, numbers[1] >= 0 else { return nil }
            return APIUsage(used: numbers[0], limit: numbers[1])
        }
        return nil
    }
}
