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
        let page = upcoming.take(records) ?? sealing.preparingPage(records)
        page.start()
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
        // A smaller page would be prepared at once, here: it waits for its turn instead.
        guard records.count >= StoreSealing.lanesMinimum else { return }
        upcoming.add(records, sealing.preparingPage(records, startingNow: false))
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

/// The pages pullers said they will stage next (``SQLiteStore/prepareToStage(_:)``), each with its
/// preparation (``PagePipeline``), oldest first. The oldest starts once the page being written is
/// all prepared, so that its preparing runs beside that page's commit instead of after it.
/// ``take(_:)`` finds a page by its records' storage (the very array the puller was given), so
/// another page staged in between is prepared as usual; pages of several pullers staging into the
/// same store at once (the types of one wave) wait side by side, and a page never staged is
/// dropped once ``capacity`` newer pages were said to come.
final class UpcomingPages: Sendable {
    typealias Page = PagePipeline<StoreSealing.PreparedRecord, StoreSealing.PreparingLane>

    /// At most this many pages wait: a puller reads a few pages ahead, never more.
    static let capacity = 4

    private let pages = Mutex<[(records: [IncomingRecord], page: Page)]>([])

    func add(_ records: [IncomingRecord], _ page: Page) {
        pages.withLock { pages in
            pages.append((records, page))
            if pages.count > Self.capacity { pages.removeFirst(pages.count - Self.capacity) }
        }
    }

    /// The preparation of exactly these records (the same array), taken out; nil when they were
    /// not said to come.
    func take(_ records: [IncomingRecord]) -> Page? {
        let identity = records.withUnsafeBufferPointer { $0.baseAddress }
        guard identity != nil else { return nil }
        return pages.withLock { pages in
            guard let index = pages.firstIndex(where: { entry in
                entry.records.count == records.count && entry.records.withUnsafeBufferPointer { $0.baseAddress } == identity
            }) else { return nil }
            return pages.remove(at: index).page
        }
    }

    /// Starts the preparing of the next page said to come, if any.
    func startNext() {
        pages.withLock { $0.first?.page }?.start()
    }
}
