/// A key the person pressed, as the console understands it (the terminal layer decodes ncurses'
/// key codes into these).
///
/// For example: `j` is `.character("j")`, Shift-S is `.character("S")`, Ctrl-U is `.control("u")`.
public enum Key: Sendable, Hashable, CustomStringConvertible {
    /// A printable character, space included.
    case character(Character)
    /// Ctrl with a letter (`.control("u")`); Ctrl-C arrives as a signal, not as a key.
    case control(Character)
    case enter, escape, tab, backTab, backspace, delete
    case up, down, left, right, pageUp, pageDown, home, end

    /// The keys of a text, one per character: `Key.typing("row 12")`.
    public static func typing(_ text: String) -> [Key] {
        text.map { character in character == "\n" ? .enter : .character(character) }
    }

    /// How help and hints name the key: `j`, `enter`, `ctrl-u`, `pgdn`.
    public var description: String {
        switch self {
        case .character(" "): "space"
        case .character(let character): String(character)
        case .control(let character): "ctrl-\(character)"
        case .enter: "enter"
        case .escape: "esc"
        case .tab: "tab"
        case .backTab: "shift-tab"
        case .backspace: "backspace"
        case .delete: "delete"
        case .up: "↑"
        case .down: "↓"
        case .left: "←"
        case .right: "→"
        case .pageUp: "pgup"
        case .pageDown: "pgdn"
        case .home: "home"
        case .end: "end"
        }
    }
}
