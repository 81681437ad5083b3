import Foundation
import StagelinkEngine
import StagelinkStore

/// A staging store over a SQLite store that hands it everything but what the test watches
/// (``StagingStore/stage(_:job:advancing:)``, hints): for tests that record or slow staging.
protocol WrappingStagingStore: StagingStore {
    var inner: SQLiteStore { get }
}

extension WrappingStagingStore {
    func watermark(system: SourceSystem, resourceType: String) async throws -> Date? {
        try await inner.watermark(system: system, resourceType: resourceType)
    }
    func newestStaged(system: SourceSystem, resourceType: String, sourceIDs: [String]) async throws -> [String: Date] {
        try await inner.newestStaged(system: system, resourceType: resourceType, sourceIDs: sourceIDs)
    }
    func bulkExport(system: SourceSystem) async throws -> BulkExportProgress? { try await inner.bulkExport(system: system) }
    func saveBulkExport(_ progress: BulkExportProgress) async throws { try await inner.saveBulkExport(progress) }
    func finishBulkExport(system: SourceSystem, job: Int64?, advancing watermarks: [WatermarkAdvance]) async throws {
        try await inner.finishBulkExport(system: system, job: job, advancing: watermarks)
    }
}
