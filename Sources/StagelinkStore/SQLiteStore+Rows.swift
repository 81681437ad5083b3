import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func row(id: Int64) async throws -> StagedRow? {
        try await pool.read { db in
            try StagedRowRecord.fetchOne(db, sql: "\(StagedRowRecord.select) WHERE staged_row.id = ?", arguments: [id])
        }?.row(cipher)
    }

    public func rows(ids: [Int64]) async throws -> [StagedRow] {
        guard !ids.isEmpty else { return [] }
        return try opened(try await pool.read { db in try Self.stagedRecords(db, ids: ids) })
    }

    public func row(of record: SourceKey, contentHash: String) async throws -> StagedRow? {
        try await pool.read { db in
            try StagedRowRecord.fetchOne(
                db,
                sql: """
                    \(StagedRowRecord.select)
                    WHERE staged_row.system = ? AND staged_row.resourceType = ? AND staged_row.sourceID = ? AND staged_row.contentHash = ?
                    """,
                arguments: [record.system.rawValue, record.resourceType, record.sourceID, storedHash(contentHash)])
        }?.row(cipher)
    }

    public func rows(_ query: RowQuery) async throws -> [StagedRowSummary] {
        try await pool.read { db in
            let source = RowFilterSQL.source(query.filter, blind: self.cipher)
            let (condition, arguments) = RowFilterSQL.condition(query.filter, searchJoined: source.match != nil, blind: self.cipher)
            var conditions: [String] = source.match == nil ? [] : ["person_search MATCH ?"]
            if let condition { conditions.append(condition) }
            var allArguments: StatementArguments = source.match ?? []
            allArguments += arguments
            let idColumn = source.idColumn
            let sortExpression = RowFilterSQL.sortExpression(query.sort.column)
            // Walking backwards flips the comparison and the order; the page is reversed after.
            let ascending = query.sort.descending == query.backwards
            if let after = query.after {
                let comparison = ascending ? ">" : "<"
                if let sortExpression {
                    conditions.append("(\(sortExpression) \(comparison) ? OR (\(sortExpression) = ? AND \(idColumn) \(comparison) ?))")
                    allArguments += [after.sortValue ?? "", after.sortValue ?? "", after.id]
                } else {
                    conditions.append("\(idColumn) \(comparison) ?")
                    allArguments += [after.id]
                }
            }
            let direction = ascending ? "ASC" : "DESC"
            let order = sortExpression.map { "\($0) \(direction), \(idColumn) \(direction)" } ?? "\(idColumn) \(direction)"
            let whereSQL = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let sql = "SELECT \(RowFilterSQL.summaryColumns) FROM \(source.from) \(whereSQL) ORDER BY \(order) LIMIT ?"
            allArguments += [query.limit]
            let rows = try Row.fetchAll(db, sql: sql, arguments: allArguments).map(StagedRowRecord.summary)
            return query.backwards ? rows.reversed() : rows
        }
    }

    public func countRows(_ filter: RowFilter) async throws -> Int {
        try await pool.read { db in
            let (condition, arguments) = RowFilterSQL.condition(filter, blind: self.cipher)
            let sql = "SELECT COUNT(*) FROM staged_row" + (condition.map { " WHERE \($0)" } ?? "")
            return try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0
        }
    }

    public func failureGroups() async throws -> [FailureGroup] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT errorCode, COUNT(*) AS count, group_concat(DISTINCT resourceType) AS types, MAX(id) AS newest
                    FROM staged_row WHERE status = 'failed' AND errorCode IS NOT NULL
                    GROUP BY errorCode ORDER BY count DESC, errorCode
                    """)
            return try rows.map { row in
                let newest: Int64 = row["newest"]
                let message = try String.fetchOne(db, sql: "SELECT errorMessage FROM staged_row WHERE id = ?", arguments: [newest]) ?? ""
                let types = (row["types"] as String?)?.split(separator: ",").map(String.init).sorted() ?? []
                return FailureGroup(errorCode: row["errorCode"], count: row["count"], resourceTypes: types, sampleMessage: message, newestRowID: newest)
            }
        }
    }

    public func history(ofRow id: Int64) async throws -> [RowTransition] {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT receivedAt, jobID FROM staged_row WHERE id = ?", arguments: [id]) else {
                return []
            }
            let staged = StoredColumns.received(rowID: id, receivedAt: row["receivedAt"], jobID: row["jobID"])
            let later = try RowTransitionRecord.filter(Column("rowID") == id).order(Column("id")).fetchAll(db).map { try $0.transition }
            return [staged] + later
        }
    }

    public func attempts(ofRow id: Int64) async throws -> [LinkAttempt] {
        try await pool.read { db in
            try LinkAttemptRecord.filter(Column("rowID") == id).order(Column("number")).fetchAll(db).map { try $0.attempt }
        }
    }

    public func lastAttemptID() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM link_attempt") ?? 0 }
    }

    public func rowsAttempted(byJob id: Int64, since attemptID: Int64) async throws -> [Int64] {
        try await pool.read { db in
            try Int64.fetchAll(
                db, sql: "SELECT DISTINCT rowID FROM link_attempt WHERE id > ? AND actor = ? ORDER BY rowID",
                arguments: [attemptID, Actor.job(id).description])
        }
    }

    public func writes(byRow id: Int64) async throws -> [FieldWrite] {
        try await pool.read { db in
            try RecordWriteRecord.filter(Column("rowID") == id).order(Column("id")).fetchAll(db)
        }.flatMap { try opened($0).writes }
    }

    public func setStatus(rowIDs: [Int64], to status: RowStatus, from: Set<RowStatus>, actor: Actor, note: String) async throws -> [Int64] {
        try await write { db in
            let now = Date().seconds
            var changed: [Int64] = []
            for id in rowIDs {
                guard let current = try String.fetchOne(db, sql: "SELECT status FROM staged_row WHERE id = ?", arguments: [id]),
                    let currentStatus = RowStatus(rawValue: current), from.contains(currentStatus)
                else { continue }
                try db.execute(
                    sql: "UPDATE staged_row SET status = ?, note = ?, updatedAt = ?, updatedBy = ?, claimedBy = NULL, claimedUntil = NULL WHERE id = ?",
                    arguments: [status.rawValue, note, now, actor.description, id])
                changed.append(id)
            }
            return changed
        }
    }
}

/// The SQL of a `RowFilter`, in one place for listing, counting and claiming.
enum RowFilterSQL {
    /// The columns of a `StagedRowSummary` (`StagedRowRecord.summary`), with the person's name.
    static let summaryColumns = """
        staged_row.id, system, resourceType, sourceID, version, lastUpdated, jobID, receivedAt, status, errorCode, errorMessage,
        attemptCount, updatedAt, kind, survivorID, (SELECT name FROM person_search AS person WHERE person.rowid = staged_row.id) AS personName
        """

    /// - Parameters:
    ///   - searchJoined: the person index is joined in front of the rows already (see
    ///     ``source(_:blind:)``), so the text is matched there and not repeated here.
    ///   - blind: the cipher of an encrypted store, whose person index is blind (``PersonIndex``).
    static func condition(_ filter: RowFilter, searchJoined: Bool = false, blind: StoreCipher? = nil) -> (String?, StatementArguments) {
        var parts: [String] = []
        var arguments = StatementArguments()
        if let statuses = filter.statuses {
            parts.append("status IN (\(statuses.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(statuses.map(\.rawValue).sorted())
        }
        if let system = filter.system {
            parts.append("system = ?")
            arguments += [system.rawValue]
        }
        if let resourceType = filter.resourceType {
            parts.append("resourceType = ?")
            arguments += [resourceType]
        }
        if let sourceID = filter.sourceID {
            parts.append("sourceID = ?")
            arguments += [sourceID]
        }
        if let errorCode = filter.errorCode {
            parts.append("errorCode = ?")
            arguments += [errorCode]
        }
        if let kind = filter.kind {
            parts.append("kind = ?")
            arguments += [kind.rawValue]
        }
        if let jobID = filter.jobID {
            parts.append("jobID = ?")
            arguments += [jobID]
        }
        if let text = searchText(filter), !searchJoined {
            parts.append(textCondition)
            arguments += textArguments(text, blind: blind)
        }
        guard !parts.isEmpty else { return (filter.inverted ? "0" : nil, arguments) }
        let joined = parts.joined(separator: " AND ")
        return (filter.inverted ? "NOT IFNULL((\(joined)), 0)" : joined, arguments)
    }

    /// Free text: the person index (name, identifiers and the row's source id, birth date) or the
    /// row's id. Error codes and messages are matched by `code:` and the Failures view, not here:
    /// a substring of every message is a scan of the whole table, no index serves it.
    static let textCondition = "(id IN (SELECT rowid FROM person_search WHERE person_search MATCH ?) OR id = ?)"

    /// The filter's free text, nil when there is none (blank text is none).
    static func searchText(_ filter: RowFilter) -> String? {
        guard let text = filter.text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    static func textArguments(_ text: String, blind: StoreCipher?) -> StatementArguments {
        // Nothing searchable (only punctuation): a query no document matches.
        [PersonIndex.query(text, blind: blind) ?? #""""#, Int64(text) ?? -1]
    }

    /// Where a page of rows is read from: the table, or, for free text that is not inverted, the
    /// person index's matches in id order joined to their rows (FTS5 walks its matches in rowid
    /// order and the page stops after its last row, so the first page of a name with a hundred
    /// thousand rows reads a page's worth). `idColumn` is what the page's order and cursor use.
    static func source(_ filter: RowFilter, blind: StoreCipher?) -> (from: String, idColumn: String, match: StatementArguments?) {
        guard let text = searchText(filter), !filter.inverted else { return ("staged_row", "id", nil) }
        // A number may be a row id: the index alone would miss it.
        if Int64(text) != nil { return ("staged_row", "id", nil) }
        return (
            "person_search CROSS JOIN staged_row ON staged_row.id = person_search.rowid", "person_search.rowid",
            [PersonIndex.query(text, blind: blind) ?? #""""#]
        )
    }

    /// The expression rows are ordered by besides `id`; nil when `id` alone orders them
    /// (rows are received in id order).
    static func sortExpression(_ column: RowSort.Column) -> String? {
        switch column {
        case .id, .receivedAt: nil
        case .status: "status"
        case .resourceType: "resourceType"
        case .sourceID: "sourceID"
        case .errorCode: "IFNULL(errorCode, '')"
        }
    }
}
