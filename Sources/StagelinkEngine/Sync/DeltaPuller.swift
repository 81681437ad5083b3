import Foundation
import Logging
import Synchronization

/// Pulls what changed since the watermark, page by page, and stages each page verbatim with the
/// watermark advance in the same transaction.
///
/// The watermark is read back minus an overlap window, so that records updated at the boundary
/// are never missed; the re-reads this causes are deduplicated by content hash, never re-applied.
/// A source that can list the window by id and version (``OverlapListing``, Salesforce) is asked
/// for that listing instead, while the pages after the window are read, and only what the store
/// has not staged is fetched whole.
public struct DeltaPuller: Sendable {
    public var store: any StagingStore
    public var source: any ChangeSource
    /// How far before the watermark each pull starts again.
    public var overlap: Duration
    public var pageSize: Int
    /// Records fetched by id at once from an overlap listing (their ids go in one query's URL).
    public var fetchSize = 200
    /// Pages read ahead of their staging, at most (``PageReadAhead``): reading goes on while a
    /// page's staging waits behind the link's writes.
    public var readAhead = 4
    /// Slices of a large overlap window listed at once (``OverlapSlices``), beside the pages after
    /// the window; 1 follows the listing's one cursor.
    public var listingLanes = 1
    /// Told after each page of a type's changes is staged, with the rows it staged (not those
    /// deduplicated): a link beside the pull (``SyncCycle``) takes them in whole bulk batches
    /// while the pull goes on.
    public var pageStaged: (@Sendable (_ resourceType: String, _ rows: Int) async -> Void)?

    public init(
        store: any StagingStore, source: any ChangeSource, overlap: Duration = .seconds(60), pageSize: Int = 500,
        pageStaged: (@Sendable (_ resourceType: String, _ rows: Int) async -> Void)? = nil
    ) {
        self.store = store
        self.source = source
        self.overlap = overlap
        self.pageSize = pageSize
        self.pageStaged = pageStaged
    }

