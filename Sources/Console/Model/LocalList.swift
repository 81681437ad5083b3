/// A short list held whole in memory (policy rules, failure groups), filtered and sorted locally,
/// with a cursor and a scroll offset.
@MainActor
final class LocalList<Item: Sendable>: ScrollingList {
    /// Everything loaded.
    private(set) var all: [Item] = []
    /// What the filter lets through, in the sort order.
    private(set) var visible: [Item] = []
    private(set) var selection = 0
    /// The index of the first visible item.
    private(set) var offset = 0
    var capacity: Int {
        didSet { scrollToSelection() }
    }
    var filter: ((Item) -> Bool)? {
        didSet { arrange() }
    }
    var order: ((Item, Item) -> Bool)? {
        didSet { arrange() }
    }
    private let identity: (Item) -> String

    /// `identity` tells two versions of an item apart from two items, so that the cursor stays on
    /// the same item when the list reloads.
    init(capacity: Int, identity: @escaping (Item) -> String) {
        self.capacity = max(1, capacity)
        self.identity = identity
    }

    var selected: Item? { visible.indices.contains(selection) ? visible[selection] : nil }
    var window: ArraySlice<Item> { visible.dropFirst(offset).prefix(capacity) }
    /// The selection's position within the window.
    var windowSelection: Int { selection - offset }

    func set(_ items: [Item]) {
        all = items
        arrange()
    }

    /// Keeps the items whose `searchable` text contains `text`, ignoring case; all when empty.
    func filter(containing text: String, in searchable: @escaping (Item) -> String) {
        let needle = text.lowercased()
        filter = needle.isEmpty ? nil : { searchable($0).lowercased().contains(needle) }
    }

    func select(where matches: (Item) -> Bool) {
        if let index = visible.firstIndex(where: matches) { move(to: index) }
    }

    func up() async throws { move(to: selection - 1) }
    func down() async throws { move(to: selection + 1) }
    func pageUp() async throws { move(to: selection - capacity) }
    func pageDown() async throws { move(to: selection + capacity) }
    func top() async throws { move(to: 0) }
    func bottom() async throws { move(to: visible.count - 1) }

    private func arrange() {
        let selectedID = selected.map(identity)
        var items = filter.map { all.filter($0) } ?? all
        if let order { items.sort(by: order) }
        visible = items
        move(to: selectedID.flatMap { id in visible.firstIndex { identity($0) == id } } ?? selection)
    }

    private func move(to index: Int) {
        selection = max(0, min(index, visible.count - 1))
        scrollToSelection()
    }

    private func scrollToSelection() {
        if selection < offset { offset = selection }
        if selection >= offset + capacity { offset = selection - capacity + 1 }
        offset = max(0, min(offset, max(0, visible.count - capacity)))
    }
}
