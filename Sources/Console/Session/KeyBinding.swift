/// A key, what it does, and how help and the hint bar name it: one declaration drives all three,
/// so the footer never advertises a key that does something else.
struct KeyBinding {
    enum Group: String, CaseIterable {
        case move = "Move"
        case view = "This view"
        case action = "Actions"
        case global = "Everywhere"
    }

    /// Where a key stands in the footer, which shows as many as fit: the view's own keys first,
    /// then the ones that work everywhere, then sorts and view switching.
    enum Hint: Int, Comparable {
        case primary, global, secondary

        static func < (lhs: Hint, rhs: Hint) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    var keys: [Key]
    var label: String
    var group: Group
    /// Its place in the footer; nil keeps it to `?` help.
    var hint: Hint?
    /// How help and the footer write the keys when not one by one (`1-6`).
    var keyLabel: String?
    /// The action it starts: hidden from the footer and refused when actions are off.
    var action: ConsoleAction.Kind?
    var run: @MainActor (Key) async throws -> Void

    init(
        _ keys: [Key], _ label: String, group: Group = .view, hint: Hint? = nil, keyLabel: String? = nil, action: ConsoleAction.Kind? = nil,
        run: @escaping @MainActor (Key) async throws -> Void
    ) {
        self.keys = keys
        self.label = label
        self.group = group
        self.hint = hint
        self.keyLabel = keyLabel
        self.action = action
        self.run = run
    }

    /// How the footer and help write the keys: `r`, `S/O/I`, `j/↓`, `1-6`.
    var keyText: String { keyLabel ?? keys.map(\.description).joined(separator: "/") }

    /// The movement keys of any list: arrows and j/k, page keys (and ctrl-f/ctrl-b, ctrl-d/ctrl-u
    /// as in less and vi), g/G and home/end.
    @MainActor
    static func movement(_ list: @escaping @MainActor () -> (any ScrollingList)?) -> [KeyBinding] {
        [
            KeyBinding([.down, .character("j")], "down", group: .move) { _ in try await list()?.down() },
            KeyBinding([.up, .character("k")], "up", group: .move) { _ in try await list()?.up() },
            KeyBinding([.pageDown, .control("f"), .control("d")], "page down", group: .move) { _ in try await list()?.pageDown() },
            KeyBinding([.pageUp, .control("b"), .control("u")], "page up", group: .move) { _ in try await list()?.pageUp() },
            KeyBinding([.character("g"), .home], "first", group: .move) { _ in try await list()?.top() },
            KeyBinding([.character("G"), .end], "last", group: .move) { _ in try await list()?.bottom() },
        ]
    }
}
