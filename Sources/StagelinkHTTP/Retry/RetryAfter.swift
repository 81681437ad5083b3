import Foundation
import StagelinkEngine

/// Reads a `Retry-After` header: delay-seconds (`120`) or an HTTP-date
/// (`Wed, 26 Nov 2026 07:28:00 GMT`).
public enum RetryAfter {
    /// The wait the header asks for, measured from `now`; nil when absent or unreadable.
    public static func parse(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if value.allSatisfy(\.isASCIIDigit) {
            // More seconds than an Int holds is still a request to wait: longer than any cap,
            // so the call is given up rather than retried at once (and nothing overflows).
            guard let seconds = Int64(value) else { return .seconds(Int64.max) }
            return .seconds(seconds)
        }
        guard let date = httpDate(value) else { return nil }
        return .milliseconds(max(0, Int64((date.timeIntervalSince(now) * 1000).rounded(.up))))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// An IMF-fixdate, the only form RFC 9110 lets a sender produce.
    static func httpDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let monthIndex = months.firstIndex(of: String(parts[2])),
            parts[1].count == 2, parts[3].count == 4, parts[4].count == 8
        else { return nil }
        let month = monthIndex + 1
        let iso = "\(parts[3])-\(month < 10 ? "0" : "")\(month)-\(parts[1])T\(parts[4])Z"
        return Timestamp.parse(iso)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
