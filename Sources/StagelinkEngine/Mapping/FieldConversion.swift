import Foundation

/// Conversions between JSON values and field values, per field type, in both directions.
///
/// One place decides what a valid date, code or reference is, for reading FHIR, reading
/// Salesforce records, and building FHIR resources from Salesforce values.
public enum FieldConversion {
    /// A FHIR (JSON) value read into a field value, checked against the field's type and length.
    public static func fieldValue(from raw: JSONValue, for field: FieldMapping) throws(LinkError) -> FieldValue {
        func fail(_ code: ErrorCode, _ message: String) -> LinkError {
            LinkError(code, message: "\(field.displayName) \(message)", fields: [field.field])
        }
        if raw.isNull { return .null }
        let value: FieldValue
        switch field.type {
        case .string:
            guard let text = raw.stringValue else { throw fail(.mappingWrongType, "should be text, found \(raw.kindName)") }
            if let control = firstControlCharacter(text) { throw fail(.mappingControlCharacter, "contains the control character \(control)") }
            value = .text(text)
        case .lines:
            if let text = raw.stringValue {
                if let control = firstControlCharacter(text.replacingOccurrences(of: "\n", with: "")) {
                    throw fail(.mappingControlCharacter, "contains the control character \(control)")
                }
                value = .text(text)
            } else if let items = raw.arrayValue {
                var lines: [String] = []
                for item in items {
                    guard let line = item.stringValue else { throw fail(.mappingWrongType, "should be a list of text lines") }
                    if let control = firstControlCharacter(line) { throw fail(.mappingControlCharacter, "contains the control character \(control)") }
                    lines.append(line)
                }
                value = lines.isEmpty ? .null : .text(lines.joined(separator: "\n"))
            } else {
                throw fail(.mappingWrongType, "should be a list of text lines, found \(raw.kindName)")
            }
        case .date:
            guard let text = raw.stringValue else { throw fail(.mappingWrongType, "should be a date, found \(raw.kindName)") }
            value = .text(try calendarDate(text, for: field, fail: fail).description)
        case .datetime:
            guard let text = raw.stringValue else { throw fail(.mappingWrongType, "should be a date-time, found \(raw.kindName)") }
            guard let instant = Timestamp.parse(text) else {
                throw fail(.mappingInvalidDate, "is not a valid date-time with a time zone")
            }
            value = .text(Timestamp.format(instant))
        case .integer:
            guard case .number(let lexeme) = raw, let integer = Int(lexeme) else {
                throw fail(.mappingWrongType, "should be a whole number, found \(raw.kindName)")
            }
            value = .number(String(integer))
        case .decimal:
            guard case .number(let lexeme) = raw, let number = FieldValue.number(canonicalizing: lexeme) else {
                throw fail(.mappingWrongType, "should be a number, found \(raw.kindName)")
            }
            value = number
        case .boolean:
            guard case .bool(let flag) = raw else { throw fail(.mappingWrongType, "should be true or false, found \(raw.kindName)") }
            value = .bool(flag)
        case .code:
            guard let code = raw.stringValue else { throw fail(.mappingWrongType, "should be a code, found \(raw.kindName)") }
            guard let label = field.values.first(where: { $0.code == code })?.label else {
                throw fail(.mappingUnknownCode, "has a code outside \(field.values.map(\.code).joined(separator: ", "))")
            }
            value = .text(label)
        case .reference:
            guard let reference = raw.stringValue else { throw fail(.mappingWrongType, "should be a reference, found \(raw.kindName)") }
            let prefix = (field.referenceResource ?? "") + "/"
            let id = reference.hasPrefix(prefix) ? String(reference.dropFirst(prefix.count)) : ""
            guard isFHIRID(id) else {
                throw fail(.mappingInvalidReference, "is not a reference to a \(field.referenceResource ?? "resource") (\(prefix)<id>)")
            }
            value = .text(id)
        case .instrument, .score, .severity:
            throw fail(.mappingWrongType, "is computed, not read")
        }
        if let maxLength = field.maxLength, case .text(let text) = value, text.count > maxLength {
            throw fail(.mappingTooLong, "is longer than \(maxLength) characters")
        }
        return value
    }

    /// The calendar date a `date` field reads from `text`: a FHIR `date`, partial ones as the
    /// field's `partial` option says; with `from: datetime`, the date of a `dateTime` with a time
    /// in the field's time zone (the EMR's, `emr.timeZone`).
    static func calendarDate(_ text: String, for field: FieldMapping, fail: (ErrorCode, String) -> LinkError) throws(LinkError) -> CalendarDate {
        if field.dateSource == .datetime, text.utf8.count > 10 {
            guard let instant = Timestamp.parse(text) else { throw fail(.mappingInvalidDate, "is not a valid date-time with a time zone") }
            return CalendarDate(instant, in: field.timeZone)
        }
        guard let (date, precision) = CalendarDate.fhir(text) else {
            throw fail(.mappingInvalidDate, "is not a valid full date (YYYY-MM-DD)")
        }
        guard precision == .day || field.partialDates == .firstDay else {
            throw fail(.mappingPartialDate, "is a partial date (\(precision.words)); the mapping's `partial: first-day` would take its first day")
        }
        return date
    }

