import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The linked set a reconciliation compares (linking role), as the SQLite store reads it.
extension PostgresStore {
    public func linkedRecords(system: SourceSystem, resourceType: String) async throws -> [String: LastSeen] {
        // Sources of live links of this type, and counterparts of live links from the other system.
        let ids = try await client.query(
            """
            SELECT sourceID FROM record_link WHERE system = \(system.rawValue) AND resourceType = \(resourceType) AND retired IS NULL
            UNION SELECT targetID FROM record_link WHERE targetType = \(resourceType) AND system <> \(system.rawValue) AND retired IS NULL
            """, logger: logger
        ).decode(String.self).collect()
        var linked = Dictionary(ids.map { ($0, LastSeen()) }, uniquingKeysWith: { first, _ in first })
        guard !linked.isEmpty else { return [:] }
        // The newest row of every record of the type.
        let rows = try await client.query(
            """
            SELECT DISTINCT ON (sourceID) sourceID, id, version, lastUpdated, kind, status, errorCode FROM staged_row
            WHERE system = \(system.rawValue) AND resourceType = \(resourceType) ORDER BY sourceID, id DESC
            """, logger: logger
        ).decode((String, Int64, String?, Double?, String, String, String?).self).collect()
        for (id, rowID, version, lastUpdated, kindText, statusText, errorCode) in rows where linked[id] != nil {
            let kind: RecordKind = try StoredValue.decode(kindText, "staged_row.kind")
            let status: RowStatus = try StoredValue.decode(statusText, "staged_row.status")
            linked[id] = LastSeen(
                rowID: rowID, version: RecordVersion(version: version, lastUpdated: lastUpdated.map(Date.init(timeIntervalSince1970:))),
                kind: kind, status: status, errorCode: errorCode)
        }
        return linked
    }
}
