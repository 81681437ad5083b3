import Foundation

/// An instant in milliseconds since 1970, with the wire formats both simulators use.
///
/// For example:
///
/// ```swift
/// let instant = SandboxInstant(milliseconds: 1_700_000_000_123)
/// instant.fhirInstant        // "2023-11-14T22:13:20.123Z"
/// instant.salesforceDateTime // "2023-11-14T22:13:20.123+0000"
/// ```
public struct SandboxInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    /// The instant `milliseconds` after 1970-01-01T00:00:00Z.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The instant of a Foundation date, to the millisecond.
    public init(_ date: Date) { self.milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// This instant as a Foundation date.
    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    public static func < (lhs: SandboxInstant, rhs: SandboxInstant) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// This instant moved by a number of seconds.
    public func adding(seconds: Double) -> SandboxInstant {
        SandboxInstant(milliseconds: milliseconds + Int64((seconds * 1000).rounded()))
    }

    /// FHIR `instant`: UTC with milliseconds, `2024-03-01T09:30:00.000Z`.
    public var fhirInstant: String { formatted(zone: "Z") }

    /// Salesforce `dateTime` as the REST API returns it: `2024-03-01T09:30:00.000+0000`.
    public var salesforceDateTime: String { formatted(zone: "+0000") }

    /// The calendar date in UTC, `2024-03-01`.
    public var dateOnly: String {
        let (year, month, day, _, _, _, _) = components
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public var description: String { fhirInstant }

    private func formatted(zone: String) -> String {
        let (year, month, day, hour, minute, second, millisecond) = components
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
            + ".\(pad(millisecond, 3))\(zone)"
    }

    private var components: (Int, Int, Int, Int, Int, Int, Int) {
        let millisecond = Int(((milliseconds % 1000) + 1000) % 1000)
        let totalSeconds = (milliseconds - Int64(millisecond)) / 1000
        let days = Int(floorDivide(totalSeconds, 86_400))
        let secondOfDay = Int(totalSeconds - Int64(days) * 86_400)
        let (year, month, day) = CivilDate.fromDays(days)
        return (year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60, millisecond)
    }

    private func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// Parses an ISO 8601 date-time as FHIR and SOQL write it: `2024-03-01T09:30:00Z`,
    /// with optional fractional seconds and a `Z`, `+hh:mm` or `+hhmm` zone. Nil when malformed.
    public init?(iso8601 text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, let date = CivilDate(bytes: bytes[0..<10]), bytes[10] == UInt8(ascii: "T"),
            let hour = Self.digits(bytes, 11, 2), bytes[13] == UInt8(ascii: ":"),
            let minute = Self.digits(bytes, 14, 2), bytes[16] == UInt8(ascii: ":"),
            let second = Self.digits(bytes, 17, 2), hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var millisecond = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 100
            let start = index
            while index < bytes.count, let digit = Self.digits(bytes, index, 1) {
                millisecond += digit * scale
                scale /= 10
                index += 1
            }
            guard index > start, index < bytes.count else { return nil }
        }
        var offsetMinutes = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = bytes[index] == UInt8(ascii: "+") ? 1 : -1
            let rest = bytes.count - index - 1
            if rest == 5, bytes[index + 3] == UInt8(ascii: ":"), let zoneHour = Self.digits(bytes, index + 1, 2),
                let zoneMinute = Self.digits(bytes, index + 4, 2)
            {
                offsetMinutes = sign * (zoneHour * 60 + zoneMinute)
            } else if rest == 4, let zoneHour = Self.digits(bytes, index + 1, 2),
                let zoneMinute = Self.digits(bytes, index + 3, 2)
            {
                offsetMinutes = sign * (zoneHour * 60 + zoneMinute)
            } else {
                return nil
            }
        default:
            return nil
        }
        let seconds = Int64(date.daysSince1970) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
            - Int64(offsetMinutes * 60)
        self.milliseconds = seconds * 1000 + Int64(millisecond)
    }

    static func digits(_ bytes: [UInt8], _ start: Int, _ count: Int) -> Int? {
        guard start + count <= bytes.count else { return nil }
        var value = 0
        for index in start..<(start + count) {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

/// A proleptic Gregorian calendar date, checked for validity (no 1985-13-45).
///
/// For example:
///
/// ```swift
/// CivilDate("2024-02-29") != nil  // true
/// CivilDate("1985-13-45") == nil  // true
/// ```
public struct CivilDate: Sendable, Hashable, Comparable {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A date from `YYYY-MM-DD`, nil when malformed or not on the calendar.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10 else { return nil }
        self.init(bytes: bytes[0..<10])
    }

    init?(bytes: ArraySlice<UInt8>) {
        let bytes = Array(bytes)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = SandboxInstant.digits(bytes, 0, 4), let month = SandboxInstant.digits(bytes, 5, 2),
            let day = SandboxInstant.digits(bytes, 8, 2)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// A date from its parts, nil when not on the calendar.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { lhs.daysSince1970 < rhs.daysSince1970 }

    /// `YYYY-MM-DD`.
    public var text: String {
        let monthText = month < 10 ? "0\(month)" : "\(month)"
        let dayText = day < 10 ? "0\(day)" : "\(day)"
        return "\(year)-\(monthText)-\(dayText)"
    }

    /// Days from 1970-01-01 (Howard Hinnant's algorithm).
    public var daysSince1970: Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func fromDays(_ days: Int) -> (Int, Int, Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// The date `days` days from 1970-01-01.
    public init(daysSince1970 days: Int) {
        let (year, month, day) = Self.fromDays(days)
        self.year = year
        self.month = month
        self.day = day
    }
}
