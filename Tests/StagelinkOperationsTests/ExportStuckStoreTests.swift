import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import StagelinkOperations

/// The export in flight, as the store keeps it, reaches the `exportStuck` rule: an export a pull
/// gave up waiting for is watched between pull jobs, and clears once it is staged to the end.
struct ExportStuckStoreTests {
    @Test func theStoresExportInFlightIsWatchedUntilItIsFinished() async throws {
        let store = try SQLiteStore.temporary("export-stuck")
        let kickedOff = Date().addingTimeInterval(-2 * 3600)
        try await store.saveBulkExport(
            BulkExportProgress(system: .emr, statusURL: "https://emr.example.org/fhir/_bulk/status/9", since: nil, kickedOffAt: kickedOff))
        let rule = [ConfiguredAlertRule(.exportStuck(for: .seconds(3600)))]
        let snapshot = try await store.operationsSnapshot()
        #expect(snapshot.runningJobs.isEmpty, "no pull job runs: the export waits for the next one")
        #expect(snapshot.bulkExports.map(\.statusURL) == ["https://emr.example.org/fhir/_bulk/status/9"])
        let fired = AlertEvaluation.conditions(rule, snapshot: snapshot, since: kickedOff)
        #expect(fired.map(\.key) == ["export-emr"])
        let summary = try #require(fired.first?.summary)
        #expect(summary.hasPrefix("bulk export of the emr kicked off 2h"))
        #expect(summary.hasSuffix("ago still in flight, 0 files staged (limit 1h)"))
        try await store.finishBulkExport(system: .emr, job: nil, advancing: [])
        #expect(AlertEvaluation.conditions(rule, snapshot: try await store.operationsSnapshot(), since: kickedOff).isEmpty)
    }
}
