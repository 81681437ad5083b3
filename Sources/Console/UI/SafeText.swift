import StagelinkEngine

/// Untrusted text cut into what can be shown as it is and what must be shown escaped, so that a
/// patient named `\e]0;pwned\a` or `\e[2J` is shown, never obeyed, and the escapes can be drawn
/// in a role of their own.
///
/// What counts as unsafe, and how an escape is written (`\u{1b}`), is the engine's
/// `DisplayText`, so the console and the CLI agree: C0 and C1 controls, DEL, bidirectional
/// overrides and isolates, the line and paragraph separators.
///
/// For example:
///
/// ```swift
/// SafeText.pieces("Zoë\u{1b}[2J")   // [.text("Zoë"), .escape("\\u{1b}"), .text("[2J")]
/// ```
enum SafeText {
    /// A run of displayable text, or one escaped character.
    enum Piece: Hashable {
        case text(Substring)
        case escape(String)
    }

    static func pieces(_ text: String) -> [Piece] {
        if DisplayText.escaped(text) == text { return [.text(text[...])] }
        var pieces: [Piece] = []
        let scalars = text.unicodeScalars
        var runStart = scalars.startIndex
        var index = runStart
        while index < scalars.endIndex {
            let scalar = String(scalars[index])
            let escaped = DisplayText.escaped(scalar)
            if escaped != scalar {
                if runStart < index { pieces.append(.text(Substring(scalars[runStart..<index]))) }
                pieces.append(.escape(escaped))
                runStart = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        if runStart < scalars.endIndex { pieces.append(.text(Substring(scalars[runStart...]))) }
        return pieces
    }

    /// The text with every unsafe character replaced by its escape, as one string.
    static func escaped(_ text: String) -> String { DisplayText.escaped(text) }
}
