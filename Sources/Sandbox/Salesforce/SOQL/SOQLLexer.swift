/// A token of the SOQL subset, with the column it starts at for error messages.
struct SOQLToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case word(String)
        case string(String)
        case number(Double)
        case date(CivilDate)
        case dateTime(SandboxInstant)
        case symbol(String)
        case end
    }

    var kind: Kind
    var column: Int

    /// The token as the query spelled it, for `unexpected token` messages.
    var spelling: String {
        switch kind {
        case .word(let word): return word
        case .string(let text): return "'\(text)'"
        case .number(let number): return number.description
        case .date(let date): return date.text
        case .dateTime(let instant): return instant.fhirInstant
        case .symbol(let symbol): return symbol
        case .end: return "<EOF>"
        }
    }

    /// Whether the token is this keyword, in any case.
    func isKeyword(_ keyword: String) -> Bool {
        if case .word(let word) = kind { return word.uppercased() == keyword }
        return false
    }
}

/// Splits a SOQL query into tokens; anything it cannot read is a `MALFORMED_QUERY`.
enum SOQLLexer {
    static func tokens(_ query: String) throws(SOQLError) -> [SOQLToken] {
        let characters = Array(query.unicodeScalars)
        var tokens: [SOQLToken] = []
        var index = 0
        func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "_" || scalar == "." || (scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)))
        }
        while index < characters.count {
            let scalar = characters[index]
            let column = index + 1
            if scalar.properties.isWhitespace {
                index += 1
                continue
            }
            if scalar == "'" {
                index += 1
                var text = String.UnicodeScalarView()
                var closed = false
                while index < characters.count {
                    let current = characters[index]
                    if current == "\\", index + 1 < characters.count {
                        let escaped = characters[index + 1]
                        switch escaped {
                        case "n": text.append("\n")
                        case "t": text.append("\t")
                        case "r": text.append("\r")
                        default: text.append(escaped)
                        }
                        index += 2
                        continue
                    }
                    if current == "'" {
                        closed = true
                        index += 1
                        break
                    }
                    text.append(current)
                    index += 1
                }
                guard closed else { throw .malformed("unterminated string literal", column: column) }
                tokens.append(SOQLToken(kind: .string(String(text)), column: column))
                continue
            }
            if ("0"..."9").contains(scalar) || (scalar == "-" && index + 1 < characters.count
                && ("0"..."9").contains(characters[index + 1]))
            {
                var end = index + 1
                while end < characters.count,
                    ("0"..."9").contains(characters[end]) || ["-", ":", ".", "T", "Z", "+"].contains(characters[end])
                {
                    end += 1
                }
                let text = String(String.UnicodeScalarView(characters[index..<end]))
                index = end
                if text.count == 10, let date = CivilDate(text) {
                    tokens.append(SOQLToken(kind: .date(date), column: column))
                } else if text.count > 10, text.contains("T") {
                    guard let instant = SandboxInstant(iso8601: text) else {
                        throw .malformed("invalid date-time literal \(text)", column: column)
                    }
                    tokens.append(SOQLToken(kind: .dateTime(instant), column: column))
                } else if let number = Double(text) {
                    tokens.append(SOQLToken(kind: .number(number), column: column))
                } else {
                    throw .malformed("unexpected token: \(text)", column: column)
                }
                continue
            }
            if isWordScalar(scalar) {
                var end = index
                while end < characters.count, isWordScalar(characters[end]) { end += 1 }
                tokens.append(
                    SOQLToken(kind: .word(String(String.UnicodeScalarView(characters[index..<end]))), column: column))
                index = end
                continue
            }
            let two = index + 1 < characters.count ? String(scalar) + String(characters[index + 1]) : ""
            if ["!=", "<>", "<=", ">="].contains(two) {
                tokens.append(SOQLToken(kind: .symbol(two == "<>" ? "!=" : two), column: column))
                index += 2
                continue
            }
            if ["=", "<", ">", "(", ")", ","].contains(String(scalar)) {
                tokens.append(SOQLToken(kind: .symbol(String(scalar)), column: column))
                index += 1
                continue
            }
            throw .malformed("unexpected token: \(scalar)", column: column)
        }
        tokens.append(SOQLToken(kind: .end, column: characters.count + 1))
        return tokens
    }
}

/// Why a query was refused: `MALFORMED_QUERY` for what the subset cannot read, `INVALID_FIELD` /
/// `INVALID_TYPE` for names and types the org does not have.
struct SOQLError: Error, Sendable, Equatable {
    var code: String
    var message: String

    static func malformed(_ message: String, column: Int) -> SOQLError {
        SOQLError(code: "MALFORMED_QUERY", message: "ERROR at Row:1:Column:\(column)\n\(message)")
    }

    static func invalidField(_ message: String) -> SOQLError {
        SOQLError(code: "INVALID_FIELD", message: message)
    }

    static func invalidType(_ object: String) -> SOQLError {
        SOQLError(
            code: "INVALID_TYPE",
            message: "sObject type '\(object)' is not supported. If you are attempting to use a custom object, be sure "
                + "to append the '__c' after the entity name.")
    }
}
