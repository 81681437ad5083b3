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
