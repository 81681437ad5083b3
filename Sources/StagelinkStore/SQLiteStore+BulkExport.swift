import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func bulkExport(system: SourceSystem) async throws -> BulkExportProgress? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM bulk_export WHERE system = ?", arguments: [system.rawValue]).map(Self.bulkExport(from:))
        }
    }

    /// Every export in flight, by system.
    static func bulkExports(in db: Database) throws -> [BulkExportProgress] {
        try Row.fetchAll(db, sql: "SELECT * FROM bulk_export ORDER BY system").map(bulkExport(from:))
    }

    private static func bulkExport(from row: Row) throws -> BulkExportProgress {
        let system: SourceSystem = try StoredValue.decode(row["system"] as String, "bulk_export.system")
        let stagedText: String = row["stagedFiles"]
        guard let staged = try? JSONDecoder().decode([String].self, from: Data(stagedText.utf8)) else {
            throw StoreError.unreadable("bulk_export.stagedFiles of \(system.rawValue) is not a JSON array of URLs")
        }
        return BulkExportProgress(
            system: system, statusURL: row["statusURL"], since: (row["since"] as Double?).map(Date.init(timeIntervalSince1970:)),
            kickedOffAt: Date(timeIntervalSince1970: row["kickedOffAt"]), stagedFiles: staged)
    }

    public func saveBulkExport(_ progress: BulkExportProgress) async throws {
        let staged = String(decoding: try JSONEncoder().encode(progress.stagedFiles), as: UTF8.self)
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO bulk_export (system, statusURL, since, kickedOffAt, stagedFiles) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (system) DO UPDATE SET statusURL = excluded.statusURL, since = excluded.since,
                        kickedOffAt = excluded.kickedOffAt, stagedFiles = excluded.stagedFiles
                    """,
                arguments: [progress.system.rawValue, progress.statusURL, progress.since?.seconds, progress.kickedOffAt.seconds, staged])
        }
    }

    public func finishBulkExport(system: SourceSystem, job: Int64?, advancing watermarks: [WatermarkAdvance]) async throws {
        let now = Date().seconds
        try await write { db in
            for watermark in watermarks { try Self.advance(watermark, job: job, at: now, in: db) }
            try db.execute(sql: "DELETE FROM bulk_export WHERE system = ?", arguments: [system.rawValue])
        }
    }
}
