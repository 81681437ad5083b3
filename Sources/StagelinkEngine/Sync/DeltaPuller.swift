import Foundation
import Logging

/// Pulls what changed since the watermark, page by page, and stages each page verbatim with the
/// watermark advance in the same transaction.
///
/// The watermark is read back minus an overlap window, so that records updated at the boundary
/// are never missed; the re-reads this causes are deduplicated by content hash, never re-applied.
public struct DeltaPuller: Sendable {
    public var store: any StagingStore
    public var source: any ChangeSource
    /// How far before the watermark each pull starts again.
    public var overlap: Duration
    public var pageSize: Int

    public init(store: any StagingStore, source: any ChangeSource, overlap: Duration = .seconds(60), pageSize: Int = 500) {
        self.store = store
        self.source = source
        self.overlap = overlap
        self.pageSize = pageSize
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
        let request = DeltaRequest(
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
        var pulled = 0
        // Once a page comes unordered, the watermark waits for the end of the pull: an unordered
        // pull interrupted midway must not have skipped the records its later pages hold.
        var ordered = true
        var highest: Date?
        // The next page is asked for as soon as this one names it, while this one is staged: a
        // page's wait on the EMR and its staging overlap. Pages are still staged one after the
        // other, in order; a page fetched but not staged (a stop, an error, a crash) is read again
        // by the next pull, from the watermark the staged pages moved.
        let source = source
        var fetching: Task<SourcePage, any Error>? = Task { try await source.page(request, after: nil) }
        defer { fetching?.cancel() }
        repeat {
            if stop.isRequested { throw SyncStopped() }
            let page = try await fetching!.value
            fetching = page.next.map { cursor in Task { try await source.page(request, after: cursor) } }
            CrashPoints.reach(.pullPage)
            ordered = ordered && page.isOrdered
            let pageHigh = page.records.compactMap(\.lastUpdated).max().map { min($0, began) }
            if let pageHigh { highest = max(highest ?? pageHigh, pageHigh) }
            let advance = ordered ? pageHigh.map { WatermarkAdvance(system: source.system, resourceType: resourceType, to: $0) } : nil
            let result = try await store.stage(page.records, job: await recorder.id, advancing: advance)
            pulled += page.records.count
            if ordered, let pageHigh { await recorder.setWatermarks(before: watermark, after: max(pageHigh, watermark ?? pageHigh)) }
            await recorder.add(Job.Counts(pulled: page.records.count, staged: result.staged, deduplicated: result.deduplicated))
            await recorder.progress(phase: "pulling \(resourceType)", done: pulled, total: page.total.map { .some($0) } ?? .some(nil))
        } while fetching != nil
        if !ordered, let highest {
            _ = try await store.stage([], job: await recorder.id, advancing: WatermarkAdvance(system: source.system, resourceType: resourceType, to: highest))
            await recorder.setWatermarks(before: watermark, after: max(highest, watermark ?? highest))
            await recorder.event(.info, "\(resourceType): the EMR ignored the requested order; the watermark moved once the whole pull completed")
        }
    }
}

/// Work stopped between pages or batches because a stop was requested.
public struct SyncStopped: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "stopped on request; what was committed stays" }
}
