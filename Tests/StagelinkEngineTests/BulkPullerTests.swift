import Foundation
import Synchronization
import Testing
@testable import StagelinkEngine
import StagelinkStore

/// The bulk puller over a scripted export: the watermark only after every file, the crash points
/// it reaches, a resumed export, and a vanished one started again from the same watermark.
@Suite(.serialized)
struct BulkPullerTests {
    /// An export source that answers from a script and records what it was asked.
    final class ScriptedExport: BulkExportSource, @unchecked Sendable {
        let system = SourceSystem.emr
        let meter = APIMeter()
        private let lock = NSLock()
        var files: [String: [IncomingRecord]]
        var transactionTime: Date
        var statusAnswers: [BulkExportStatus] = []
        private(set) var kickOffs: [BulkExportRequest] = []
        private(set) var filesRead: [String] = []

        init(files: [String: [IncomingRecord]], transactionTime: Date) {
            self.files = files
            self.transactionTime = transactionTime
        }

        func kickOff(_ request: BulkExportRequest) async throws(RemoteCallError) -> String {
            lock.withLock { kickOffs.append(request); return "https://emr.test/status/\(kickOffs.count)" }
        }

        func status(_ statusURL: String) async throws(RemoteCallError) -> BulkExportStatus {
            lock.withLock {
                if !statusAnswers.isEmpty { return statusAnswers.removeFirst() }
                let output = files.keys.sorted().map { BulkManifest.File(type: "Patient", url: $0, count: files[$0]!.count) }
                return .complete(BulkManifest(transactionTime: transactionTime, output: output))
            }
        }

        func readFile(_ file: BulkManifest.File, batchSize: Int, _ body: ([IncomingRecord]) async throws -> Void) async throws {
            lock.withLock { filesRead.append(file.url) }
            try await body(files[file.url] ?? [])
        }

        func errorMessages(_ url: String) async throws(RemoteCallError) -> [String] { [] }
    }

    static let settings = BulkPullSettings(defaultPollInterval: .milliseconds(1))

    static func export(transactionTime: Date = Fixtures.lastUpdated(10)) -> ScriptedExport {
        ScriptedExport(
            files: ["https://emr.test/f1": [Fixtures.record(Fixtures.patient(id: "a"))], "https://emr.test/f2": [Fixtures.record(Fixtures.patient(id: "b"))]],
            transactionTime: transactionTime)
    }

    static func pull(_ store: SQLiteStore, _ source: ScriptedExport) async throws -> Job {
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [], logger: .init(label: "test"))
        try await BulkPuller(store: store, source: source, settings: settings, overlap: .seconds(60)).pull(["Patient"], into: recorder, stop: StopSignal())
        return try await recorder.finish()
    }

    @Test func theTransactionTimeBecomesTheWatermarkAfterEveryFileAndTheNextExportStartsFromItLessTheOverlap() async throws {
        let store = try SQLiteStore.temporary()
        let source = Self.export()
        source.statusAnswers = [.inProgress(progress: "10%", retryAfter: .milliseconds(1))]
        let job = try await Self.pull(store, source)
        #expect(job.counts.staged == 2)
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Fixtures.lastUpdated(10))
        #expect(try await store.bulkExport(system: .emr) == nil)
        _ = try await Self.pull(store, source)
        #expect(source.kickOffs.map(\.since) == [nil, Fixtures.lastUpdated(10).addingTimeInterval(-60)])
        #expect(source.kickOffs.first?.types == ["Patient"])
    }

    @Test func anExportInFlightIsResumedAndItsStagedFilesAreNotReadAgain() async throws {
        let store = try SQLiteStore.temporary()
        let source = Self.export()
        try await store.saveBulkExport(
            BulkExportProgress(system: .emr, statusURL: "https://emr.test/status/old", since: nil, kickedOffAt: Date(), stagedFiles: ["https://emr.test/f1"]))
        let job = try await Self.pull(store, source)
        #expect(source.kickOffs.isEmpty)
        #expect(source.filesRead == ["https://emr.test/f2"])
        #expect(job.counts.staged == 1)
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Fixtures.lastUpdated(10))
    }

    @Test func aVanishedExportStartsAgainFromTheSameWatermark() async throws {
        let store = try SQLiteStore.temporary()
        let source = Self.export()
        _ = try await Self.pull(store, source)
        source.statusAnswers = [.gone]
        source.transactionTime = Fixtures.lastUpdated(20)
        _ = try await Self.pull(store, source)
        let since = Fixtures.lastUpdated(10).addingTimeInterval(-60)
        #expect(source.kickOffs.map(\.since) == [nil, since, since])
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Fixtures.lastUpdated(20))
    }
}
