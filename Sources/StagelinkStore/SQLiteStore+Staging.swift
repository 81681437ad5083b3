import Foundation
import Synchronization
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func watermark(system: SourceSystem, resourceType: String) async throws -> Date? {
        try await pool.read { db in
            try Double.fetchOne(
                db, sql: "SELECT value FROM watermark WHERE system = ? AND resourceType = ?", arguments: [system.rawValue, resourceType]
            ).map(Date.init(timeIntervalSince1970:))
        }
    }

    public func stage(_ records: [IncomingRecord], job: Int64?, advancing watermark: WatermarkAdvance?) async throws -> StageResult {
        let now = Date().seconds
        // Hashing, sealing and reading the person index's fields from each payload are the costly
        // part: started now (or while the page before was written, when the puller said this page
        // came next), in chunks over the machine's cores, and the writer inserts each chunk while
        // the next is prepared (``PagePipeline``). An encrypted store keeps keyed hashes, which
        // deduplicate the same way.
        let page = upcoming.page(for: records, preparedBy: sealing)
        return try await write { db in
            try self.checkDataKey(db)
            var rowIDs: [Int64] = []
            rowIDs.reserveCapacity(records.count)
            let insert = try RawStatement(db.cachedStatement(sql: """
                INSERT INTO staged_row (system, resourceType, sourceID, version, lastUpdated, contentHash, jobID, receivedAt, status, updatedAt,
                    kind, survivorID)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'staged', ?, ?, ?)
                ON CONFLICT (system, resourceType, sourceID, contentHash) DO NOTHING
                """), in: db)
            let insertPayload = try RawStatement(db.cachedStatement(sql: "INSERT INTO staged_payload (rowID, payload) VALUES (?, ?)"), in: db)
            let personIndex = try PersonIndex.Writer(db, blind: self.cipher)
            var deduplicated = 0
            for (chunk, indices) in page.chunks.enumerated() {
                for (record, prepared) in zip(records[indices], try page.chunk(chunk)) {
                    try insert.run(
                        .text(record.system.rawValue), .text(record.resourceType), .text(record.sourceID), .text(record.version),
                        .real(record.lastUpdated?.seconds), .text(prepared.hash), .integer(job), .real(now), .real(now),
                        .text(record.kind.rawValue), .text(record.survivorID))
                    if db.changesCount == 1 {
                        let rowID = db.lastInsertedRowID
                        try insertPayload.run(.integer(rowID), .blob(prepared.payload))
                        try personIndex.write(prepared.document, rowID: rowID)
                        rowIDs.append(rowID)
                    } else {
                        deduplicated += 1
                    }
                }
            }
            // Every row of this page is prepared: the next page's preparing starts, beside this
            // page's commit.
            self.upcoming.startNext()
            if let watermark { try Self.advance(watermark, job: job, at: now, in: db) }
            CrashPoints.reach(.stageBeforeCommit)
            return StageResult(staged: rowIDs.count, deduplicated: deduplicated, rowIDs: rowIDs)
        }
    }

    public func prepareToStage(_ records: [IncomingRecord]) {
        upcoming.expect(records, preparedBy: sealing)
    }

    public func newestStaged(system: SourceSystem, resourceType: String, sourceIDs: [String]) async throws -> [String: Date] {
        guard !sourceIDs.isEmpty else { return [:] }
        return try await pool.read { db in
            var newest: [String: Date] = [:]
            // In pieces, each a bounded number of variables; the content index finds each id's rows.
            for ids in sourceIDs.chunked(Self.maximumListSize) {
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT sourceID, MAX(lastUpdated) FROM staged_row INDEXED BY staged_row_content
                        WHERE system = ? AND resourceType = ? AND sourceID IN (\(Self.placeholders(ids.count)))
                        GROUP BY sourceID
                        """,
                    arguments: StatementArguments([system.rawValue, resourceType] + Array(ids)))
                while let row = try rows.next() {
                    if let seconds: Double = row[1] { newest[row[0]] = Date(timeIntervalSince1970: seconds) }
                }
            }
            return newest
        }
    }

    /// Moves a watermark, never backwards: a page re-read through the overlap must not undo progress.
    static func advance(_ watermark: WatermarkAdvance, job: Int64?, at now: Double, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO watermark (system, resourceType, value, jobID, updatedAt) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (system, resourceType) DO UPDATE SET value = max(value, excluded.value), jobID = excluded.jobID,
                    updatedAt = excluded.updatedAt
                """,
            arguments: [watermark.system.rawValue, watermark.resourceType, watermark.to.seconds, job, now])
    }
}
