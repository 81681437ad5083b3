import Foundation
import GRDB
import StagelinkEngine

/// Each staged row's parent record (the Patient of an episode or an assessment, the Contact of an
/// admission), written with the row's person document when it is staged: ids only, no payload
/// data, so it outlives a retention purge.
enum RowParents {
    static let schema = """
        CREATE TABLE row_parent (
            rowID INTEGER PRIMARY KEY REFERENCES staged_row(id),
            system TEXT NOT NULL,
            resourceType TEXT NOT NULL,
            sourceID TEXT NOT NULL
        );
        CREATE INDEX row_parent_record ON row_parent(system, resourceType, sourceID);
        """

    /// Whether a record is linked: its link exists, or its newest row is linked. An EMR Patient
    /// links by its link; a Salesforce Contact that is not an EMR Patient yet has no link until an
    /// admission creates its Patient, and it is settled (nothing of it waits to be sent) once its
    /// newest row is linked: its admissions do not wait on it then.
    static let isLinked = """
        (EXISTS (SELECT 1 FROM record_link WHERE record_link.system = row_parent.system
            AND record_link.resourceType = row_parent.resourceType AND record_link.sourceID = row_parent.sourceID)
        OR (SELECT status FROM staged_row WHERE id = (SELECT MAX(id) FROM staged_row INDEXED BY staged_row_content
            WHERE staged_row.system = row_parent.system AND staged_row.resourceType = row_parent.resourceType
            AND staged_row.sourceID = row_parent.sourceID)) IS 'linked')
        """
}

extension SQLiteStore {
    public func parents(ofRows ids: [Int64]) async throws -> [Int64: ParentRecord] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.read { db in
            var parents: [Int64: ParentRecord] = [:]
            let statement = try db.cachedStatement(
                sql: """
                    SELECT system, resourceType, sourceID, \(RowParents.isLinked) AS linked,
                        (SELECT MAX(id) FROM staged_row INDEXED BY staged_row_content WHERE staged_row.system = row_parent.system
                            AND staged_row.resourceType = row_parent.resourceType AND staged_row.sourceID = row_parent.sourceID) AS newest
                    FROM row_parent WHERE rowID = ?
                    """)
            for id in Set(ids) {
                guard let row = try Row.fetchOne(statement, arguments: [id]) else { continue }
                let system: SourceSystem = try StoredValue.decode(row["system"] as String, "row_parent.system")
                let key = SourceKey(system: system, resourceType: row["resourceType"], sourceID: row["sourceID"])
                let newest: Int64? = row["newest"]
                let summary = try newest.flatMap { newest in
                    try Row.fetchOne(db, sql: "SELECT \(RowFilterSQL.summaryColumns) FROM staged_row WHERE id = ?", arguments: [newest])
                        .map(StagedRowRecord.summary)
                }
                parents[id] = ParentRecord(key: key, row: summary, isLinked: row["linked"])
            }
            return parents
        }
    }

    public func rowsWaitingOnLinkedParents(system: SourceSystem, limit: Int) async throws -> [Int64] {
        try await pool.read { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT staged_row.id FROM staged_row JOIN row_parent ON row_parent.rowID = staged_row.id
                    WHERE staged_row.errorCode = ? AND staged_row.status = 'failed' AND staged_row.system = ? AND \(RowParents.isLinked)
                    ORDER BY staged_row.id LIMIT ?
                    """,
                arguments: [ErrorCode.waitingOnParent.rawValue, system.rawValue, limit])
        }
    }
}
