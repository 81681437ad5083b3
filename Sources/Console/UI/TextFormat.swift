import Foundation

/// How the console writes numbers, times and durations: the same on every screen, and without the
/// process locale, so that a test renders what a terminal shows.
///
/// For example:
///
/// ```swift
/// let format = TextFormat(timeZone: .gmt, now: Date())
/// format.grouped(1_000_000)        // "1,000,000"
/// format.duration(72)              // "1m 12s"
/// ```
struct TextFormat {
    var timeZone: TimeZone
    var now: Date
    private let calendar: Calendar

    init(timeZone: TimeZone, now: Date) {
        self.timeZone = timeZone
        self.now = now
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    func grouped(_ number: Int) -> String {
        let digits = String(number.magnitude)
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return number < 0 ? "-" + text : text
    }

    /// `10:15:03`.
    func clock(_ date: Date) -> String {
        let parts = calendar.dateComponents([.hour, .minute, .second], from: date)
        return "\(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second))"
    }

    /// The time alone for today, the date and minute otherwise: `10:15:03`, `11-24 10:15`,
    /// `2025-11-24`.
    func stamp(_ date: Date) -> String {
        if calendar.isDate(date, inSameDayAs: now) { return clock(date) }
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        if parts.year == calendar.component(.year, from: now) {
            return "\(pad(parts.month))-\(pad(parts.day)) \(pad(parts.hour)):\(pad(parts.minute))"
        }
        return "\(parts.year ?? 0)-\(pad(parts.month))-\(pad(parts.day))"
    }

    /// `2026-11-26 10:15:03`, for the detail pane where the whole instant matters.
    func dateTime(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return "\(parts.year ?? 0)-\(pad(parts.month))-\(pad(parts.day)) \(clock(date))"
    }

    /// `just now`, `42s ago`, `3m ago`, `2h ago`, `5d ago`; `in 2m` for the future.
    func ago(_ date: Date) -> String {
        let seconds = now.timeIntervalSince(date)
        if abs(seconds) < 2 { return "just now" }
        let text = compact(abs(seconds))
        return seconds >= 0 ? "\(text) ago" : "in \(text)"
    }

    /// `420ms`, `12s`, `1m 12s`, `2h 5m`, `3d 4h`.
    func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "—" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        let whole = Int(seconds.rounded())
        switch whole {
        case ..<60: return "\(whole)s"
        case ..<3600: return whole % 60 == 0 ? "\(whole / 60)m" : "\(whole / 60)m \(whole % 60)s"
        case ..<86_400: return whole % 3600 / 60 == 0 ? "\(whole / 3600)h" : "\(whole / 3600)h \(whole % 3600 / 60)m"
        default: return "\(whole / 86_400)d \(whole % 86_400 / 3600)h"
        }
    }

    /// The largest unit only: `3m`, `2h`.
    private func compact(_ seconds: Double) -> String {
        let whole = Int(seconds)
        switch whole {
        case ..<60: return "\(whole)s"
        case ..<3600: return "\(whole / 60)m"
        case ..<86_400: return "\(whole / 3600)h"
        default: return "\(whole / 86_400)d"
        }
    }

    private func pad(_ value: Int?) -> String {
        let number = value ?? 0
        return number < 10 ? "0\(number)" : "\(number)"
    }
}
