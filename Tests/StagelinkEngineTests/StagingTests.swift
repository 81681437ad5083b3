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

/// A source that lists the records of a window by id and stamp (``OverlapListing``), as Salesforce
/// does, and says which records it was asked to fetch whole.
final class ListingSource: ChangeSource, OverlapListing {
    let system = SourceSystem.emr
    let meter = APIMeter()
    private struct State {
        var records: [IncomingRecord] = []
        var fetched: [String] = []
        var pagesSince: [Date?] = []
        var gone: Set<String> = []
        var listingFails = false
        var windows: [Range<Date>] = []
        var inFlight = 0
        var mostInFlight = 0
    }
    private let state = Mutex(State())
    /// The most records a listing call answers (a page, its cursor the offset of the next); all
    /// when nil.
    let listingPage: Int?
    /// How long a listing call takes.
    let listingDelay: Duration
    /// The pages after the window are answered only once a record was fetched by id (up to 10 s):
    /// for a test that needs them after the listing.
    let pagesAfterAFetch: Bool

    init(_ records: [IncomingRecord], listingPage: Int? = nil, listingDelay: Duration = .zero, pagesAfterAFetch: Bool = false) {
        self.listingPage = listingPage
        self.listingDelay = listingDelay
        self.pagesAfterAFetch = pagesAfterAFetch
        state.withLock { $0.records = records }
    }

    /// A record committed now, whatever its stamp (a long transaction's is older than its commit).
    func commit(_ record: IncomingRecord) {
        state.withLock { state in
            state.records.removeAll { $0.sourceID == record.sourceID }
            state.records.append(record)
        }
    }
    /// Listed still, but no longer returned when read by id (deleted for good since the listing).
    func purge(_ id: String) { state.withLock { _ = $0.gone.insert(id) } }
    /// The listing answers 503 (or works again).
    func listingFails(_ fails: Bool) { state.withLock { $0.listingFails = fails } }
    var fetched: [String] { state.withLock { $0.fetched } }
    var pagesSince: [Date?] { state.withLock { $0.pagesSince } }
    /// Each window listed from its start (a call without a cursor), in the order asked.
    var windows: [Range<Date>] { state.withLock { $0.windows } }
    /// The most listing calls that were in flight at once.
    var mostListingsInFlight: Int { state.withLock { $0.mostInFlight } }
    var overlapListing: (any OverlapListing)? { self }

    private func stamped(from since: Date?, before end: Date = .distantFuture) -> [IncomingRecord] {
        state.withLock { $0.records }.filter { record in
            let stamp = record.lastUpdated ?? .distantPast
            return stamp >= (since ?? .distantPast) && stamp < end
        }.sorted { ($0.lastUpdated ?? .distantPast, $0.sourceID) < ($1.lastUpdated ?? .distantPast, $1.sourceID) }
    }

    func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        if pagesAfterAFetch && request.since != nil {
            for _ in 0..<1_000 where state.withLock({ $0.fetched.isEmpty }) { try? await Task.sleep(for: .milliseconds(10)) }
        }
        state.withLock { $0.pagesSince.append(request.since) }
        return SourcePage(records: stamped(from: request.since), next: nil)
    }

    func changes(_ request: DeltaRequest, before end: Date, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        let failing = state.withLock { state in
            if cursor == nil { state.windows.append((request.since ?? .distantPast)..<end) }
            state.inFlight += 1
            state.mostInFlight = max(state.mostInFlight, state.inFlight)
            return state.listingFails
        }
        if listingDelay > .zero { try? await Task.sleep(for: listingDelay) }
        state.withLock { $0.inFlight -= 1 }
        if failing {
            throw RemoteCallError(.transient, LinkError(code: ErrorCode.httpStatus(503), message: "the server answered 503"))
        }
        // Ids and stamps only, as a listing gives them, oldest first, with the window's count.
        let window = stamped(from: request.since, before: end).map { record in
            var listed = record
            listed.payload = Array(#"{"listed":true}"#.utf8)
            return listed
        }
        let offset = cursor.flatMap { Int($0.value) } ?? 0
        let upper = min(window.count, offset + (listingPage ?? window.count))
        return SourcePage(
            records: Array(window[offset..<upper]), next: upper < window.count ? PageCursor(String(upper)) : nil, total: window.count)
    }

    /// To the second, as Salesforce lists.
    func windowEnd(through watermark: Date) -> Date { Date(timeIntervalSince1970: watermark.timeIntervalSince1970.rounded(.down) + 1) }

    func records(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord] {
        let gone = state.withLock { state in
            state.fetched += ids
            return state.gone
        }
        return stamped(from: nil).filter { ids.contains($0.sourceID) && !gone.contains($0.sourceID) }
    }
}

