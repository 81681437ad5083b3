/// A parsed SOQL query of the subset the sandbox serves.
struct SOQLQuery: Sendable {
    /// A field as written: `Phone` or `Contact__r.EMR_Patient_Id__c`.
    struct Path: Sendable, Hashable {
        var relationship: String?
        var field: String
        var column: Int
    }

    struct Ordering: Sendable {
        var path: Path
        var ascending: Bool
        var nullsFirst: Bool
    }

    enum Literal: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
        case date(CivilDate)
        case dateTime(SandboxInstant)
    }

    indirect enum Condition: Sendable {
        case and([Condition])
        case or([Condition])
        case not(Condition)
        case compare(Path, String, Literal)
        case inList(Path, [Literal], negated: Bool)
        case like(Path, String)
    }

    var fields: [Path]
    var countOnly: Bool
    var object: String
    var condition: Condition?
    var orderBy: [Ordering]
    var limit: Int?
    var offset: Int?
}

/// A recursive-descent parser for `SELECT … FROM … [WHERE …] [ORDER BY …] [LIMIT n] [OFFSET n]`.
struct SOQLParser {
    private var tokens: [SOQLToken]
    private var position = 0

    static func parse(_ query: String) throws(SOQLError) -> SOQLQuery {
        var parser = SOQLParser(tokens: try SOQLLexer.tokens(query))
        return try parser.query()
    }

    private init(tokens: [SOQLToken]) { self.tokens = tokens }

    private var current: SOQLToken { tokens[position] }

    private mutating func advance() -> SOQLToken {
        defer { if position < tokens.count - 1 { position += 1 } }
        return tokens[position]
    }

    private func unexpected() -> SOQLError {
        .malformed("unexpected token: '\(current.spelling)'", column: current.column)
    }

    private mutating func expectKeyword(_ keyword: String) throws(SOQLError) {
        guard current.isKeyword(keyword) else { throw unexpected() }
        _ = advance()
    }

    private mutating func expectSymbol(_ symbol: String) throws(SOQLError) {
        guard current.kind == .symbol(symbol) else { throw unexpected() }
        _ = advance()
    }

    private static let reserved: Set<String> = [
        "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS",
        "FIRST", "LAST", "LIMIT", "OFFSET", "GROUP", "HAVING", "WITH", "USING", "TYPEOF", "FOR", "INCLUDES", "EXCLUDES",
    ]

    private mutating func query() throws(SOQLError) -> SOQLQuery {
        try expectKeyword("SELECT")
        var fields: [SOQLQuery.Path] = []
        var countOnly = false
        if current.isKeyword("COUNT"), tokens[position + 1].kind == .symbol("(") {
            _ = advance()
            _ = advance()
            try expectSymbol(")")
            countOnly = true
        } else {
            repeat {
                if !fields.isEmpty { _ = advance() }
                let path = try self.path()
                if fields.contains(where: {
                    $0.relationship?.lowercased() == path.relationship?.lowercased()
                        && $0.field.lowercased() == path.field.lowercased()
                }) {
                    throw .malformed("duplicate field selected: \(path.field)", column: path.column)
                }
                fields.append(path)
            } while current.kind == .symbol(",")
        }
        try expectKeyword("FROM")
        guard case .word(let object) = current.kind, !object.contains("."),
            !Self.reserved.contains(object.uppercased())
        else { throw unexpected() }
        _ = advance()
        var query = SOQLQuery(
            fields: fields, countOnly: countOnly, object: object, condition: nil, orderBy: [], limit: nil, offset: nil)
        if current.isKeyword("WHERE") {
            _ = advance()
            query.condition = try condition()
        }
        if current.isKeyword("ORDER") {
            guard !countOnly else { throw unexpected() }
            _ = advance()
            try expectKeyword("BY")
            repeat {
                if !query.orderBy.isEmpty { _ = advance() }
                let path = try self.path()
                var ascending = true
                if current.isKeyword("ASC") {
                    _ = advance()
                } else if current.isKeyword("DESC") {
                    _ = advance()
                    ascending = false
                }
                var nullsFirst = ascending
                if current.isKeyword("NULLS") {
                    _ = advance()
                    if current.isKeyword("FIRST") {
                        nullsFirst = true
                    } else if current.isKeyword("LAST") {
                        nullsFirst = false
                    } else {
                        throw unexpected()
                    }
                    _ = advance()
                }
                query.orderBy.append(SOQLQuery.Ordering(path: path, ascending: ascending, nullsFirst: nullsFirst))
            } while current.kind == .symbol(",")
        }
        if current.isKeyword("LIMIT") {
            _ = advance()
            query.limit = try nonNegativeInteger()
        }
        if current.isKeyword("OFFSET") {
            _ = advance()
            let offset = try nonNegativeInteger()
            guard offset <= 2000 else {
                throw SOQLError(code: "NUMBER_OUTSIDE_VALID_RANGE", message: "Maximum SOQL offset allowed is 2000")
            }
            query.offset = offset
        }
        guard current.kind == .end else { throw unexpected() }
        return query
    }

