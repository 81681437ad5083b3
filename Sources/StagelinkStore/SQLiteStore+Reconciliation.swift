import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func linkedRecords(system: SourceSystem, resourceType: String) async throws -> [String: LastSeen] {
        try await pool.read { db in
            // The linked set: sources of live links of this type, and counterparts of live links
            // from the other system (record_link's primary key and record_link_target serve both).
            var linked: [String: LastSeen] = [:]
            let ids = try String.fetchCursor(
                db,
                sql: """
                    SELECT sourceID FROM record_link WHERE system = ? AND resourceType = ? AND retired IS NULL
                    UNION SELECT targetID FROM record_link WHERE targetType = ? AND system != ? AND retired IS NULL
                    """,
                arguments: [system.rawValue, resourceType, resourceType, system.rawValue])
            while let id = try ids.next() { linked[id] = LastSeen() }
            guard !linked.isEmpty else { return [:] }
            // The newest row of every record of the type, in one pass over the content index.
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT sourceID, id, version, lastUpdated, kind, status, errorCode FROM staged_row WHERE id IN (
                        SELECT MAX(id) FROM staged_row INDEXED BY staged_row_content WHERE system = ? AND resourceType = ? GROUP BY sourceID)
                    """,
                arguments: [system.rawValue, resourceType])
            while let row = try rows.next() {
                let id: String = row[0]
                guard linked[id] != nil else { continue }
                let kindText: String = row[4]
                let statusText: String = row[5]
                let kind: RecordKind = try StoredValue.decode(kindText, "staged_row.kind")
                let status: RowStatus = try StoredValue.decode(statusText, "staged_row.status")
                linked[id] = LastSeen(
                    rowID: row[1], version: RecordVersion(version: row[2], lastUpdated: (row[3] as Double?).map(Date.init(timeIntervalSince1970:))),
                    kind: kind, status: status, errorCode: row[6])
            }
            return linked
        }
    }
}