    /// Pulls one resource type into the job. Throws the source's error after committing every
    /// page it got; a stop request ends it between pages.
    ///
    /// The watermark never passes the moment the pull began: a record stamped in the future (a
    /// wrong clock, a hostile payload's `meta.lastUpdated` of 9999) would otherwise carry it past
    /// every change made meanwhile, which would never be pulled. Such a record is re-read by the
    /// next pulls instead, and deduplicated.
    public func pull(_ resourceType: String, fields: [String] = [], into recorder: JobRecorder, stop: StopSignal) async throws {
        let began = Date()
        let watermark = try await store.watermark(system: source.system, resourceType: resourceType)
        await recorder.setWatermarks(before: watermark, after: watermark)
        await recorder.progress(phase: "pulling \(resourceType)", done: 0, total: .some(nil))
        var request = DeltaRequest(
            resourceType: resourceType, since: watermark.map { $0.addingTimeInterval(-overlap.seconds) }, fields: fields, pageSize: pageSize)
        // Deletions first, without moving the watermark: a pull stopped among them reads them
        // all again, and the record pages after them move it.
        if request.since != nil {
            var cursor: PageCursor?
            repeat {
                if stop.isRequested { throw SyncStopped() }
                let page = try await source.deletions(request, after: cursor)
                let result = try await store.stage(page.records, job: await recorder.id, advancing: nil)
                await recorder.add(Job.Counts(pulled: page.records.count, staged: result.staged, deduplicated: result.deduplicated))
                cursor = page.next
            } while cursor != nil
        }
        // The overlap window is listed while the pages after it are read: two cursors over one
        // object, neither waiting on the other's calls. The pages do not move the watermark until
        // the window is listed: a pull interrupted before that lists the same window again.
        let windowListed = Completion()
        var listing: Task<Void, any Error>?
        if let watermark, overlap > .zero, let overlapListing = source.overlapListing {
            let window = request
            listing = Task { [self] in
                try await readOverlap(window, through: watermark, listing: overlapListing, into: recorder, stop: stop)
                windowListed.finish()
            }
            request.since = overlapListing.windowEnd(through: watermark)
        } else {
            windowListed.finish()
        }
        let pages = request
        var pulled = 0
        // Once a page comes unordered, the watermark waits for the end of the pull: an unordered
        // pull interrupted midway must not have skipped the records its later pages hold.
        var ordered = true
        // A page staged while the window was still being listed did not move the watermark.
        var held = false
        var highest: Date?
        // The next page is asked for as soon as this one names it, while this one is staged, and up
        // to `readAhead` pages are read ahead of their staging (``PageReadAhead``): a page's wait on
        // the source and its staging overlap. Pages are staged in order, up to the store's pages
        // in flight at once (``PageStaging``: the watermark never passes a page not committed);
        // a page read but not staged (a stop, an error, a crash) is read again by the next pull,
        // from the watermark the staged pages moved.
        let source = source
        let reading = PageReadAhead(capacity: readAhead) { cursor in try await source.page(pages, after: cursor) }
        defer { reading.close() }
        let staging = PageStaging<(count: Int, total: Int?, movesTo: Date?)>(store: store, job: await recorder.id) { [pageStaged] page, result in
            pulled += page.count
            if let movesTo = page.movesTo { await recorder.setWatermarks(before: watermark, after: max(movesTo, watermark ?? movesTo)) }
            await recorder.add(Job.Counts(pulled: page.count, staged: result.staged, deduplicated: result.deduplicated))
            await pageStaged?(resourceType, result.staged)
            await recorder.progress(phase: "pulling \(resourceType)", done: pulled, total: page.total.map { .some($0) } ?? .some(nil))
        }
        do {
            while true {
                if stop.isRequested { throw SyncStopped() }
                guard let page = try await reading.next() else { break }
                CrashPoints.reach(.pullPage)
                ordered = ordered && page.isOrdered
                let listed = windowListed.isFinished
                let moves = ordered && listed
                held = held || !listed
                let pageHigh = page.records.compactMap(\.lastUpdated).max().map { min($0, began) }
                if let pageHigh { highest = max(highest ?? pageHigh, pageHigh) }
                let advance = moves ? pageHigh.map { WatermarkAdvance(system: source.system, resourceType: resourceType, to: $0) } : nil
                // The page after it, when read already, is prepared beside this one's writing.
                if let upcoming = await reading.upcoming() { store.prepareToStage(upcoming.records) }
                try await staging.stage(page.records, advancing: advance, context: (page.records.count, page.total, advance?.to))
            }
            try await staging.finish()
        } catch {
            // The pages in flight return (counted when committed) and the listing ends before the
            // pull does: nothing of it is staged once its job is finished. A page's error is the
            // one thrown: the source's error, or the stop, came after that page was sent.
            var failure = error
            do { try await staging.finish() } catch { failure = error }
            listing?.cancel()
            _ = try? await listing?.value
            throw failure
        }
        try await listing?.value
        if !ordered || held, let highest {
            _ = try await store.stage([], job: await recorder.id, advancing: WatermarkAdvance(system: source.system, resourceType: resourceType, to: highest))
            await recorder.setWatermarks(before: watermark, after: max(highest, watermark ?? highest))
            if !ordered {
                await recorder.event(.info, "\(resourceType): the EMR ignored the requested order; the watermark moved once the whole pull completed")
            }
        }
    }

    /// Whether the overlap window has been listed, read by the pages between them.
    private final class Completion: Sendable {
        private let done = Mutex(false)
        var isFinished: Bool { done.withLock { $0 } }
        func finish() { done.withLock { $0 = true } }
    }

