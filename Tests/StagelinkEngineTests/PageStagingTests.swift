import Foundation
import Synchronization
import Testing
@testable import StagelinkEngine
import StagelinkStore

/// A store that takes `pagesInFlight` pages at once, as the PostgreSQL store does, over a SQLite
/// store: a page can be held until another has committed, or made to fail, and each page's
/// statement is recorded with the watermark it carried.
final class PagesInFlightStore: WrappingStagingStore {
    let inner: SQLiteStore
    let pagesInFlight: Int
    struct Statement: Sendable, Equatable {
        /// The first record's id ("" for a statement that only moves the watermark).
        var first: String
        var advance: Date?
    }
    private struct State {
        var inFlight = 0
        var mostInFlight = 0
        var statements: [Statement] = []
        var committed: Set<String> = []
        var holds: [String: String] = [:]
        var failing: Set<String> = []
    }
    private let state = Mutex(State())

    init(_ inner: SQLiteStore, pagesInFlight: Int) {
        self.inner = inner
        self.pagesInFlight = pagesInFlight
    }

    /// The most pages that were being staged at once.
    var mostInFlight: Int { state.withLock { $0.mostInFlight } }
    /// Each statement sent, in the order sent.
    var statements: [Statement] { state.withLock { $0.statements } }

    /// The page starting with `first` commits only after the page starting with `other` has.
    func hold(_ first: String, until other: String) { state.withLock { $0.holds[first] = other } }
    /// The page starting with `first` fails, writing nothing.
    func fail(_ first: String) { state.withLock { _ = $0.failing.insert(first) } }

    struct PageRefused: Error {}

    func stage(_ records: [IncomingRecord], job: Int64?, advancing watermark: WatermarkAdvance?) async throws -> StageResult {
        let first = records.first?.sourceID ?? ""
        let (hold, fails) = state.withLock { state in
            state.statements.append(Statement(first: first, advance: watermark?.to))
            state.inFlight += 1
            state.mostInFlight = max(state.mostInFlight, state.inFlight)
            return (state.holds[first], state.failing.contains(first))
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        // Long enough that the next page is sent while this one is in flight.
        try await Task.sleep(for: .milliseconds(20))
        // Up to 2.5 s for the page it waits on.
        var waits = 0
        while let hold, !state.withLock({ $0.committed.contains(hold) }), waits < 500 {
            try await Task.sleep(for: .milliseconds(5))
            waits += 1
        }
        if fails { throw PageRefused() }
        let result = try await inner.stage(records, job: job, advancing: watermark)
        state.withLock { _ = $0.committed.insert(first) }
        return result
    }
}

struct PageStagingTests {
    /// Five pages of four Patients, p1…p20, each page's records stamped later than the page before's.
    static let pages = (0..<5).map { page in (1...4).map { Fixtures.record(Fixtures.patient(id: "p\(page * 4 + $0)", version: page * 4 + $0)) } }

    static func advance(_ page: Int) -> WatermarkAdvance {
        WatermarkAdvance(system: .emr, resourceType: "Patient", to: Fixtures.lastUpdated(page * 4 + 4))
    }

    /// Stages `pages` through a `PageStaging`, each page moving the watermark to its records; the
    /// pages counted, in the order they were reported.
    static func stage(_ pages: [[IncomingRecord]], into store: any StagingStore) async throws -> [Int] {
        var counted: [Int] = []
        let staging = PageStaging<Int>(store: store, job: nil) { page, result in
            #expect(result.staged == pages[page].count, "page \(page) counted with what it staged")
            counted.append(page)
        }
        do {
            for (index, page) in pages.enumerated() { try await staging.stage(page, advancing: advance(index), context: index) }
            try await staging.finish()
        } catch {
            try? await staging.finish()
            throw error
        }
        return counted
    }

