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
        /// Refuses a kick-off with `_since` as a server that does not support it does (400).
        var refusesSince = false
        private(set) var kickOffs: [BulkExportRequest] = []
        private(set) var filesRead: [String] = []

        init(files: [String: [IncomingRecord]], transactionTime: Date) {
            self.files = files
            self.transactionTime = transactionTime
        }

        func kickOff(_ request: BulkExportRequest) async throws(RemoteCallError) -> String {
            let count = lock.withLock { kickOffs.append(request); return kickOffs.count }
            if refusesSince, request.since != nil {
                throw RemoteCallError(.rejected, LinkError(code: "not-supported", message: "The export parameter _since is not supported"))
            }
            return "https://emr.test/status/\(count)"
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

    @Test func aKickOffRefusingSinceIsSentAgainAsAFullExportAndStagesOnlyWhatChanged() async throws {
        let store = try SQLiteStore.temporary()
        let source = Self.export()
        _ = try await Self.pull(store, source)
        source.refusesSince = true
        let job = try await Self.pull(store, source)
        #expect(job.status == .succeeded)
        #expect(source.kickOffs.map(\.since) == [nil, Fixtures.lastUpdated(10).addingTimeInterval(-60), nil])
        #expect(job.counts.pulled == 2 && job.counts.staged == 0 && job.counts.deduplicated == 2, "lines read against new")
        let events = try await store.recentEvents(limit: 50).filter { $0.jobID == job.id }.map(\.message)
        #expect(events.contains { $0.contains("refused _since") && $0.contains("full export") })
    }

    @Test func anExportWhoseLinesAreMostlyOlderThanSinceIsReportedAsIgnoringIt() async throws {
        let store = try SQLiteStore.temporary()
        let source = Self.export()
        _ = try await Self.pull(store, source)
        // The scripted server answers the same lines whatever _since says: both older than it.
        let ignoring = try await Self.pull(store, source)
        let events = try await store.recentEvents(limit: 50).filter { $0.jobID == ignoring.id }.map(\.message)
        #expect(events.contains { $0.contains("ignored _since") && $0.contains("2 of 2 lines") && $0.contains("emr.bulk.since: false") })
        #expect(events.contains { $0.contains("2 lines read, 0 new, 2 already staged") })
        // A server that honours _since answers only what changed after it: nothing to report.
        source.files = ["https://emr.test/f3": [Fixtures.record(Fixtures.patient(id: "c", version: 30))]]
        let honoured = try await Self.pull(store, source)
        #expect(honoured.counts.staged == 1)
        let later = try await store.recentEvents(limit: 50).filter { $0.jobID == honoured.id }.map(\.message)
        #expect(!later.contains { $0.contains("ignored _since") })
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