struct StagingTests {
    func pages() -> [[IncomingRecord]] {
        (0..<3).map { page in (1...4).map { Fixtures.record(Fixtures.patient(id: "p\(page * 4 + $0)", version: page * 4 + $0)) } }
    }

    func pull(_ source: any ChangeSource, overlap: Duration = .seconds(120), listingLanes: Int = 1, into store: SQLiteStore) async throws -> Job {
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [source.meter], logger: .init(label: "test"))
        do {
            var puller = DeltaPuller(store: store, source: source, overlap: overlap, pageSize: 4)
            puller.listingLanes = listingLanes
            try await puller.pull("Patient", into: recorder, stop: StopSignal())
            return try await recorder.finish()
        } catch {
            try await recorder.finish(.failed, message: "\(error)")
            throw error
        }
    }

    /// Types are pulled at once when neither's documents take the other's names: a child after
    /// its parent, siblings together, a type listed twice once.
    @Test func typesArePulledInWavesAChildAfterItsParentSiblingsTogether() {
        #expect(PersonSearch.pullWaves(["Patient", "EpisodeOfCare", "QuestionnaireResponse"], system: .emr) == [["Patient"], ["EpisodeOfCare", "QuestionnaireResponse"]])
        #expect(PersonSearch.pullWaves(["EpisodeOfCare", "Patient", "ServiceRequest", "Patient"], system: .emr) == [["EpisodeOfCare", "Patient"], ["ServiceRequest"]])
        #expect(PersonSearch.pullWaves(["Observation", "Patient"], system: .emr) == [["Observation", "Patient"]])
        #expect(PersonSearch.pullWaves(["Contact", "Admission__c"], system: .salesforce) == [["Contact"], ["Admission__c"]])
        #expect(PersonSearch.pullWaves([], system: .emr).isEmpty)
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

    @Test func anOverlapListedByIdAndStampIsFetchedOnlyWhereTheStoreLacksThatVersion() async throws {
        let store = try SQLiteStore.temporary()
        let patient = { (id: String, version: Int) in Fixtures.record(Fixtures.patient(id: id, version: version)) }
        let source = ListingSource((1...8).map { patient("p\($0)", $0) })
        let first = try await pull(source, overlap: .seconds(300), into: store)
        #expect(first.counts.staged == 8)
        #expect(source.fetched.isEmpty, "a first pull has no watermark, so no overlap to list")

        // Committed after that pull: one stamped before its watermark (a long transaction), a
        // newer version of a record in the window, one inside the window still unchanged, and one after.
        source.commit(patient("late", 6))
        source.commit(patient("p4", 7))
        source.commit(patient("p9", 9))
        let second = try await pull(source, overlap: .seconds(300), into: store)

        #expect(Set(source.fetched) == ["late", "p4"], "p3…p8 are staged in the versions listed; late and p4's newer one are not")
        #expect(
            source.pagesSince.last == Fixtures.lastUpdated(8).addingTimeInterval(1),
            "the pages start where the listing ended, the second after the watermark, not at the overlap's start")
        #expect(second.counts.staged == 3)
        #expect(second.counts.pulled == 3, "late and p4 fetched, p9 paged; p8, at the watermark, was listed and is not read again")
        #expect(second.counts.deduplicated == 0)
        #expect(second.watermarkAfter == Fixtures.lastUpdated(9))
        #expect(
            try await store.recentEvents(limit: 10).contains {
                $0.jobID == second.id && $0.message == "Patient: 5 of the 7 records stamped in the overlap before the watermark were staged already and not read again"
            })
        let rows = try await store.rows(RowQuery(limit: 100))
        #expect(rows.count == 11)
        #expect(rows.filter { $0.sourceID == "late" }.count == 1)

        // Nothing new: the listing is all the overlap costs.
        let third = try await pull(source, overlap: .seconds(300), into: store)
        #expect(Set(source.fetched) == ["late", "p4"])
        #expect(third.counts.staged == 0)
        #expect(third.counts.pulled == 0)
    }

    /// Sixty Patients two to a second, as a load stamps them, and after that pull a late commit
    /// inside the window and a newer version of one of them.
    func loadedWindow(listingPage: Int?, listingDelay: Duration = .zero) -> (ListingSource, Date) {
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        let patient = { (id: String, stamp: Double, family: String) in
            var record = Fixtures.record(Fixtures.patient(id: id, family: family))
            record.lastUpdated = base.addingTimeInterval(stamp)
            return record
        }
        let source = ListingSource(
            (0..<60).map { patient("p\($0)", Double($0) / 2, "Müller") }, listingPage: listingPage, listingDelay: listingDelay)
        return (source, base)
    }

    /// After a load, the overlap window holds the whole load: its listing, one cursor, held up the
    /// cycle. Listed in slices at once, it finds the same records and counts each once.
    @Test func aLargeOverlapWindowIsListedInSlicesOfWholeSecondsAtOnceAndFindsWhatOneCursorFinds() async throws {
        var outcomes: [[String]] = []
        for lanes in [1, 3] {
            let store = try SQLiteStore.temporary()
            let (source, base) = loadedWindow(listingPage: 4, listingDelay: .milliseconds(20))
            _ = try await pull(source, overlap: .seconds(300), listingLanes: lanes, into: store)
            var late = Fixtures.record(Fixtures.patient(id: "late", family: "Late"))
            late.lastUpdated = base.addingTimeInterval(20.25)
            source.commit(late)
            var changed = Fixtures.record(Fixtures.patient(id: "p10", family: "Changed"))
            changed.lastUpdated = base.addingTimeInterval(25.75)
            source.commit(changed)

            let job = try await pull(source, overlap: .seconds(300), listingLanes: lanes, into: store)
            #expect(Set(source.fetched) == ["late", "p10"], "lanes \(lanes)")
            #expect(job.counts.staged == 2)
            let events = try await store.recentEvents(limit: 10).filter { $0.jobID == job.id }
            #expect(
                events.contains { $0.message == "Patient: 59 of the 61 records stamped in the overlap before the watermark were staged already and not read again" },
                "each listed record counted once with \(lanes) lanes")
            let end = base.addingTimeInterval(30)
            if lanes == 1 {
                #expect(source.windows.count == 1, "one cursor")
                #expect(source.mostListingsInFlight == 1)
            } else {
                // Lanes ask at once: the windows come in any order.
                let slices = source.windows.dropFirst().sorted { $0.lowerBound < $1.lowerBound }
                // The first page is p0…p3 (0 to 1.5 s): the rest from its newest stamp's second.
                #expect(slices.first?.lowerBound == base.addingTimeInterval(1))
                #expect(slices.last?.upperBound == end)
                #expect(zip(slices, slices.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "slices meet, none overlaps")
                #expect(slices.allSatisfy { $0.lowerBound.timeIntervalSince1970.rounded(.down) == $0.lowerBound.timeIntervalSince1970 })
                #expect(slices.count == 12, "four a lane, fewer than the 15 pages left")
                #expect(source.mostListingsInFlight > 1 && source.mostListingsInFlight <= 3)
            }
            outcomes.append(try await store.rows(RowQuery(limit: 100)).map { "\($0.sourceID) \($0.lastUpdated?.timeIntervalSince1970 ?? 0)" }.sorted())
        }
        #expect(outcomes[0] == outcomes[1], "the same rows staged either way")
        #expect(outcomes[0].count == 62)
    }

    /// A window of one page or two is listed by its one cursor, whatever the lanes.
    @Test func aSmallOverlapWindowIsListedByItsOneCursor() async throws {
        let store = try SQLiteStore.temporary()
        let (source, _) = loadedWindow(listingPage: 40)
        _ = try await pull(source, overlap: .seconds(300), listingLanes: 3, into: store)
        _ = try await pull(source, overlap: .seconds(300), listingLanes: 3, into: store)
        #expect(source.windows.count == 1)
        #expect(source.fetched.isEmpty)
    }

    @Test func aListedRecordNotReturnedWhenReadByIdIsSaidOnTheJob() async throws {
        let store = try SQLiteStore.temporary()
        let patient = { (id: String, version: Int) in Fixtures.record(Fixtures.patient(id: id, version: version)) }
        let source = ListingSource((1...8).map { patient("p\($0)", $0) })
        _ = try await pull(source, overlap: .seconds(300), into: store)
        source.commit(patient("late", 6))
        source.purge("late")
        let job = try await pull(source, overlap: .seconds(300), into: store)
        #expect(source.fetched == ["late"])
        #expect(job.counts.staged == 0)
        let events = try await store.recentEvents(limit: 10).filter { $0.jobID == job.id }
        #expect(
            events.contains {
                $0.level == .warning && $0.message == "Patient: 1 of the records listed in the overlap were not returned when read by id, and were not staged"
            })
        #expect(events.contains { $0.message == "Patient: 6 of the 7 records stamped in the overlap before the watermark were staged already and not read again" })
    }

    @Test func thePagesReadBesideTheOverlapListingMoveNoWatermarkUntilTheWindowIsListed() async throws {
        let store = try SQLiteStore.temporary()
        let patient = { (id: String, version: Int) in Fixtures.record(Fixtures.patient(id: id, version: version)) }
        let source = ListingSource((1...8).map { patient("p\($0)", $0) })
        _ = try await pull(source, overlap: .seconds(300), into: store)
        source.commit(patient("late", 6))
        source.commit(patient("p9", 9))
        source.listingFails(true)
        await #expect(throws: RemoteCallError.self) { try await pull(source, overlap: .seconds(300), into: store) }
        #expect(try await store.rows(RowQuery(limit: 100)).contains { $0.sourceID == "p9" }, "the page after the window was read and staged")
        #expect(
            try await store.watermark(system: .emr, resourceType: "Patient") == Fixtures.lastUpdated(8),
            "the window was not listed: the watermark stays, and the next pull lists the same window")

        source.listingFails(false)
        let next = try await pull(source, overlap: .seconds(300), into: store)
        #expect(source.fetched == ["late"], "the late commit in the window is found the next time")
        #expect(next.counts.staged == 1)
        #expect(next.counts.deduplicated == 1, "p9 was staged already")
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Fixtures.lastUpdated(9))
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

