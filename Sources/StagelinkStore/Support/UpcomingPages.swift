import Synchronization
import StagelinkEngine

/// The pages pullers said they will stage next (``SQLiteStore/prepareToStage(_:)``, the PostgreSQL
/// store's too), each with its preparation (``PagePipeline``), oldest first. The oldest starts once
/// the page being written is all prepared, so that its preparing runs beside that page's commit
/// (SQLite) or the server's work on it (PostgreSQL) instead of after it.
/// ``take(_:)`` finds a page by its records' storage (the very array the puller was given), so
/// another page staged in between is prepared as usual; pages of several pullers staging into the
/// same store at once (the types of one wave) wait side by side, and a page never staged is
/// dropped once ``capacity`` newer pages were said to come.
package final class UpcomingPages: Sendable {
    package typealias Page = PagePipeline<StoreSealing.PreparedRecord, StoreSealing.PreparingLane>

    /// At most this many pages wait: a puller reads a few pages ahead, never more.
    static let capacity = 4

    private let pages = Mutex<[(records: [IncomingRecord], page: Page)]>([])

    package init() {}

    /// `records` are said to come next: their preparing waits to be started (``startNext()``). A
    /// page too small for lanes is prepared in its turn instead.
    package func expect(_ records: [IncomingRecord], preparedBy sealing: StoreSealing) {
        guard records.count >= StoreSealing.lanesMinimum else { return }
        add(records, sealing.preparingPage(records, startingNow: false))
    }

    /// The preparation of `records`: the one started ahead when they were said to come, else one
    /// started now.
    package func page(for records: [IncomingRecord], preparedBy sealing: StoreSealing) -> Page {
        let page = take(records) ?? sealing.preparingPage(records)
        page.start()
        return page
    }

    func add(_ records: [IncomingRecord], _ page: Page) {
        pages.withLock { pages in
            pages.append((records, page))
            if pages.count > Self.capacity { pages.removeFirst(pages.count - Self.capacity) }
        }
    }

    /// The preparation of exactly these records (the same array), taken out; nil when they were
    /// not said to come.
    func take(_ records: [IncomingRecord]) -> Page? {
        let identity = records.withUnsafeBufferPointer { $0.baseAddress }
        guard identity != nil else { return nil }
        return pages.withLock { pages in
            guard let index = pages.firstIndex(where: { entry in
                entry.records.count == records.count && entry.records.withUnsafeBufferPointer { $0.baseAddress } == identity
            }) else { return nil }
            return pages.remove(at: index).page
        }
    }

    /// Starts the preparing of the next page said to come, if any.
    package func startNext() {
        pages.withLock { $0.first?.page }?.start()
    }
}