    /// The overlap window, from `request.since` to the watermark (to where the listing ends:
    /// ``OverlapListing/windowEnd(through:)``), read by id and version first: only the records the
    /// store has not staged in the listed version or a newer one are fetched whole and staged. The
    /// watermark does not move: the window lies before it. A listed record without a version is
    /// fetched.
    ///
    /// The listing's first page is of the whole window, oldest first. When it says that more than
    /// one page is left and ``listingLanes`` allows, the rest of the window, from the whole second
    /// of that page's newest stamp, is cut into slices of whole seconds (``OverlapSlices``) listed
    /// by that many lanes at once, each lane taking the next slice no lane has taken: after a load
    /// the window holds the whole load, and its pages, one cursor after the other, held up the
    /// cycle (50 calls for 100,000 Contacts). The first page's records of that second, listed
    /// again by the first slice, are passed over there.
    private func readOverlap(
        _ request: DeltaRequest, through watermark: Date, listing: any OverlapListing, into recorder: JobRecorder, stop: StopSignal
    ) async throws {
        let end = listing.windowEnd(through: watermark)
        var tally = OverlapTally()
        if stop.isRequested { throw SyncStopped() }
        let first = try await listing.changes(request, before: end, after: nil)
        CrashPoints.reach(.pullPage)
        tally += try await fetchUnstaged(first.records, request, listing: listing, into: recorder)
        if let next = first.next {
            let slices = listingLanes > 1 ? OverlapSlices(after: first, before: end, lanes: listingLanes) : nil
            if let slices {
                try await withThrowingTaskGroup(of: OverlapTally.self) { group in
                    for _ in 0..<min(listingLanes, slices.count) {
                        group.addTask { [self] in
                            var lane = OverlapTally()
                            while let slice = slices.take() {
                                var part = request
                                part.since = slice.lowerBound
                                lane += try await listWindow(
                                    part, before: slice.upperBound, from: nil, skipping: slices.listedAlready, listing: listing, into: recorder, stop: stop)
                            }
                            return lane
                        }
                    }
                    for try await lane in group { tally += lane }
                }
            } else {
                tally += try await listWindow(request, before: end, from: next, skipping: [], listing: listing, into: recorder, stop: stop)
            }
        }
        if tally.absent > 0 {
            // Deleted for good since the listing, or an entry whose id the source refuses to look up.
            await recorder.event(
                .warning,
                "\(request.resourceType): \(tally.absent.formatted()) of the records listed in the overlap were not returned when read by id, and were not staged")
        }
        if tally.listed > tally.asked {
            await recorder.event(
                .info,
                "\(request.resourceType): \((tally.listed - tally.asked).formatted()) of the \(tally.listed.formatted()) records stamped in the overlap before the watermark were staged already and not read again")
        }
    }

    /// Lists `[request.since, end)` page after page from `cursor` (its first page when nil),
    /// fetching what the store lacks of each page; records listed already (by id and stamp) are
    /// passed over and not counted again.
    private func listWindow(
        _ request: DeltaRequest, before end: Date, from cursor: PageCursor?, skipping listedAlready: Set<ListedVersion>,
        listing: any OverlapListing, into recorder: JobRecorder, stop: StopSignal
    ) async throws -> OverlapTally {
        var tally = OverlapTally()
        var cursor = cursor
        repeat {
            if stop.isRequested { throw SyncStopped() }
            let page = try await listing.changes(request, before: end, after: cursor)
            CrashPoints.reach(.pullPage)
            let records = listedAlready.isEmpty ? page.records : page.records.filter { !listedAlready.contains(ListedVersion($0)) }
            tally += try await fetchUnstaged(records, request, listing: listing, into: recorder)
            cursor = page.next
        } while cursor != nil
        return tally
    }

