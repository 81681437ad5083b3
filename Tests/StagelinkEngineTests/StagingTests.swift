import Foundation
import Synchronization
import Testing
@testable import StagelinkEngine
import StagelinkStore

/// A source that serves fixed pages and can fail once at a chosen page, as a crash would.
final class ScriptedSource: ChangeSource {
    let system = SourceSystem.emr
    let meter = APIMeter()
    let pages: [[IncomingRecord]]
    private let failAtPage = Mutex<Int?>(nil)
    private let requests = Mutex<[Date?]>([])

    init(pages: [[IncomingRecord]], failAtPage: Int? = nil) {
        self.pages = pages
        self.failAtPage.withLock { $0 = failAtPage }
    }

    var sinceAsked: [Date?] { requests.withLock { $0 } }

    func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        let index = cursor.flatMap { Int($0.value) } ?? 0
        if index == 0 { requests.withLock { $0.append(request.since) } }
        let shouldFail = failAtPage.withLock { failAt in
            defer { if failAt == index { failAt = nil } }
            return failAt == index
        }
        if shouldFail { throw RemoteCallError(.transient, LinkError(code: "CONNECTION_FAILED", message: "the connection dropped")) }
        // Like a server, only what changed at or after `since`.
        let records = pages[index].filter { record in request.since.map { (record.lastUpdated ?? .distantPast) >= $0 } ?? true }
        return SourcePage(records: records, next: index + 1 < pages.count ? PageCursor(String(index + 1)) : nil)
    }
}

struct StagingTests {
    func pages() -> [[IncomingRecord]] {
        (0..<3).map { page in (1...4).map { Fixtures.record(Fixtures.patient(id: "p\(page * 4 + $0)", version: page * 4 + $0)) } }
    }

    func pull(_ source: ScriptedSource, into store: SQLiteStore) async throws -> Job {
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [source.meter], logger: .init(label: "test"))
        do {
            try await DeltaPuller(store: store, source: source, overlap: .seconds(120), pageSize: 4).pull("Patient", into: recorder, stop: StopSignal())
            return try await recorder.finish()
        } catch {
            try await recorder.finish(.failed, message: "\(error)")
            throw error
        }
    }

    @Test func aFailureBetweenPagesLosesNothingAndDuplicatesNothing() async throws {
        let store = try SQLiteStore.temporary()
        let source = ScriptedSource(pages: pages(), failAtPage: 2)
        await #expect(throws: RemoteCallError.self) { try await pull(source, into: store) }
        #expect(try await store.countRows(.all) == 8)
        let watermark = try await store.watermark(system: .emr, resourceType: "Patient")
        #expect(watermark == Fixtures.lastUpdated(8))

        let job = try await pull(source, into: store)
        #expect(try await store.countRows(.all) == 12)
        #expect(source.sinceAsked.last == Fixtures.lastUpdated(8).addingTimeInterval(-120))
        #expect(job.counts.deduplicated == 3)
        #expect(job.counts.staged == 4)
        #expect(job.watermarkBefore == Fixtures.lastUpdated(8))
        #expect(job.watermarkAfter == Fixtures.lastUpdated(12))
        let ids = try await store.rows(RowQuery(limit: 100)).map(\.sourceID)
        #expect(Set(ids).count == 12)
    }

    @Test func aRecordStampedInTheFutureDoesNotCarryTheWatermarkPastNow() async throws {
        let store = try SQLiteStore.temporary()
        var future = Fixtures.record(Fixtures.patient(id: "from-9999", version: 1))
        future.lastUpdated = Timestamp.parse("9999-12-31T23:59:59Z")
        let before = Date()
        let job = try await pull(ScriptedSource(pages: [[Fixtures.record(Fixtures.patient(id: "p1", version: 1)), future]]), into: store)
        let watermark = try #require(try await store.watermark(system: .emr, resourceType: "Patient"))
        #expect(watermark >= before && watermark <= Date(), "the watermark stops at the pull's start, not at 9999")
        #expect(job.counts.staged == 2)
    }

    @Test func aPullRecordsItsCountsAndWatermarksOnTheJob() async throws {
        let store = try SQLiteStore.temporary()
        let job = try await pull(ScriptedSource(pages: pages()), into: store)
        #expect(job.status == .succeeded)
        #expect(job.counts.pulled == 12)
        #expect(job.counts.staged == 12)
        #expect(job.watermarkBefore == nil)
        #expect(job.watermarkAfter == Fixtures.lastUpdated(12))
        #expect(job.progress.done == 12)
    }
}
