import Foundation

/// The pages of one resource type's pull staged in the order read, up to the store's
/// ``StagingStore/pagesInFlight`` at once, with the watermark moved only past pages whose every
/// predecessor has committed.
///
/// Each page is still staged in a transaction of its own (``StagingStore/stage(_:job:advancing:)``),
/// but the next page is sent before the one before it has returned: on PostgreSQL one page is
/// written by the server while the next is prepared and sent, and the two are written by two of
/// the server's backends at once (docs/scale.md, "Two pages of a pull in flight"). With a store
/// of one writer (SQLite, ``StagingStore/pagesInFlight`` 1) every page is sent after the one
/// before has returned, and moves the watermark itself, exactly as staging page by page.
///
/// What two pages in flight must not change, and how it does not:
/// - **The watermark never passes a page that is not committed.** A page sent while another is
///   in flight does not move the watermark to its own records (the page before it may yet fail,
///   and its records would then never be read again); it carries the watermark of the pages
///   before it that have all committed, and the last of those is moved by ``finish()``. A crash
///   between pages leaves the watermark at most a page or two behind: those are read again
///   through it, and deduplicated.
/// - **A record is in one page in flight at a time.** A page holding a record that a page in
///   flight holds too waits for that page to return, so that the record's rows are numbered in
///   the order read (its newest row is the one read last) and neither insert waits on the other's.
/// - **A row's parent is committed before the row is staged.** Parents are of another resource
///   type (``PersonSearch``), pulled in an earlier wave, and a pull's pages are all finished
///   before its pull returns.
/// - **Every committed page is counted**, in order, by `staged`, even when a page before it
///   failed; the first error is thrown once no page is in flight.
///
/// For example:
///
/// ```swift
/// let staging = PageStaging<Int>(store: store, job: jobID) { page, result in
///     await recorder.add(Job.Counts(pulled: page, staged: result.staged, deduplicated: result.deduplicated))
/// }
/// for page in pages { try await staging.stage(page.records, advancing: page.advance, context: page.records.count) }
/// try await staging.finish()
/// ```
///
/// Used by one task: it is not `Sendable`.
public final class PageStaging<Context: Sendable> {
    /// A page sent and not yet returned.
    private struct InFlight {
        var keys: Set<SourceKey>
        /// The page's own watermark, moved once every page up to it has committed.
        var advance: WatermarkAdvance?
        /// The watermark its statement moves (its own, or the committed pages' before it).
        var carried: WatermarkAdvance?
        var context: Context
        var task: Task<StageResult, any Error>
    }

    private let store: any StagingStore
    private let job: Int64?
    private let depth: Int
    private let staged: (Context, StageResult) async -> Void
    private var inFlight: [InFlight] = []
    /// The furthest watermark of the pages that have committed with every page before them, and
    /// the furthest any committed statement moved.
    private var committed: WatermarkAdvance?
    private var written: WatermarkAdvance?

    /// - Parameters:
    ///   - staged: called for each page that committed, in the order sent, with the context it
    ///     was sent with and what it staged.
    public init(store: any StagingStore, job: Int64?, staged: @escaping (Context, StageResult) async -> Void) {
        self.store = store
        self.job = job
        depth = max(1, store.pagesInFlight)
        self.staged = staged
    }

    /// Sends `records` to be staged after the pages sent before (once no page in flight holds
    /// one of these records), and returns once fewer than the store's pages are in flight: on
    /// PostgreSQL when the page before this one has returned, with a store of one writer when
    /// this page has. `staged` is called for each page as it returns. `watermark` is how far the
    /// watermark may move once this page and every page before it have committed. Throws the
    /// error of the first page that failed, once no page is in flight.
    public func stage(_ records: [IncomingRecord], advancing watermark: WatermarkAdvance?, context: Context) async throws {
        let keys = Set(records.map(\.key))
        while inFlight.contains(where: { !$0.keys.isDisjoint(with: keys) }) { try await returnOldest() }
        // Alone, the page moves the watermark to its own records; behind a page in flight, to
        // the committed pages' only; and neither when no statement would move it further.
        let pending = committed.flatMap { isAhead($0, of: written) ? $0 : nil }
        let carried = inFlight.isEmpty ? furthest(pending, watermark) : pending
        let (store, job) = (store, job)
        let task = Task { try await store.stage(records, job: job, advancing: carried) }
        inFlight.append(InFlight(keys: keys, advance: watermark, carried: carried, context: context, task: task))
        while inFlight.count >= depth { try await returnOldest() }
    }

    /// Waits for every page in flight, then moves the watermark past the last of them if no
    /// page's statement did. Throws the first page's error (after every page has returned, the
    /// committed ones counted, and the watermark moved past the pages before the one that failed).
    public func finish() async throws {
        while !inFlight.isEmpty { try await returnOldest() }
        try await moveWatermark()
    }

    /// Waits for the oldest page in flight and counts it; when it failed, waits for the others
    /// too, counts those that committed, moves the watermark past the pages before it, and throws.
    private func returnOldest() async throws {
        let page = inFlight.removeFirst()
        do {
            let result = try await page.task.value
            committed = furthest(committed, page.advance)
            written = furthest(written, page.carried)
            await staged(page.context, result)
        } catch {
            // The pages after it may have committed: counted, but the watermark stays before them.
            while !inFlight.isEmpty {
                let later = inFlight.removeFirst()
                if let result = try? await later.task.value {
                    written = furthest(written, later.carried)
                    await staged(later.context, result)
                }
            }
            try? await moveWatermark()
            throw error
        }
    }

    /// Moves the watermark to the committed pages' when no statement has moved it there yet.
    private func moveWatermark() async throws {
        guard let committed, isAhead(committed, of: written) else { return }
        _ = try await store.stage([], job: job, advancing: committed)
        written = committed
    }

    private func furthest(_ first: WatermarkAdvance?, _ second: WatermarkAdvance?) -> WatermarkAdvance? {
        guard let first else { return second }
        guard let second else { return first }
        return second.to > first.to ? second : first
    }

    private func isAhead(_ advance: WatermarkAdvance, of other: WatermarkAdvance?) -> Bool {
        other.map { advance.to > $0.to } ?? true
    }
}
