/// Runs a parsed query against the org's records: resolves names, checks literal types, filters, sorts and
/// renders records as the REST API does (`attributes {type, url}` first, parent relationships nested).
struct SOQLEvaluator {
    let store: SalesforceStore
    let apiVersion: String
    /// QueryAll: records in the Recycle Bin match too; Query leaves them out.
    var includingDeleted = false

    /// A field path resolved against the schema.
    private struct Resolved {
        var relationship: SObjectField?
        var target: SObjectDescription
        var field: SObjectField
    }

    /// The matching records, rendered, in order; or the total alone for `COUNT()`.
    func run(_ query: SOQLQuery) throws(SOQLError) -> (total: Int, records: [WireJSON]) {
        guard let object = store.schema.object(named: query.object) else { throw .invalidType(query.object) }
        let selected = try query.fields.map { path throws(SOQLError) in try resolve(path, in: object) }
        let filter = try query.condition.map { condition throws(SOQLError) in try check(condition, in: object) }
        let orderings = try query.orderBy.map { ordering throws(SOQLError) in
            (try resolve(ordering.path, in: object), ordering)
        }
        var matches = candidates(of: object, filter: filter).filter { record in
            filter.map { evaluate($0, record) } ?? true
        }
        if !orderings.isEmpty {
            // Each record's sort keys are read once (a stamp parsed, a text lowercased), not at
            // every comparison of the sort.
            let keyed = matches.map { record in
                (record, orderings.map { SortKey(value(of: $0.0, in: record), type: $0.0.field.type) })
            }
            matches = keyed.enumerated().sorted { left, right in
                for (index, (_, ordering)) in orderings.enumerated() {
                    let (a, b) = (left.element.1[index], right.element.1[index])
                    guard let comparison = a.compared(to: b) else {
                        // Two nulls tie, and the next ordering decides; one null goes first or
                        // last as `NULLS FIRST` / `LAST` says, whichever side it is on.
                        if a.isComparable == b.isComparable { continue }
                        return b.isComparable == ordering.nullsFirst
                    }
                    if comparison == 0 { continue }
                    return ordering.ascending ? comparison < 0 : comparison > 0
                }
                return left.offset < right.offset
            }.map(\.element.0)
        }
        if let offset = query.offset { matches = Array(matches.dropFirst(offset)) }
        if let limit = query.limit { matches = Array(matches.prefix(limit)) }
        if query.countOnly { return (matches.count, []) }
        return (matches.count, matches.map { render($0, object: object, fields: selected) })
    }

    /// The records `filter` is evaluated on: when it requires `SystemModstamp` at or after an
    /// instant (a delta query), only those stamped since, and before the instant it requires them
    /// before if it does (a window), from the org's `SystemModstamp` index (see ``ModstampIndex``);
    /// every record of the object otherwise. Same records, same order.
    private func candidates(of object: SObjectDescription, filter: Checked?) -> [SObjectRecord] {
        guard let since = filter.flatMap({ Self.modstampBound($0, from: true) }) else {
            return store.records(of: object.name, includingDeleted: includingDeleted)
        }
        let end = filter.flatMap { Self.modstampBound($0, from: false) }
        return store.records(of: object.name, stampedSince: since, before: end, includingDeleted: includingDeleted)
    }

    /// The earliest `SystemModstamp` a record needs to match `condition` (`from`), or the instant
    /// its stamp must be before (not `from`), when the condition (or one term of its `AND`) bounds
    /// it so; nil when any stamp may match.
    private static func modstampBound(_ condition: Checked, from: Bool) -> SandboxInstant? {
        switch condition {
        case .and(let terms):
            let bounds = terms.compactMap { modstampBound($0, from: from) }
            return from ? bounds.max() : bounds.min()
        case .compare(let resolved, let symbol, .instant(let instant))
        where resolved.relationship == nil && resolved.field.name == "SystemModstamp":
            // Stamps are whole milliseconds: after an instant is at or after the next millisecond,
            // and at or before it is before the next millisecond.
            switch (symbol, from) {
            case (">=", true), ("<", false): return instant
            case (">", true), ("<=", false): return SandboxInstant(milliseconds: instant.milliseconds + 1)
            default: return nil
            }
        default:
            return nil
        }
    }

