import Foundation
import StagelinkEngine

/// A SOQL query built from checked names and escaped values: the one place where SOQL text is
/// made, so that a value can never change a query's meaning.
///
/// Field and object names must be identifiers (dotted for parent fields); values are rendered as
/// literals, text quoted with `'` and `\` escaped.
///
/// For example:
///
/// ```swift
/// let query = try SOQLQuery(select: ["Id", "LastName"], from: "Contact")
///     .where("LastName", .equals, .string("O'Brien"))
///     .limit(10)
/// query.text   // SELECT Id, LastName FROM Contact WHERE LastName = 'O\'Brien' LIMIT 10
/// ```
public struct SOQLQuery: Sendable, Hashable {
    public let object: String
    public let fields: [String]
    private var conditions: [String] = []
    private var ordering: String?
    private var rowLimit: Int?

    /// Selects `fields` (duplicates dropped, first spelling kept) from `object`.
    public init(select fields: [String], from object: String) throws(SOQLError) {
        guard !fields.isEmpty else { throw SOQLError("a query selects at least one field") }
        try SOQL.checkName(object, allowsDots: false)
        var seen = Set<String>()
        var kept: [String] = []
        for field in fields {
            try SOQL.checkName(field, allowsDots: true)
            if seen.insert(field.lowercased()).inserted { kept.append(field) }
        }
        self.object = object
        self.fields = kept
    }

    /// Adds a condition, joined to the others with AND.
    public func `where`(_ field: String, _ comparison: SOQLComparison, _ value: SOQLValue) throws(SOQLError) -> SOQLQuery {
        try SOQL.checkName(field, allowsDots: true)
        var query = self
        query.conditions.append("\(field) \(comparison.rawValue) \(value.literal)")
        return query
    }

    /// Adds `field IN (…)`, joined to the other conditions with AND; at least one value.
    public func `where`(_ field: String, in values: [SOQLValue]) throws(SOQLError) -> SOQLQuery {
        try SOQL.checkName(field, allowsDots: true)
        guard !values.isEmpty else { throw SOQLError("an IN condition needs at least one value") }
        var query = self
        query.conditions.append("\(field) IN (\(values.map(\.literal).joined(separator: ", ")))")
        return query
    }

    public func orderBy(_ field: String, ascending: Bool = true) throws(SOQLError) -> SOQLQuery {
        try SOQL.checkName(field, allowsDots: true)
        var query = self
        query.ordering = "\(field) \(ascending ? "ASC" : "DESC")"
        return query
    }

    public func limit(_ count: Int) -> SOQLQuery {
        var query = self
        query.rowLimit = max(0, count)
        return query
    }

    /// The SOQL text. It holds the query's values: send it, never log it.
    public var text: String {
        var text = "SELECT \(fields.joined(separator: ", ")) FROM \(object)"
        if !conditions.isEmpty { text += " WHERE " + conditions.joined(separator: " AND ") }
        if let ordering { text += " ORDER BY \(ordering)" }
        if let rowLimit { text += " LIMIT \(rowLimit)" }
        return text
    }
}

/// The comparisons a condition can make.
public enum SOQLComparison: String, Sendable, Hashable {
    case equals = "="
    case notEquals = "!="
    case lessThan = "<"
    case lessThanOrEqual = "<="
    case greaterThan = ">"
    case greaterThanOrEqual = ">="
}

/// A value in a condition, rendered as a SOQL literal.
public enum SOQLValue: Sendable, Hashable {
    case string(String)
    /// A dateTime, in UTC to the second (`2026-11-26T07:26:25Z`), unquoted as SOQL wants it.
    case dateTime(Date)
    case integer(Int)
    case boolean(Bool)
    case null

    public var literal: String {
        switch self {
        case .string(let text): SOQL.quoted(text)
        case .dateTime(let date): Timestamp.formatSeconds(date)
        case .integer(let number): String(number)
        case .boolean(let flag): flag ? "true" : "false"
        case .null: "null"
        }
    }
}

/// Why a query could not be built; names the offending name, never a value.
public struct SOQLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// SOQL's lexical rules.
public enum SOQL {
    /// `text` as a quoted SOQL string literal, with the escapes SOQL defines
    /// (`\'`, `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`).
    public static func quoted(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "'": out += "\\'"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    /// Accepts `Name`, `Custom__c`, and with dots `Contact__r.EMR_Patient_Id__c`.
    static func checkName(_ name: String, allowsDots: Bool) throws(SOQLError) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !parts.isEmpty, allowsDots || parts.count == 1 else { throw SOQLError("'\(name)' is not a SOQL name") }
        for part in parts {
            guard let first = part.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII,
                part.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") })
            else { throw SOQLError("'\(name)' is not a SOQL name") }
        }
    }
}
