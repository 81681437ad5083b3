/// CSV as Bulk API 2.0 reads and writes it: RFC 4180 fields, the job's column delimiter and line
/// ending, and Salesforce's stricter rules for record rows.
///
/// Salesforce documents (Bulk API 2.0 and Bulk API Developer Guide, "Prepare CSV Files" and
/// "Valid CSV Record Rows",
/// https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_prepare_csv.htm):
/// the first row names the fields; a value holding the delimiter, a line break or a double quote is
/// quoted, a quote inside doubled; values are not trimmed; a space before or after a quoted value
/// is an error; the line ending is the job's `lineEnding` (`LF` or `CRLF`) and data written with
/// the other one is refused.
///
/// For example:
///
/// ```swift
/// let table = try BulkCSV.parse(Array("Name,Phone\n\"Acme, Inc\",555\n".utf8), delimiter: ",", lineEnding: .lf)
/// table.header   // ["Name", "Phone"]
/// table.rows[0]  // ["Acme, Inc", "555"]
/// ```
struct BulkCSV: Sendable {
    /// A job's `lineEnding`.
    enum LineEnding: String, Sendable {
        case lf = "LF"
        case crlf = "CRLF"

        var bytes: [UInt8] { self == .lf ? [0x0A] : [0x0D, 0x0A] }
    }

    /// Why a file cannot be read; the job fails with this as its `errorMessage`.
    struct Malformed: Error, Sendable, Equatable {
        var message: String
    }

    var header: [String]
    var rows: [[String]]

    /// Parses a whole upload. A row whose field count differs from the header's is kept as it
    /// is: the job fails that row alone (``fieldCountMismatch(_:)``).
    static func parse(_ bytes: [UInt8], delimiter: UInt8, lineEnding: LineEnding) throws(Malformed) -> BulkCSV {
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var index = 0
        var quoted = false
        var fieldStarted = false
        var afterClosingQuote = false
        let quote: UInt8 = 0x22
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldStarted = false
            afterClosingQuote = false
        }
        while index < bytes.count {
            let byte = bytes[index]
            if quoted {
                if byte == quote {
                    if index + 1 < bytes.count, bytes[index + 1] == quote {
                        field.append(quote)
                        index += 2
                        continue
                    }
                    quoted = false
                    afterClosingQuote = true
                } else {
                    field.append(byte)
                }
                index += 1
                continue
            }
            if byte == delimiter {
                endField()
                index += 1
                continue
            }
            if byte == 0x0D || byte == 0x0A {
                let isCRLF = byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A
                switch (lineEnding, isCRLF, byte) {
                case (.lf, false, 0x0A), (.crlf, true, _): break
                default:
                    throw Malformed(
                        message: "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is \(lineEnding.rawValue)")
                }
                endField()
                records.append(record)
                record.removeAll()
                index += isCRLF ? 2 : 1
                continue
            }
            if afterClosingQuote {
                throw Malformed(message: "InvalidBatch : Failed to parse CSV. Found unescaped quote or text after a closing quote in row \(records.count + 1)")
            }
            if byte == quote {
                guard !fieldStarted else {
                    throw Malformed(message: "InvalidBatch : Failed to parse CSV. Found unescaped quote in row \(records.count + 1)")
                }
                quoted = true
                fieldStarted = true
                index += 1
                continue
            }
            fieldStarted = true
            field.append(byte)
            index += 1
        }
        if quoted { throw Malformed(message: "InvalidBatch : Failed to parse CSV. Unterminated quoted field in row \(records.count + 1)") }
        if fieldStarted || !field.isEmpty || !record.isEmpty || afterClosingQuote {
            endField()
            records.append(record)
        }
        guard let header = records.first, !header.allSatisfy(\.isEmpty) else {
            throw Malformed(message: "InvalidBatch : The CSV has no header row")
        }
        return BulkCSV(header: header, rows: Array(records.dropFirst()))
    }

    /// A results file: every value quoted, as Salesforce writes them.
    static func write(header: [String], rows: [[String]], delimiter: UInt8, lineEnding: LineEnding) -> [UInt8] {
        var bytes: [UInt8] = []
        func line(_ values: [String]) {
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(delimiter) }
                bytes.append(0x22)
                for byte in value.utf8 {
                    if byte == 0x22 { bytes.append(0x22) }
                    bytes.append(byte)
                }
                bytes.append(0x22)
            }
            bytes += lineEnding.bytes
        }
        line(header)
        rows.forEach(line)
        return bytes
    }

    /// The documented `columnDelimiter` values and their characters.
    static let delimiters: [String: UInt8] = [
        "COMMA": 0x2C, "TAB": 0x09, "PIPE": 0x7C, "SEMICOLON": 0x3B, "CARET": 0x5E, "BACKQUOTE": 0x60,
    ]
}