    private func resolve(_ path: SOQLQuery.Path, in object: SObjectDescription) throws(SOQLError) -> Resolved {
        guard let relationshipName = path.relationship else {
            guard let field = object.field(named: path.field) else {
                throw .invalidField(
                    "\n\(path.field)\n^\nERROR at Row:1:Column:\(path.column)\nNo such column '\(path.field)' on entity "
                        + "'\(object.name)'. If you are attempting to use a custom field, be sure to append the '__c' "
                        + "after the custom field name. Please reference your WSDL or the describe call for the "
                        + "appropriate names.")
            }
            return Resolved(relationship: nil, target: object, field: field)
        }
        guard let relationship = object.referenceField(relationship: relationshipName),
            let target = relationship.referenceTo.flatMap(store.schema.object(named:))
        else {
            throw .invalidField(
                "\n\(relationshipName).\(path.field)\n^\nERROR at Row:1:Column:\(path.column)\nDidn't understand "
                    + "relationship '\(relationshipName)' in field path. If you are attempting to use a custom "
                    + "relationship, be sure to append the '__r' after the custom relationship name.")
        }
        guard let field = target.field(named: path.field) else {
            throw .invalidField(
                "\n\(relationshipName).\(path.field)\n^\nERROR at Row:1:Column:\(path.column)\nNo such column "
                    + "'\(path.field)' on entity '\(target.name)'.")
        }
        return Resolved(relationship: relationship, target: target, field: field)
    }

    /// A condition whose names are resolved and whose literals fit their fields' types.
    private indirect enum Checked {
        case and([Checked])
        case or([Checked])
        case not(Checked)
        /// The literal is kept as it compares (``SortKey``), read once for the query, not per record.
        case compare(Resolved, String, SortKey)
        /// `exact`: the values as a set, for ids and references, which compare exactly.
        case inList(Resolved, [SortKey], exact: Set<String>?, negated: Bool)
        case like(Resolved, String)
    }

    private func check(_ condition: SOQLQuery.Condition, in object: SObjectDescription) throws(SOQLError) -> Checked {
        switch condition {
        case .and(let terms): return .and(try terms.map { term throws(SOQLError) in try check(term, in: object) })
        case .or(let terms): return .or(try terms.map { term throws(SOQLError) in try check(term, in: object) })
        case .not(let inner): return .not(try check(inner, in: object))
        case .compare(let path, let symbol, let literal):
            let resolved = try resolve(path, in: object)
            let value = try coerce(literal, for: resolved.field)
            if symbol != "=" && symbol != "!=", resolved.field.type == .boolean || value.isNull {
                throw .malformed("invalid operator \(symbol) for \(resolved.field.name)", column: path.column)
            }
            return .compare(resolved, symbol, SortKey(value, type: resolved.field.type))
        case .inList(let path, let literals, let negated):
            let resolved = try resolve(path, in: object)
            let values = try literals.map { literal throws(SOQLError) in try coerce(literal, for: resolved.field) }
            let exactly = [.id, .reference].contains(resolved.field.type) && values.allSatisfy { $0.stringValue != nil }
            return .inList(
                resolved, values.map { SortKey($0, type: resolved.field.type) }, exact: exactly ? Set(values.compactMap(\.stringValue)) : nil,
                negated: negated)
        case .like(let path, let pattern):
            let resolved = try resolve(path, in: object)
            guard Self.isText(resolved.field.type) else {
                throw .invalidField("invalid operator on field \(resolved.field.name): LIKE works on text fields")
            }
            return .like(resolved, pattern.lowercased())
        }
    }

    private static func isText(_ type: SObjectField.FieldType) -> Bool {
        switch type {
        case .string, .textarea, .phone, .email, .picklist, .id, .reference: return true
        default: return false
        }
    }

    /// The literal as the stored wire value of `field`, or `INVALID_FIELD` when its type does not fit.
    private func coerce(_ literal: SOQLQuery.Literal, for field: SObjectField) throws(SOQLError) -> WireJSON {
        func mismatch(_ expected: String) -> SOQLError {
            .invalidField(
                "value of filter criterion for field '\(field.name)' must be of type \(expected) and should not be "
                    + "enclosed in quotes")
        }
        if literal == .null { return .null }
        switch field.type {
        case .string, .textarea, .phone, .email, .picklist:
            guard case .string(let text) = literal else { throw mismatch("string") }
            return .string(text)
        case .id, .reference:
            guard case .string(let text) = literal else { throw mismatch("id") }
            guard let id = SalesforceID.normalize(text) else {
                throw .invalidField("invalid ID field: \(text)")
            }
            return .string(id)
        case .date:
            guard case .date(let date) = literal else { throw mismatch("date") }
            return .string(date.text)
        case .datetime:
            guard case .dateTime(let instant) = literal else { throw mismatch("dateTime") }
            return .string(instant.salesforceDateTime)
        case .double:
            guard case .number(let number) = literal else { throw mismatch("double") }
            return .double(number)
        case .boolean:
            guard case .bool(let flag) = literal else { throw mismatch("boolean") }
            return .bool(flag)
        }
    }

    private func value(of resolved: Resolved, in record: SObjectRecord) -> WireJSON {
        guard let relationship = resolved.relationship else { return record[resolved.field.name] }
        guard let parentID = record[relationship.name].stringValue, let parent = store.records[parentID] else {
            return .null
        }
        return parent[resolved.field.name]
    }

