import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// Reading rows: a row with its verbatim payload.
extension PostgresStore {
    public func row(id: Int64) async throws -> StagedRow? {
        try await stagedRows("staged_row.id = \(id)").first
    }

    public func row(of record: SourceKey, contentHash: String) async throws -> StagedRow? {
        try await stagedRows(
            """
            staged_row.system = \(record.system.rawValue) AND staged_row.resourceType = \(record.resourceType)
            AND staged_row.sourceID = \(record.sourceID) AND staged_row.contentHash = \(contentHash)
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
        return try rows.map { try StagedRowRecord($0).row() }
    }
}