    /// Fetches whole and stages the listed records the store has not staged in that version or a
    /// newer one.
    private func fetchUnstaged(
        _ listed: [IncomingRecord], _ request: DeltaRequest, listing: any OverlapListing, into recorder: JobRecorder
    ) async throws -> OverlapTally {
        var tally = OverlapTally(listed: listed.count)
        let staged = try await store.newestStaged(system: source.system, resourceType: request.resourceType, sourceIDs: listed.map(\.sourceID))
        let missing = listed.filter { record in
            guard let stamp = record.lastUpdated, let newest = staged[record.sourceID] else { return true }
            return RecordVersion(version: nil, lastUpdated: newest) < RecordVersion(version: nil, lastUpdated: stamp)
        }.map(\.sourceID)
        tally.asked = missing.count
        for slice in Reconciler.slices(missing, fetchSize) {
            let ids = Array(slice)
            let records = try await listing.records(request, ids: ids)
            let returned = Set(records.map(\.sourceID))
            tally.absent += ids.filter { !returned.contains($0) }.count
            let result = try await store.stage(records, job: await recorder.id, advancing: nil)
            await recorder.add(Job.Counts(pulled: records.count, staged: result.staged, deduplicated: result.deduplicated))
        }
        return tally
    }
}

/// A listed record's id and stamp.
struct ListedVersion: Hashable, Sendable {
    var sourceID: String
    var lastUpdated: Date?

    init(_ record: IncomingRecord) {
        sourceID = record.sourceID
        lastUpdated = record.lastUpdated
    }
}

/// What an overlap listing found: records listed, fetched whole, and not returned when fetched.
struct OverlapTally: Sendable {
    var listed = 0
    var asked = 0
    var absent = 0

    static func += (tally: inout OverlapTally, other: OverlapTally) {
        tally.listed += other.listed
        tally.asked += other.asked
        tally.absent += other.absent
    }
}

/// The rest of an overlap window after its first listed page, cut into slices of whole seconds
/// that lanes take in turn.
///
/// Slices start at whole seconds because a SOQL dateTime is to the second: a bound within a
/// second would list that second's records in neither slice or in both. The rest starts at the
/// whole second of the first page's newest stamp, the page being oldest first. There are at most
/// as many slices as pages are left (each slice costs at least one call) and four a lane (a lane
/// done with a thin slice takes another while the others list their thick ones: the stamps of a
/// window are not spread evenly, a bulk job stamps thousands in one second).
final class OverlapSlices: Sendable {
    private let slices: [Range<Date>]
    private let next = Mutex(0)
    /// The first page's records in the second the slices start at: the first slice lists them
    /// again, and passes them over.
    let listedAlready: Set<ListedVersion>

    /// Nil when the first page does not say how many records are left, has no stamp, or leaves
    /// one page or less: its cursor is followed then.
    init?(after first: SourcePage, before end: Date, lanes: Int) {
        guard let total = first.total, !first.records.isEmpty, let newest = first.records.compactMap(\.lastUpdated).max() else { return nil }
        let left = total - first.records.count
        let pagesLeft = (left + first.records.count - 1) / first.records.count
        guard pagesLeft > 1 else { return nil }
        let start = newest.timeIntervalSince1970.rounded(.down)
        let seconds = Int(end.timeIntervalSince1970.rounded(.up) - start)
        let count = min(pagesLeft, 4 * lanes, seconds)
        guard count > 1 else { return nil }
        listedAlready = Set(first.records.filter { ($0.lastUpdated?.timeIntervalSince1970 ?? -.infinity) >= start }.map(ListedVersion.init))
        slices = (0..<count).map { index in
            let lower = start + Double(seconds * index / count)
            let upper = index == count - 1 ? end.timeIntervalSince1970 : start + Double(seconds * (index + 1) / count)
            return Date(timeIntervalSince1970: lower)..<Date(timeIntervalSince1970: upper)
        }
    }

    var count: Int { slices.count }

    /// The next slice no lane has taken, or nil.
    func take() -> Range<Date>? {
        next.withLock { index in
            guard index < slices.count else { return nil }
            defer { index += 1 }
            return slices[index]
        }
    }
}

/// Work stopped between pages or batches because a stop was requested.
public struct SyncStopped: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "stopped on request; what was committed stays" }
}