    private mutating func nonNegativeInteger() throws(SOQLError) -> Int {
        guard case .number(let number) = current.kind, number >= 0, number == number.rounded(), number < 1e9 else {
            throw unexpected()
        }
        _ = advance()
        return Int(number)
    }

    private mutating func path() throws(SOQLError) -> SOQLQuery.Path {
        guard case .word(let word) = current.kind, !Self.reserved.contains(word.uppercased()) else {
            throw unexpected()
        }
        let column = current.column
        _ = advance()
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty }) else { throw .malformed("unexpected token: '\(word)'", column: column) }
        switch parts.count {
        case 1: return SOQLQuery.Path(relationship: nil, field: word, column: column)
        case 2: return SOQLQuery.Path(relationship: String(parts[0]), field: String(parts[1]), column: column)
        default:
            throw .malformed(
                "the sandbox serves one level of parent relationship, not '\(word)'", column: column)
        }
    }

    /// `term (AND term)*` or `term (OR term)*`: mixing AND and OR needs parentheses, as in SOQL.
    private mutating func condition() throws(SOQLError) -> SOQLQuery.Condition {
        var terms = [try term()]
        var joiner: String?
        while current.isKeyword("AND") || current.isKeyword("OR") {
            let word = current.isKeyword("AND") ? "AND" : "OR"
            if let joiner, joiner != word { throw unexpected() }
            joiner = word
            _ = advance()
            terms.append(try term())
        }
        guard terms.count > 1 else { return terms[0] }
        return joiner == "AND" ? .and(terms) : .or(terms)
    }

    private mutating func term() throws(SOQLError) -> SOQLQuery.Condition {
        if current.isKeyword("NOT") {
            _ = advance()
            return .not(try term())
        }
        if current.kind == .symbol("(") {
            _ = advance()
            let inner = try condition()
            try expectSymbol(")")
            return inner
        }
        let path = try self.path()
        if current.isKeyword("IN") || current.isKeyword("NOT") {
            let negated = current.isKeyword("NOT")
            _ = advance()
            if negated { try expectKeyword("IN") }
            try expectSymbol("(")
            var values: [SOQLQuery.Literal] = []
            repeat {
                if !values.isEmpty { _ = advance() }
                values.append(try literal())
            } while current.kind == .symbol(",")
            try expectSymbol(")")
            return .inList(path, values, negated: negated)
        }
        if current.isKeyword("LIKE") {
            _ = advance()
            guard case .string(let pattern) = current.kind else { throw unexpected() }
            _ = advance()
            return .like(path, pattern)
        }
        guard case .symbol(let symbol) = current.kind, ["=", "!=", "<", "<=", ">", ">="].contains(symbol) else {
            throw unexpected()
        }
        _ = advance()
        return .compare(path, symbol, try literal())
    }

    private mutating func literal() throws(SOQLError) -> SOQLQuery.Literal {
        let token = current
        switch token.kind {
        case .string(let text): _ = advance(); return .string(text)
        case .number(let number): _ = advance(); return .number(number)
        case .date(let date): _ = advance(); return .date(date)
        case .dateTime(let instant): _ = advance(); return .dateTime(instant)
        case .word(let word):
            switch word.uppercased() {
            case "TRUE": _ = advance(); return .bool(true)
            case "FALSE": _ = advance(); return .bool(false)
            case "NULL": _ = advance(); return .null
            default: throw unexpected()
            }
        default:
            throw unexpected()
        }
    }
}
