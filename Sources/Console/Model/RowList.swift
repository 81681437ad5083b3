import StagelinkEngine

/// The rows on screen and nothing more: a window over keyset pages that moves with the cursor.
///
/// Moving within the window reads nothing; moving past its edge reads the one row or the one page
/// that comes into view. When the store changes, the window reloads in place from where it starts.
/// A row an action changed stays where it was, in its new state, until the person moves on, so
/// that a retried row turns linked before their eyes even in a list of failures.
@MainActor
final class RowList {
    private(set) var pager: any RowPager
    private(set) var rows: [StagedRowSummary] = []
    private(set) var selection = 0
    private(set) var capacity: Int
    /// How many rows match, nil while it is being counted.
    private(set) var count: Int?
    /// Rows marked with space, by id; they stay marked while scrolled out of view.
    private(set) var marks: Set<Int64> = []
    /// The first row as the store last gave it: where the window reloads from.
    private var anchor: StagedRowSummary?
    private var pinned: [Int64: StagedRowSummary] = [:]
    /// Moves on every navigation, so that a reload started before it is dropped.
    private var generation = 0
    /// Moves when the pager changes, so that a count of the old filter is dropped.
    private var pagerGeneration = 0

    init(pager: any RowPager, capacity: Int) {
        self.pager = pager
        self.capacity = max(1, capacity)
    }

    var selected: StagedRowSummary? { rows.indices.contains(selection) ? rows[selection] : nil }

    /// The marked rows, or the selected one when none is marked: what `r` and `i` act on.
    var actionTargets: [Int64] { marks.isEmpty ? selected.map { [$0.id] } ?? [] : marks.sorted() }

    // MARK: - Loading

    /// Changes what is listed (a filter or sort) and shows its first page.
    func replace(pager: any RowPager) async throws {
        self.pager = pager
        pagerGeneration += 1
        count = nil
        marks.removeAll()
        try await top()
    }

    /// Reloads the window where it stands, keeping the selected row selected when it is still there.
    func refresh() async throws {
        let started = generation
        var fresh: [StagedRowSummary]
        if let anchor {
            fresh = try await pager.from(anchor, limit: capacity)
            if fresh.count < capacity {
                // Rows left the end of the list: fill the window from before.
                if let first = fresh.first {
                    fresh = try await pager.before(first, limit: capacity - fresh.count) + fresh
                } else {
                    fresh = try await pager.last(limit: capacity)
                }
            }
        } else {
            fresh = try await pager.first(limit: capacity)
        }
        guard generation == started else { return }
        for (index, old) in rows.enumerated() {
            if let kept = pinned[old.id], !fresh.contains(where: { $0.id == old.id }) { fresh.insert(kept, at: min(index, fresh.count)) }
        }
        fresh = Array(fresh.prefix(capacity))
        let selectedID = selected?.id
        rows = fresh.map { row in pinned[row.id].map { pin in pin.updatedAt > row.updatedAt ? pin : row } ?? row }
        selection = rows.firstIndex { $0.id == selectedID } ?? min(selection, max(0, rows.count - 1))
    }

    /// When the count may next be taken again after a store change: a count that took long (free
    /// text over a million rows) waits ten times as long before it runs again, so that a busy
    /// service does not keep a core counting; a cheap one runs on every change.
    private var nextCount = ContinuousClock.now

    /// Counts the matching rows (in the background: on a million rows with free text it takes a
    /// while). After a store change (`throttled`) it waits until the count is due, so that the
    /// last change is always counted; a new filter meanwhile makes that count moot.
    func recount(throttled: Bool = false) async throws {
        let generation = pagerGeneration
        if throttled {
            while ContinuousClock.now < nextCount {
                try await Task.sleep(for: min(.milliseconds(50), nextCount - ContinuousClock.now))
                if pagerGeneration != generation { return }
            }
        }
        let started = ContinuousClock.now
        let total = try await pager.count()
        let took = ContinuousClock.now - started
        nextCount = ContinuousClock.now + (took > .milliseconds(250) ? took * 10 : .zero)
        if pagerGeneration == generation { count = total }
    }

    func resize(capacity newCapacity: Int) async throws {
        let newCapacity = max(1, newCapacity)
        guard newCapacity != capacity else { return }
        capacity = newCapacity
        let selectedID = selected?.id
        if selection >= newCapacity, let selected { anchor = selected }
        try await reload(from: anchor)
        selection = rows.firstIndex { $0.id == selectedID } ?? min(selection, max(0, rows.count - 1))
    }

    // MARK: - Moving

    func top() async throws {
        navigated()
        rows = try await pager.first(limit: capacity)
        anchor = rows.first
        selection = 0
    }

    func bottom() async throws {
        navigated()
        rows = try await pager.last(limit: capacity)
        anchor = rows.first
        selection = max(0, rows.count - 1)
    }

    /// One row down (`j`); at the bottom of the window, the next row scrolls into view.
    func down() async throws {
        navigated()
        if selection + 1 < rows.count {
            selection += 1
        } else if let last = rows.last, let next = try await pager.after(last, limit: 1).first {
            rows.append(next)
            if rows.count > capacity { rows.removeFirst() }
            selection = rows.count - 1
            anchor = rows.first
        }
    }

    /// One row up (`k`); at the top of the window, the row before scrolls into view.
    func up() async throws {
        navigated()
        if selection > 0 {
            selection -= 1
        } else if let first = rows.first, let previous = try await pager.before(first, limit: 1).first {
            rows.insert(previous, at: 0)
            if rows.count > capacity { rows.removeLast() }
            selection = 0
            anchor = previous
        }
    }

    func pageDown() async throws {
        navigated()
        guard let last = rows.last else { return }
        let next = try await pager.after(last, limit: capacity)
        if next.isEmpty {
            selection = rows.count - 1
            return
        }
        rows = Array((rows + next).suffix(capacity))
        anchor = rows.first
        selection = min(selection, rows.count - 1)
    }

    func pageUp() async throws {
        navigated()
        guard let first = rows.first else { return }
        let previous = try await pager.before(first, limit: capacity)
        if previous.isEmpty {
            selection = 0
            return
        }
        rows = Array((previous + rows).prefix(capacity))
        anchor = rows.first
        selection = min(selection, rows.count - 1)
    }

    /// Shows the row with this id, when it is in the window.
    func select(id: Int64) {
        if let index = rows.firstIndex(where: { $0.id == id }) { selection = index }
    }

    // MARK: - Marks and outcomes

    /// Marks or unmarks the selected row, and moves down so that a run of rows is quick to mark.
    func toggleMark() async throws {
        guard let selected else { return }
        if marks.remove(selected.id) == nil { marks.insert(selected.id) }
        try await down()
    }

    func clearMarks() { marks.removeAll() }

    /// Shows rows as an action left them, in place, until the person moves on.
    func update(_ changed: [StagedRowSummary]) {
        for row in changed {
            guard let index = rows.firstIndex(where: { $0.id == row.id }) else { continue }
            rows[index] = row
            pinned[row.id] = row
        }
    }

    private func navigated() {
        generation += 1
        pinned.removeAll()
    }

    private func reload(from anchor: StagedRowSummary?) async throws {
        navigated()
        if let anchor {
            rows = try await pager.from(anchor, limit: capacity)
        } else {
            rows = try await pager.first(limit: capacity)
        }
        if rows.isEmpty { rows = try await pager.last(limit: capacity) }
        self.anchor = rows.first
    }
}
