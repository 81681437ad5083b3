import Foundation
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
        // Hashing and reading the person index's fields from each payload are the costly part: done
        // before taking the write lock, spread over the machine's cores.
        let (hashes, documents) = await Self.prepare(records)
        return try await pool.write { db in
            var rowIDs: [Int64] = []
            rowIDs.reserveCapacity(records.count)
            let insert = try RawStatement(db.cachedStatement(sql: """
                INSERT INTO staged_row (system, resourceType, sourceID, version, lastUpdated, contentHash, jobID, receivedAt, status, updatedAt,
                    kind, survivorID)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'staged', ?, ?, ?)
                ON CONFLICT (system, resourceType, sourceID, contentHash) DO NOTHING
                """), in: db)
            let insertPayload = try RawStatement(db.cachedStatement(sql: "INSERT INTO staged_payload (rowID, payload) VALUES (?, ?)"), in: db)
            let personIndex = try PersonIndex.Writer(db)
            var deduplicated = 0
            for ((record, hash), document) in zip(zip(records, hashes), documents) {
                try insert.run(
                    .text(record.system.rawValue), .text(record.resourceType), .text(record.sourceID), .text(record.version),
                    .real(record.lastUpdated?.seconds), .text(hash), .integer(job), .real(now), .real(now), .text(record.kind.rawValue),
                    .text(record.survivorID))
                if db.changesCount == 1 {
                    let rowID = db.lastInsertedRowID
                    try insertPayload.run(.integer(rowID), .blob(record.payload))
                    try personIndex.write(document, rowID: rowID)
                    rowIDs.append(rowID)
                } else {
                    deduplicated += 1
                }
            }
            if let watermark { try Self.advance(watermark, job: job, at: now, in: db) }
            CrashPoints.reach(.stageBeforeCommit)
            return StageResult(staged: rowIDs.count, deduplicated: deduplicated, rowIDs: rowIDs)
        }
    }

    /// Each record's content hash and person document, in record order, computed in parallel
    /// slices (nothing is shared between records).
    static func prepare(_ records: [IncomingRecord]) async -> (hashes: [String], documents: [PersonDocument]) {
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, records.count / 100))
        let size = (records.count + parts - 1) / max(1, parts)
        let prepared: [(String, PersonDocument)]
        if parts == 1 {
            prepared = work(records[...])
        } else {
            prepared = await withTaskGroup(of: (Int, [(String, PersonDocument)]).self) { group in
                for part in 0..<parts {
                    let slice = records[min(records.count, part * size)..<min(records.count, (part + 1) * size)]
                    group.addTask { (part, work(slice)) }
                }
                var results = Array(repeating: [(String, PersonDocument)](), count: parts)
                for await (part, done) in group { results[part] = done }
                return results.flatMap { $0 }
            }
        }
        return (prepared.map(\.0), prepared.map(\.1))
    }

    private static func work(_ slice: ArraySlice<IncomingRecord>) -> [(String, PersonDocument)] {
        slice.map { ($0.contentHash, PersonSearch.document(for: $0)) }
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
