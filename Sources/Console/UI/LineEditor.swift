/// The text of a prompt being typed, with a cursor and the usual editing keys: ← → home end,
/// backspace, delete, ctrl-u (clear), ctrl-w (delete a word), ↑ ↓ (history).
struct LineEditor: Hashable {
    private(set) var text: String
    /// The cursor, as a count of characters from the start.
    private(set) var cursor: Int
    private let history: [String]
    /// Where ↑ has taken us in the history; nil while editing a new line.
    private var historyIndex: Int?
    private var draft = ""

    init(text: String = "", history: [String] = []) {
        self.text = text
        self.cursor = text.count
        self.history = history
    }

    enum Outcome: Hashable {
        /// The key changed the text or the cursor.
        case edited
        /// The key is not an editing key.
        case ignored
    }

    mutating func handle(_ key: Key) -> Outcome {
        switch key {
        case .character(let character):
            insert(character)
        case .backspace:
            guard cursor > 0 else { return .edited }
            remove(at: cursor - 1)
            cursor -= 1
        case .delete:
            guard cursor < text.count else { return .edited }
            remove(at: cursor)
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(text.count, cursor + 1)
        case .home, .control("a"): cursor = 0
        case .end, .control("e"): cursor = text.count
        case .control("u"):
            text = ""
            cursor = 0
        case .control("w"):
            deleteWordBeforeCursor()
        case .up: recall(older: true)
        case .down: recall(older: false)
        default:
            return .ignored
        }
        return .edited
    }

    mutating func replace(with newText: String) {
        text = newText
        cursor = newText.count
    }

    private mutating func insert(_ character: Character) {
        let index = text.index(text.startIndex, offsetBy: cursor)
        text.insert(character, at: index)
        cursor += 1
    }

    private mutating func remove(at offset: Int) {
        text.remove(at: text.index(text.startIndex, offsetBy: offset))
    }

    private mutating func deleteWordBeforeCursor() {
        var characters = Array(text)
        var start = cursor
        while start > 0 && characters[start - 1] == " " { start -= 1 }
        while start > 0 && characters[start - 1] != " " { start -= 1 }
        characters.removeSubrange(start..<cursor)
        text = String(characters)
        cursor = start
    }

    /// Walks the history, newest first; walking past the newest returns to the line being typed.
    private mutating func recall(older: Bool) {
        guard !history.isEmpty else { return }
        if historyIndex == nil { draft = text }
        let next: Int? =
            older
            ? min(history.count - 1, (historyIndex ?? -1) + 1)
            : historyIndex.flatMap { $0 == 0 ? nil : $0 - 1 }
        historyIndex = next
        replace(with: next.map { history[history.count - 1 - $0] } ?? draft)
    }
}
