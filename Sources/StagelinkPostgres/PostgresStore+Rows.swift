import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// Reading rows: a row with its verbatim payload.
extension PostgresStore {
    public func row(id: Int64) async throws -> StagedRow? {
        try await stagedRows("staged_row.id = \(id)").first
    }

    public func rows(ids: [Int64]) async throws -> [StagedRow] {
        guard !ids.isEmpty else { return [] }
        return try await stagedRows("staged_row.id = ANY(\(ids)::int8[]) ORDER BY staged_row.id")
    }

    public func row(of record: SourceKey, contentHash: String) async throws -> StagedRow? {
        try await stagedRows(
            """
            staged_row.system = \(record.system.rawValue) AND staged_row.resourceType = \(record.resourceType)
            AND staged_row.sourceID = \(record.sourceID) AND staged_row.contentHash = \(sealing.storedHash(contentHash))
            """
        ).first
    }

    /// Rows with their payloads, read with a condition (and an order) on `staged_row` that follows `WHERE`.
    func stagedRows(_ condition: PostgresQuery, in connection: PostgresConnection? = nil) async throws -> [StagedRow] {
        let query = PostgresQuery(unsafeSQL: "\(StagedRowRecord.select) WHERE \(condition.sql)", binds: condition.binds)
        let rows = if let connection {
            try await connection.rows(query, logger: logger).decode(StagedRowRecord.Values.self).collect()
        } else {
            try await client.query(query, logger: logger).decode(StagedRowRecord.Values.self).collect()
        }
        return try rows.map { try StagedRowRecord($0).row(sealing.cipher) }
    }
}

// Reading rows: the console's keyset-paged lists, counts, the person search, parents and failure groups.
extension PostgresStore {
    public func rows(_ query: RowQuery) async throws -> [StagedRowSummary] {
        var sql = RowFilterQuery(query.filter, sealing: sealing)
        let sortExpression = RowFilterQuery.sortExpression(query.sort.column)
        // Walking backwards flips the comparison and the order; the page is reversed after.
        let ascending = query.sort.descending == query.backwards
        let comparison = ascending ? ">" : "<"
        let direction = ascending ? "ASC" : "DESC"
        var conditions = [sql.condition]
        if let after = query.after {
            let id = sql.bind(after.id)
            if let sortExpression {
                let value = sql.bind(after.sortValue ?? "")
                conditions.append("(\(sortExpression) \(comparison) \(value)::text OR (\(sortExpression) = \(value)::text AND staged_row.id \(comparison) \(id)))")
            } else {
                conditions.append("staged_row.id \(comparison) \(id)")
            }
        }
        let order = sortExpression.map { "\($0) \(direction), staged_row.id \(direction)" } ?? "staged_row.id \(direction)"
        let limit = sql.bind(query.limit)
        let rows = try await summaries(
            PostgresQuery(
                unsafeSQL: "WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT \(limit)", binds: sql.binds))
        return query.backwards ? rows.reversed() : rows
    }

    public func countRows(_ filter: RowFilter) async throws -> Int {
        let sql = RowFilterQuery(filter, sealing: sealing)
        let counts = try await client.query(
            PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM staged_row WHERE \(sql.condition)", binds: sql.binds), logger: logger
        ).decode(Int64.self).collect()
        return Int(counts.first ?? 0)
    }

    public func personNames(ofRows ids: [Int64]) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await client.query(
            "SELECT rowID, name FROM person_search WHERE rowID = ANY(\(Array(Set(ids)))::int8[]) AND name <> ''", logger: logger
        ).decode((Int64, String).self).collect()
        return Dictionary(rows, uniquingKeysWith: { first, _ in first })
    }

    /// The id of the newest row of the record `row_parent` names.
    static let parentsNewestRow = """
        (SELECT MAX(parent_row.id) FROM staged_row AS parent_row WHERE parent_row.system = row_parent.system
            AND parent_row.resourceType = row_parent.resourceType AND parent_row.sourceID = row_parent.sourceID)
        """

    /// Whether the record `row_parent` names is linked, as the SQLite store decides it
    /// (`RowParents.isLinked`): its link exists (an EMR Patient), or its newest row is linked (a
    /// Salesforce Contact that is no EMR Patient yet is settled once its newest row is linked).
    static let parentIsLinked = """
        (EXISTS (SELECT 1 FROM record_link WHERE record_link.system = row_parent.system
            AND record_link.resourceType = row_parent.resourceType AND record_link.sourceID = row_parent.sourceID)
        OR (SELECT status FROM staged_row AS newest WHERE newest.id = \(parentsNewestRow)) IS NOT DISTINCT FROM 'linked')
        """

    /// A parent is linked when its link exists or its newest row is linked (``parentIsLinked``).
    public func parents(ofRows ids: [Int64]) async throws -> [Int64: ParentRecord] {
        guard !ids.isEmpty else { return [:] }
        let found = try await client.query(
            """
            SELECT row_parent.rowID, row_parent.system, row_parent.resourceType, row_parent.sourceID, \(unescaped: Self.parentsNewestRow),
                \(unescaped: Self.parentIsLinked)
            FROM row_parent
            WHERE row_parent.rowID = ANY(\(Array(Set(ids)))::int8[])
            """, logger: logger
        ).decode((Int64, String, String, String, Int64?, Bool).self).collect()
        let newestIDs = found.compactMap(\.4)
        let newest = newestIDs.isEmpty ? [] : try await summaries("WHERE staged_row.id = ANY(\(newestIDs)::int8[])")
        let byID = Dictionary(newest.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var parents: [Int64: ParentRecord] = [:]
        for (rowID, system, resourceType, sourceID, newestID, linked) in found {
            let key = SourceKey(system: try StoredValue.decode(system, "row_parent.system"), resourceType: resourceType, sourceID: sourceID)
            parents[rowID] = ParentRecord(key: key, row: newestID.flatMap { byID[$0] }, isLinked: linked)
        }
        return parents
    }

    public func failureGroups() async throws -> [FailureGroup] {
        try await client.query(
            """
            SELECT groups.errorCode, groups.count, groups.types, groups.newest, COALESCE(staged_row.errorMessage, '')
            FROM (
                SELECT errorCode, COUNT(*) AS count, string_agg(DISTINCT resourceType, ',') AS types, MAX(id) AS newest
                FROM staged_row WHERE status = 'failed' AND errorCode IS NOT NULL GROUP BY errorCode
            ) AS groups JOIN staged_row ON staged_row.id = groups.newest
            ORDER BY groups.count DESC, groups.errorCode COLLATE "C"
            """, logger: logger
        ).decode((String, Int64, String, Int64, String).self).collect().map { code, count, types, newest, message in
            FailureGroup(
                errorCode: code, count: Int(count), resourceTypes: types.split(separator: ",").map(String.init).sorted(), sampleMessage: message,
                newestRowID: newest)
        }
    }

    /// Row summaries with the person's name, read with what follows `FROM staged_row` (a `WHERE`, an order).
    private func summaries(_ rest: PostgresQuery) async throws -> [StagedRowSummary] {
        let query = PostgresQuery(
            unsafeSQL: """
                SELECT \(StagedRowRecord.summaryColumns), (SELECT name FROM person_search WHERE person_search.rowID = staged_row.id)
                FROM staged_row \(rest.sql)
                """, binds: rest.binds)
        let rows = try await client.query(query, logger: logger).decode(
            (Int64, String, String, String, String?, Double?, Int64?, Double, String, String?, String?, Int, Double, String, String?, String?).self
        ).collect()
        return try rows.map { c in
            var summary = try StagedRowRecord.summary((c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9, c.10, c.11, c.12, c.13, c.14))
            if let name = c.15, !name.isEmpty { summary.personName = name }
            return summary
        }
    }
}

