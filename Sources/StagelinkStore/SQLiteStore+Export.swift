import Foundation
import GRDB

/// One stored value as SQLite holds it, for moving a store table by table into another database
/// (`stagelink store copy`): its storage class and its exact value.
package enum ExportedValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLiteStore {
    /// Whether the store seals its payloads (a `store_key` row).
    package func holdsStoreKey() async throws -> Bool {
        try await pool.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM store_key)") ?? false }
    }

    /// Up to `limit` rows of `table` (`columns` of each) in the order of its `key` columns, after
    /// the row whose key is `after`: one read a page, keyset-paged so that each costs the same.
    ///
    /// `table`, `columns` and `key` are names of this build's schema (the copy's own list, checked
    /// against the target's catalogue), never text from outside; `key` columns are among `columns`.
    package func exportPage(table: String, columns: [String], key: [String], after: [ExportedValue]?, limit: Int) async throws -> [[ExportedValue]] {
        let keyList = key.joined(separator: ", ")
        var sql = "SELECT \(columns.joined(separator: ", ")) FROM \(table)"
        var arguments = StatementArguments()
        if let after {
            sql += " WHERE (\(keyList)) > (\(key.map { _ in "?" }.joined(separator: ", ")))"
            for value in after {
                switch value {
                case .null: arguments += [DatabaseValue.null]
                case .integer(let number): arguments += [number]
                case .real(let number): arguments += [number]
                case .text(let text): arguments += [text]
                case .blob(let bytes): arguments += [Data(bytes)]
                }
            }
        }
        sql += " ORDER BY \(keyList) LIMIT \(limit)"
        // Copies of field values kept as sealed bytes go as their sealed text (``SealedFields``),
        // which is how PostgreSQL keeps them.
        let sealedFields = Set(columns.indices.filter { SealedFields.columns.contains("\(table).\(columns[$0])") })
        return try await pool.read { [sql, arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                try Array(row.databaseValues).enumerated().map { index, value in
                    if sealedFields.contains(index) { return .text(try SealedFields.text(value, what: "\(table).\(columns[index])")) }
                    return switch value.storage {
                    case .null: .null
                    case .int64(let number): .integer(number)
                    case .double(let number): .real(number)
                    case .string(let text): .text(text)
                    case .blob(let data): .blob([UInt8](data))
                    }
                }
            }
        }
    }
}
