/// A window over a list the store pages newest first by id (jobs, conflicts): only the visible
/// items are held, and the top of the list follows new items as they arrive.
@MainActor
final class NewestFirstList<Item: Identifiable & Sendable> where Item.ID == Int64 {
    /// Reads up to `limit` items with an id below `before` (all when nil), newest first.
    typealias Loader = @Sendable (_ before: Int64?, _ limit: Int) async throws -> [Item]

    private(set) var items: [Item] = []
    private(set) var selection = 0
    private(set) var capacity: Int
    private var load: Loader
    /// The id just above the window's first item; nil while the window shows the newest.
    private var bound: Int64?
    private var generation = 0

    init(capacity: Int, load: @escaping Loader) {
        self.capacity = max(1, capacity)
        self.load = load
    }

    var selected: Item? { items.indices.contains(selection) ? items[selection] : nil }

    func replace(loader: @escaping Loader) async throws {
        load = loader
        try await top()
    }

    func top() async throws {
        generation += 1
        bound = nil
        items = try await load(nil, capacity)
        selection = 0
    }

    func bottom() async throws {
        generation += 1
        // Walk back page by page to the oldest: ids only grow, so the oldest page is short.
        var page = try await load(nil, capacity)
        while let last = page.last {
            let older = try await load(last.id, capacity)
            if older.isEmpty { break }
            page = Array((page + older).suffix(capacity))
            if older.count < capacity { break }
        }
        items = page
        bound = items.first.map { $0.id + 1 }
        selection = max(0, items.count - 1)
    }

    /// Reloads the window where it stands; at the top, new items come into view.
    func refresh() async throws {
        let started = generation
        var fresh = try await load(bound, capacity)
        if fresh.count < capacity, let first = fresh.first {
            fresh = try await newer(than: first.id, limit: capacity - fresh.count) + fresh
        }
        guard generation == started else { return }
        let selectedID = selected?.id
        items = fresh
        selection = items.firstIndex { $0.id == selectedID } ?? min(selection, max(0, items.count - 1))
    }

    func resize(capacity newCapacity: Int) async throws {
        capacity = max(1, newCapacity)
        let selectedID = selected?.id
        try await refresh()
        selection = items.firstIndex { $0.id == selectedID } ?? min(selection, max(0, items.count - 1))
    }

    func down() async throws {
        generation += 1
        if selection + 1 < items.count {
            selection += 1
        } else if let last = items.last, let next = try await load(last.id, 1).first {
            items.append(next)
            if items.count > capacity { items.removeFirst() }
            selection = items.count - 1
            bound = items.first.map { $0.id + 1 }
        }
    }

    func up() async throws {
        generation += 1
        if selection > 0 {
            selection -= 1
        } else if let first = items.first, let previous = try await newer(than: first.id, limit: 1).last {
            items.insert(previous, at: 0)
            if items.count > capacity { items.removeLast() }
            bound = previous.id + 1
        }
    }

    func pageDown() async throws {
        generation += 1
        guard let last = items.last else { return }
        let next = try await load(last.id, capacity)
        guard !next.isEmpty else {
            selection = items.count - 1
            return
        }
        items = Array((items + next).suffix(capacity))
        bound = items.first.map { $0.id + 1 }
        selection = min(selection, items.count - 1)
    }

    func pageUp() async throws {
        generation += 1
        guard let first = items.first else { return }
        let previous = try await newer(than: first.id, limit: capacity)
        guard !previous.isEmpty else {
            selection = 0
            return
        }
        items = Array((previous + items).prefix(capacity))
        bound = items.first.map { $0.id + 1 }
        selection = min(selection, items.count - 1)
    }

    /// Up to `limit` items just newer than `id`, newest first. The store only pages downwards, but
    /// ids only grow, so they lie below `id + span` for a wide enough span; the span widens when
    /// ids were skipped.
    private func newer(than id: Int64, limit: Int) async throws -> [Item] {
        var span = Int64(limit)
        while true {
            let newer = try await load(id + span + 1, Int(span)).filter { $0.id > id }
            if newer.count >= limit { return Array(newer.suffix(limit)) }
            guard let newest = try await load(nil, 1).first, newest.id > id + span else { return newer }
            span *= 4
        }
    }
}