/// The SQL of a ``RowFilter`` on PostgreSQL, in one place for listing and counting: one condition
/// whose parameters are `$1`…`$9` (a condition not asked for is a NULL parameter that makes its
/// term true), so that a page's own parameters follow from `$10`.
///
/// Free text is matched against the person index (``PersonWords``: each document's words, folded
/// as SQLite's tokenizer folds them, served by a GIN index): what was typed is folded the same way
/// in Swift and bound as an array of words, never read as SQL or as a query syntax (`&`, `|`, `!`,
/// `:*`, parentheses are punctuation, which ends a word), and a document matches when it holds
/// every word; or against the row's id. In an encrypted store the index is blind (``PersonIndex``):
/// what was typed is folded and blinded word by word as the documents were, and the tokens are
/// matched the same way.
struct RowFilterQuery {
    private(set) var binds = PostgresBindings()
    let condition: String

    init(_ filter: RowFilter, sealing: StoreSealing) {
        let text = filter.text?.trimmingCharacters(in: .whitespacesAndNewlines)
        let typed = text.flatMap { $0.isEmpty ? nil : StoredText.storable($0) }
        let words = typed.map { PersonWords.typed(sealing.searchText($0)) }
        binds.append(filter.statuses.map { $0.map(\.rawValue).sorted() })
        binds.append(filter.system?.rawValue)
        binds.append(filter.resourceType)
        binds.append(filter.sourceID)
        binds.append(filter.errorCode)
        binds.append(filter.kind?.rawValue)
        binds.append(filter.jobID)
        // Text with no word in it (punctuation only) matches no document: an empty array, where
        // `@>` would match every one.
        binds.append(words.map { $0 ?? [] })
        binds.append(typed.flatMap { Int64($0) } ?? -1)
        let terms = """
            ($1::text[] IS NULL OR staged_row.status = ANY($1::text[]))
            AND ($2::text IS NULL OR staged_row.system = $2::text)
            AND ($3::text IS NULL OR staged_row.resourceType = $3::text)
            AND ($4::text IS NULL OR staged_row.sourceID = $4::text)
            AND ($5::text IS NULL OR staged_row.errorCode = $5::text)
            AND ($6::text IS NULL OR staged_row.kind = $6::text)
            AND ($7::int8 IS NULL OR staged_row.jobID = $7::int8)
            AND ($8::text[] IS NULL OR staged_row.id = $9::int8 OR (cardinality($8::text[]) > 0 AND staged_row.id IN (
                SELECT person_search.rowID FROM person_search WHERE person_search.words @> $8::text[])))
            """
        condition = filter.inverted ? "NOT COALESCE((\(terms)), false)" : "(\(terms))"
    }

    /// Binds a page's parameter and returns its placeholder.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// The expression rows are ordered by besides `id` (compared bytewise, as SQLite does); nil when
    /// `id` alone orders them (rows are received in id order).
    static func sortExpression(_ column: RowSort.Column) -> String? {
        switch column {
        case .id, .receivedAt: nil
        case .status: #"staged_row.status COLLATE "C""#
        case .resourceType: #"staged_row.resourceType COLLATE "C""#
        case .sourceID: #"staged_row.sourceID COLLATE "C""#
        case .errorCode: #"COALESCE(staged_row.errorCode, '') COLLATE "C""#
        }
    }
}