    @Test func aStoreThatWritesOnePageAtATimeStagesEachPageAloneAndEachPageMovesTheWatermark() async throws {
        let store = PagesInFlightStore(try SQLiteStore.temporary(), pagesInFlight: 1)
        #expect(try await Self.stage(Self.pages, into: store) == [0, 1, 2, 3, 4])
        #expect(store.mostInFlight == 1)
        #expect(
            store.statements == (0..<5).map { .init(first: "p\($0 * 4 + 1)", advance: Self.advance($0).to) },
            "each page's own statement moves the watermark to its records, and none is added")
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Self.advance(4).to)
    }

    @Test func twoPagesAreInFlightAndNoStatementMovesTheWatermarkPastAPageNotCommittedWhenItWasSent() async throws {
        let store = PagesInFlightStore(try SQLiteStore.temporary(), pagesInFlight: 2)
        #expect(try await Self.stage(Self.pages, into: store) == [0, 1, 2, 3, 4], "every page counted, in order")
        #expect(store.mostInFlight == 2)
        let statements = store.statements
        #expect(statements.map(\.first) == ["p1", "p5", "p9", "p13", "p17", ""], "one statement a page, and one at the end for the watermark")
        // Page n is sent once page n - 2 has returned (two in flight): it may carry page n - 2's
        // watermark at most, never its own nor page n - 1's.
        for (page, statement) in statements.prefix(5).enumerated() where page > 0 {
            let limit = page >= 2 ? Self.advance(page - 2).to : nil
            #expect(statement.advance == nil || statement.advance! <= limit!, "page \(page) carried \(String(describing: statement.advance))")
        }
        #expect(statements[0].advance == Self.advance(0).to, "the first page, alone, moves it to its own records")
        #expect(statements.last?.advance == Self.advance(4).to, "the end moves it past the last page")
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Self.advance(4).to)
    }

    @Test func aPageThatFailsKeepsTheWatermarkBeforeItThoughThePageAfterItCommitted() async throws {
        let inner = try SQLiteStore.temporary()
        let store = PagesInFlightStore(inner, pagesInFlight: 2)
        // The third page (p9…) fails after the fourth (p13…), sent while it was in flight, committed.
        store.hold("p9", until: "p13")
        store.fail("p9")
        var counted: [Int] = []
        let staging = PageStaging<Int>(store: store, job: nil) { page, _ in counted.append(page) }
        await #expect(throws: PagesInFlightStore.PageRefused.self) {
            for (index, page) in Self.pages.enumerated() { try await staging.stage(page, advancing: Self.advance(index), context: index) }
            try await staging.finish()
        }
        #expect(counted == [0, 1, 3], "the pages that committed are counted, the fourth too")
        #expect(
            try await store.watermark(system: .emr, resourceType: "Patient") == Self.advance(1).to,
            "the watermark stays at the second page's records: the third's are read again by the next pull")
        #expect(try await inner.rows(RowQuery(limit: 100)).count == 12, "p1…p8 and p13…p16 are staged, nothing of p9…p12")
        #expect(!store.statements.map(\.first).contains("p17"), "no page is sent after one failed")
    }

    @Test func aPageHoldingARecordOfAPageInFlightWaitsForThatPage() async throws {
        let inner = try SQLiteStore.temporary()
        let store = PagesInFlightStore(inner, pagesInFlight: 2)
        // p4 again, changed, in the second page: staged after the first page's p4 has committed.
        let changed = Fixtures.record(Fixtures.patient(id: "p4", family: "Okafor", version: 9))
        let pages = [Self.pages[0], [changed] + Self.pages[1].prefix(3)]
        #expect(try await Self.stage(pages, into: store) == [0, 1])
        #expect(store.mostInFlight == 1, "the second page was sent once the first had returned")
        let rows = try await inner.rows(RowQuery(filter: RowFilter(sourceID: "p4"), limit: 10)).sorted { $0.id < $1.id }
        #expect(rows.map(\.version) == ["4", "9"], "the version read last is the newest row")
    }

    @Test func aPullOnAStoreOfTwoPagesInFlightCountsEveryPageAndEndsWithTheWatermarkPastTheLast() async throws {
        let inner = try SQLiteStore.temporary()
        let store = PagesInFlightStore(inner, pagesInFlight: 2)
        let source = ScriptedSource(pages: Self.pages)
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: inner, meters: [source.meter], logger: .init(label: "test"))
        try await DeltaPuller(store: store, source: source, pageSize: 4).pull("Patient", into: recorder, stop: StopSignal())
        let job = try await recorder.finish()
        #expect(store.mostInFlight == 2)
        #expect(job.counts.pulled == 20)
        #expect(job.counts.staged == 20)
        #expect(job.progress.done == 20)
        #expect(job.watermarkAfter == Fixtures.lastUpdated(20))
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Fixtures.lastUpdated(20))
    }

    @Test func aPullWhoseSourceFailsCountsThePagesInFlightAndKeepsTheWatermarkAtTheLastCommittedPage() async throws {
        let inner = try SQLiteStore.temporary()
        let store = PagesInFlightStore(inner, pagesInFlight: 2)
        let source = ScriptedSource(pages: Self.pages, failAtPage: 3)
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: inner, meters: [source.meter], logger: .init(label: "test"))
        await #expect(throws: RemoteCallError.self) {
            try await DeltaPuller(store: store, source: source, pageSize: 4).pull("Patient", into: recorder, stop: StopSignal())
        }
        let job = try await recorder.finish(.failed, message: "the source failed")
        #expect(job.counts.staged == 12, "the three pages read were staged and counted, the last of them in flight when the source failed")
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Fixtures.lastUpdated(12))

        let next = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: inner, meters: [source.meter], logger: .init(label: "test"))
        try await DeltaPuller(store: store, source: source, pageSize: 4).pull("Patient", into: next, stop: StopSignal())
        let second = try await next.finish()
        #expect(second.counts.staged == 8, "the next pull stages the rest")
        #expect(try await inner.rows(RowQuery(limit: 100)).count == 20, "nothing lost, nothing twice")
    }
}
