import StagelinkEngine

/// The CSV of Bulk API 2.0 uploads and results: the one place where a record's values are
/// encoded for that boundary, and where its results files are read.
///
/// Salesforce's rules ("Valid CSV Record Rows",
/// https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_csv_valid_record_rows.htm):
/// values are quoted, a quote doubled (every value is quoted here, so a comma, quote or line break
/// in a value is data); an empty value is ignored (the field is not written), `#N/A` sets a field
/// to null; a reference by external id is a `Relationship__r.Field__c` column.
enum BulkCSV {
    /// The header: the key column (an upsert's external id, an update's `Id`) first, then every
    /// other field in the order first met.
    static func columns(of records: [TargetRecord], first key: String) -> [String] {
        var columns = [key]
        var seen: Set<String> = [key]
        for record in records {
            for field in record.fields where seen.insert(field.name).inserted { columns.append(field.name) }
        }
        return columns
    }

    /// A record's values under `columns`: empty where the record does not write that field.
    static func values(of record: TargetRecord, columns: [String]) -> [String] {
        var byName: [String: FieldValue] = [:]
        for field in record.fields { byName[field.name] = field.value }
        return columns.map { byName[$0].map(text) ?? "" }
    }

    /// One value as a CSV field's text: null (and blank text, which Salesforce stores as null) is `#N/A`.
    static func text(_ value: FieldValue) -> String {
        switch value {
        case .null: "#N/A"
        case .text(let text): text.isEmpty ? "#N/A" : text
        case .number(let lexeme): lexeme
        case .bool(let flag): flag ? "true" : "false"
        }
    }

    /// One line, every value quoted, ending in LF (the job's `lineEnding`).
    static func line(_ values: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") { bytes.append(byte) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    struct Malformed: Error {
        var message: String
    }

    /// A results file's lines (RFC 4180; LF or CRLF line ends; quoted values may hold both).
    static func parse(_ bytes: [UInt8]) throws(Malformed) -> [[String]] {
        var lines: [[String]] = []
        var line: [String] = []
        var value: [UInt8] = []
        var inQuotes = false
        var index = 0
        let quote = UInt8(ascii: "\"")
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inQuotes {
                if byte != quote {
                    value.append(byte)
                } else if index < bytes.count && bytes[index] == quote {
                    value.append(quote)
                    index += 1
                } else {
                    inQuotes = false
                }
                continue
            }
            switch byte {
            case quote: inQuotes = true
            case UInt8(ascii: ","):
                line.append(String(decoding: value, as: UTF8.self))
                value.removeAll(keepingCapacity: true)
            case UInt8(ascii: "\r") where index < bytes.count && bytes[index] == UInt8(ascii: "\n"):
                continue
            case UInt8(ascii: "\n"):
                line.append(String(decoding: value, as: UTF8.self))
                value.removeAll(keepingCapacity: true)
                lines.append(line)
                line.removeAll()
            default: value.append(byte)
            }
        }
        if inQuotes { throw Malformed(message: "a quoted value is not closed") }
        if !value.isEmpty || !line.isEmpty {
            line.append(String(decoding: value, as: UTF8.self))
            lines.append(line)
        }
        return lines
    }

    /// A failed line's `sf__Error` (`STATUS_CODE:message:field,field --`, one such part per
    /// error) as the record's error: the first part's code, every part's message and fields.
    static func linkError(sfError text: String, remoteBody: String) -> LinkError {
        var code: String?
        var messages: [String] = []
        var fields: [String] = []
        for part in text.components(separatedBy: " --").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count >= 2, isStatusCode(pieces[0]) else {
                messages.append(part)
                continue
            }
            if code == nil { code = pieces[0] }
            var rest = Array(pieces.dropFirst())
            if rest.count >= 2, let last = rest.last, last.split(separator: ",").allSatisfy({ isFieldName($0) }) {
                rest.removeLast()
                for field in last.split(separator: ",").map(String.init) where !fields.contains(field) { fields.append(field) }
            }
            messages.append(rest.joined(separator: ":"))
        }
        guard let code else {
            return LinkError(.unknownFailure, message: text.isEmpty ? "Salesforce failed the record without saying why" : text, remoteBody: remoteBody)
        }
        return LinkError(code: code, message: messages.joined(separator: "; "), fields: fields, remoteBody: remoteBody)
    }

    private static func isStatusCode(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_") || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }
    }

    private static func isFieldName(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }
}
