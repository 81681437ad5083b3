/// Untrusted text made safe to show: every character a terminal could obey instead of display is
/// replaced by its escape, so that a patient named `\e]0;pwned\a` or `\e[2J` is shown, not run.
///
/// Escaped: C0 controls and DEL (`\u001b`, `\n`, `\t`), C1 controls (U+0080–U+009F, which some
/// terminals treat like `ESC` sequences), bidirectional overrides and isolates (which can make
/// text read backwards), and the line and paragraph separators.
///
/// For example:
///
/// ```swift
/// SafeText.pieces("Zoë\u{1b}[2J")   // [.text("Zoë"), .escape("\\u001b"), .text("[2J")]
/// ```
enum SafeText {
    /// A run of displayable text, or one escaped character.
    enum Piece: Hashable {
        case text(Substring)
        case escape(String)
    }

    static func pieces(_ text: String) -> [Piece] {
        if isPlain(text) { return [.text(text[...])] }
        var pieces: [Piece] = []
        var runStart = text.unicodeScalars.startIndex
        var index = runStart
        while index < text.unicodeScalars.endIndex {
            let scalar = text.unicodeScalars[index]
            if let escape = escape(scalar) {
                if runStart < index { pieces.append(.text(Substring(text.unicodeScalars[runStart..<index]))) }
                pieces.append(.escape(escape))
                runStart = text.unicodeScalars.index(after: index)
            }
            index = text.unicodeScalars.index(after: index)
        }
        if runStart < text.unicodeScalars.endIndex { pieces.append(.text(Substring(text.unicodeScalars[runStart...]))) }
        return pieces
    }

    /// The text with every unsafe character replaced by its escape, as one string.
    static func escaped(_ text: String) -> String {
        pieces(text).map { piece in
            switch piece {
            case .text(let run): String(run)
            case .escape(let escape): escape
            }
        }.joined()
    }

    /// Most text is plain: decide from the UTF-8 bytes without decoding.
    private static func isPlain(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return false }
            // C1 controls are C2 80–C2 9F; the bidirectional and separator characters start E2 80 or E2 81.
            if previous == 0xC2 && byte < 0xA0 { return false }
            if previous == 0xE2 && (byte == 0x80 || byte == 0x81) { return text.unicodeScalars.allSatisfy { escape($0) == nil } }
            previous = byte
        }
        return true
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x00..<0x20, 0x7F..<0xA0, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0x061C:
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        default:
            return nil
        }
    }
}