    private func evaluate(_ condition: Checked, _ record: SObjectRecord) -> Bool {
        switch condition {
        case .and(let terms): return terms.allSatisfy { evaluate($0, record) }
        case .or(let terms): return terms.contains { evaluate($0, record) }
        case .not(let inner): return !evaluate(inner, record)
        case .compare(let resolved, let symbol, let literal):
            let actual = SortKey(value(of: resolved, in: record), type: resolved.field.type)
            let comparison = actual.compared(to: literal)
            switch symbol {
            case "=": return literal == .null ? actual == .null : comparison == 0
            case "!=": return literal == .null ? actual != .null : comparison != 0
            case "<": return comparison.map { $0 < 0 } ?? false
            case "<=": return comparison.map { $0 <= 0 } ?? false
            case ">": return comparison.map { $0 > 0 } ?? false
            default: return comparison.map { $0 >= 0 } ?? false
            }
        case .inList(let resolved, let literals, let exact, let negated):
            let value = value(of: resolved, in: record)
            if let exact { return value.stringValue.map(exact.contains) ?? false != negated }
            let actual = SortKey(value, type: resolved.field.type)
            let found = literals.contains { literal in literal == .null ? actual == .null : actual.compared(to: literal) == 0 }
            return found != negated
        case .like(let resolved, let pattern):
            guard let text = value(of: resolved, in: record).stringValue else { return false }
            return Self.like(Array(text.lowercased()), Array(pattern))
        }
    }

    /// SOQL LIKE: `%` any run, `_` one character.
    private static func like(_ text: [Character], _ pattern: [Character]) -> Bool {
        var memo: [Int: Bool] = [:]
        func match(_ t: Int, _ p: Int) -> Bool {
            let key = t * (pattern.count + 1) + p
            if let known = memo[key] { return known }
            let result: Bool
            if p == pattern.count {
                result = t == text.count
            } else if pattern[p] == "%" {
                result = match(t, p + 1) || (t < text.count && match(t + 1, p))
            } else if t < text.count, pattern[p] == "_" || pattern[p] == text[t] {
                result = match(t + 1, p + 1)
            } else {
                result = false
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }

    func attributes(_ object: String, id: String) -> WireJSON {
        ["type": .string(object), "url": .string("/services/data/\(apiVersion)/sobjects/\(object)/\(id)")]
    }

    private func render(_ record: SObjectRecord, object: SObjectDescription, fields: [Resolved]) -> WireJSON {
        var output = WireObject()
        output["attributes"] = attributes(object.name, id: record.id)
        for resolved in fields {
            guard let relationship = resolved.relationship, let relationshipName = relationship.relationshipName else {
                output[resolved.field.name] = record[resolved.field.name]
                continue
            }
            guard let parentID = record[relationship.name].stringValue, let parent = store.records[parentID] else {
                output[relationshipName] = .null
                continue
            }
            var nested = output[relationshipName]?.objectValue
                ?? WireObject([("attributes", attributes(resolved.target.name, id: parent.id))])
            nested[resolved.field.name] = parent[resolved.field.name]
            output[relationshipName] = .object(nested)
        }
        return .object(output)
    }
}

/// A field's value as SOQL compares it (in `WHERE` and `ORDER BY`): a number, an instant, a flag,
/// text (case-insensitive for text fields, as Salesforce sorts them), or nothing to compare.
enum SortKey: Equatable {
    case null
    /// A value that is there but does not read as its field's type: compares with nothing.
    case unreadable
    case number(Double)
    case instant(SandboxInstant)
    case flag(Bool)
    case text(String)

    init(_ value: WireJSON, type: SObjectField.FieldType) {
        guard !value.isNull else {
            self = .null
            return
        }
        let key: SortKey? =
            switch type {
            case .double: value.doubleValue.map(SortKey.number)
            case .datetime: value.stringValue.flatMap(SandboxInstant.init(iso8601:)).map(SortKey.instant)
            case .boolean: value.boolValue.map(SortKey.flag)
            case .id, .reference, .date: value.stringValue.map(SortKey.text)
            case .string, .textarea, .phone, .email, .picklist: value.stringValue.map { SortKey.text($0.lowercased()) }
            }
        self = key ?? .unreadable
    }

    /// Whether it is a value to compare (neither null nor unreadable).
    var isComparable: Bool { self != .null && self != .unreadable }

    /// -1, 0 or 1; nil when either side is null or unreadable, or the two are of different kinds.
    func compared(to other: SortKey) -> Int? {
        func order<T: Comparable>(_ a: T, _ b: T) -> Int { a < b ? -1 : (a > b ? 1 : 0) }
        switch (self, other) {
        case (.number(let a), .number(let b)): return order(a, b)
        case (.instant(let a), .instant(let b)): return order(a, b)
        case (.flag(let a), .flag(let b)): return a == b ? 0 : (a ? 1 : -1)
        case (.text(let a), .text(let b)): return order(a, b)
        default: return nil
        }
    }
}