    /// Whether `text` is a FHIR `id` (see ``FHIRID``).
    public static func isFHIRID(_ text: String) -> Bool { FHIRID.isValid(text) }

    /// The first control character (Unicode Cc: C0, DEL, C1) in `text`, as `U+001B`, if any.
    ///
    /// Mapped text is one line of a person's data: a control character there is damage, or an
    /// attack on whoever displays it (an escape sequence that clears a terminal, a carriage
    /// return that hides what precedes it). FHIR strings may not hold C0 controls but tab, CR
    /// and LF; a name holds none of them.
    static func firstControlCharacter(_ text: String) -> String? {
        // The control category (Cc) is exactly C0, DEL and C1; testing the values spares a
        // Unicode table lookup per character of every mapped string.
        text.unicodeScalars.first { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }.map { "U+" + String(format: "%04X", $0.value) }
    }

    /// A field value written back into FHIR JSON for this field (the reverse of `fieldValue`):
    /// picklist values become their codes, ids become references, text lines become a list.
    ///
    /// What goes out passes the same checks as what comes in: the JSON built is read back through
    /// `fieldValue(from:for:)`, so a control character, a value too long, a value of the wrong
    /// type or a reference to a non-id fails the Salesforce row here and never reaches the EMR.
    public static func json(from value: FieldValue, for field: FieldMapping) throws(LinkError) -> JSONValue? {
        let json = try unchecked(json: value, for: field)
        if let json, !field.type.isComputed { _ = try fieldValue(from: json, for: field) }
        return json
    }

    private static func unchecked(json value: FieldValue, for field: FieldMapping) throws(LinkError) -> JSONValue? {
        func fail(_ code: ErrorCode, _ message: String) -> LinkError {
            LinkError(code, message: "\(field.field) \(message)", fields: [field.field])
        }
        guard case .text(let text) = value else {
            return value == .null ? nil : value.json
        }
        if text.isEmpty { return nil }
        if let maxLength = field.maxLength, text.count > maxLength {
            throw fail(.mappingTooLong, "is longer than \(maxLength) characters")
        }
        switch field.type {
        case .code:
            guard let code = field.values.first(where: { $0.label == text })?.code else {
                throw fail(.mappingUnknownCode, "has a value outside \(field.values.map(\.label).joined(separator: ", "))")
            }
            return .string(code)
        case .reference:
            return .string("\(field.referenceResource ?? "")/\(text)")
        case .lines:
            return .array(text.split(separator: "\n", omittingEmptySubsequences: true).map { .string(String($0)) })
        case .date:
            guard let date = CalendarDate(text) else { throw fail(.mappingInvalidDate, "is not a valid full date (YYYY-MM-DD)") }
            return .string(date.description)
        case .datetime:
            guard let instant = Timestamp.parse(text) else { throw fail(.mappingInvalidDate, "is not a valid date-time") }
            return .string(Timestamp.format(instant))
        default:
            return .string(text)
        }
    }

    /// A value from a Salesforce record's JSON, normalised as this field's type so that it compares
    /// equal to what was written (`2026-01-02T03:04:05.000+0000` and `…Z` are the same instant).
    public static func salesforceValue(_ raw: JSONValue?, for field: FieldMapping) -> FieldValue {
        guard let raw, !raw.isNull else { return .null }
        switch (field.type, raw) {
        case (.datetime, .string(let text)):
            return Timestamp.parse(text).map { .text(Timestamp.format($0)) } ?? .text(text)
        case (.string, .string(let text)), (.lines, .string(let text)):
            return text.isEmpty ? .null : .text(text.replacingOccurrences(of: "\r\n", with: "\n"))
        default:
            return FieldValue(json: raw) ?? .null
        }
    }
}

/// A calendar date `YYYY-MM-DD` that really exists (no month 13, no 30 February).
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return nil }
        guard (1...12).contains(month), (1...CalendarDate.days(inMonth: month, year: year)).contains(day), year >= 1 else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    static func days(inMonth month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// How much of a day a FHIR `date` (or the date part of a `dateTime`) names.
    public enum Precision: String, Sendable {
        case year, month, day

        /// In words, for messages: "a year only".
        public var words: String {
            switch self {
            case .year: "a year only"
            case .month: "a year and month only"
            case .day: "a full date"
            }
        }
    }

    /// A FHIR date as it may come (`1974`, `1974-11`, `1974-11-05`): the first day it names, and
    /// how precise it was. Nil for anything else.
    public static func fhir(_ text: String) -> (date: CalendarDate, precision: Precision)? {
        switch text.utf8.count {
        case 4: CalendarDate(text + "-01-01").map { ($0, .year) }
        case 7: CalendarDate(text + "-01").map { ($0, .month) }
        case 10: CalendarDate(text).map { ($0, .day) }
        default: nil
        }
    }

    /// The calendar date that `instant` falls on in `zone`.
    public init(_ instant: Date, in zone: TimeZone) {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: instant)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        (year, month, day) = Timestamp.civilFromDays(days)
    }
}