/// A store that says which pages it was told come next, and takes its time over each page, as a
/// store whose writer is busy does.
final class HintRecordingStore: WrappingStagingStore {
    let inner: SQLiteStore
    /// What was said and done, in order: `("next", first id)` for a hint, `("stage", first id)`.
    private let log = Mutex<[(String, String, [IncomingRecord])]>([])

    init(_ inner: SQLiteStore) { self.inner = inner }

    var events: [(String, String, [IncomingRecord])] { log.withLock { $0 } }

    func prepareToStage(_ records: [IncomingRecord]) {
        log.withLock { $0.append(("next", records.first?.sourceID ?? "", records)) }
        inner.prepareToStage(records)
    }

    func stage(_ records: [IncomingRecord], job: Int64?, advancing watermark: WatermarkAdvance?) async throws -> StageResult {
        log.withLock { $0.append(("stage", records.first?.sourceID ?? "", records)) }
        try await Task.sleep(for: .milliseconds(50))
        return try await inner.stage(records, job: job, advancing: watermark)
    }
}

struct PreparingTheNextPageTests {
    /// While a page is staged, the pull says which page comes next when it has read it already:
    /// always the very page it stages next, so that the store may prepare it beside the writing.
    @Test func thePullSaysWhichPageItStagesNextAndItIsThePageItStagesNext() async throws {
        let store = try SQLiteStore.temporary()
        let pages = (0..<5).map { page in (1...4).map { Fixtures.record(Fixtures.patient(id: "p\(page * 4 + $0)", version: page * 4 + $0)) } }
        let recording = HintRecordingStore(store)
        let source = ScriptedSource(pages: pages)
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [source.meter], logger: .init(label: "test"))
        try await DeltaPuller(store: recording, source: source, pageSize: 4).pull("Patient", into: recorder, stop: StopSignal())
        _ = try await recorder.finish()

        let events = recording.events
        #expect(events.filter { $0.0 == "stage" }.map(\.1) == ["p1", "p5", "p9", "p13", "p17"])
        let hints = events.indices.filter { events[$0].0 == "next" }
        #expect(hints.count >= 3, "pages read ahead while a slow staging went on are said to come: \(events.map { "\($0.0) \($0.1)" })")
        for index in hints {
            // Said just before the page before it is staged; the next page staged after that is it.
            let following = events[(index + 1)...].filter { $0.0 == "stage" }
            #expect(following.count >= 2)
            #expect(following.dropFirst().first?.2 == events[index].2)
            #expect(following.dropFirst().first.map { page in page.2.withUnsafeBufferPointer { $0.baseAddress } }
                == events[index].2.withUnsafeBufferPointer { $0.baseAddress }, "the very array, which the store finds it by")
        }
        #expect(try await store.countRows(.all) == 20)
    }
}
