/// How many terminal columns a character takes: 2 for East Asian wide and emoji-presentation
/// characters (王, 芳, 🙂), 1 for the rest (Zoë's ë included, precomposed or not).
///
/// Computed from Unicode data rather than the C library's `wcwidth`, so that it does not depend
/// on the process locale and a screen renders the same in a test as in a terminal.
enum DisplayWidth {
    static func of(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if first.value < 0x300 { return 1 }
        // A variation selector 16 asks for the emoji (wide) presentation of what precedes it.
        if scalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        if first.properties.isEmojiPresentation || isEastAsianWide(first.value) { return 2 }
        return 1
    }

    static func of(_ text: some StringProtocol) -> Int {
        var total = 0
        for character in text { total += of(character) }
        return total
    }

    /// The East Asian Wide and Fullwidth blocks of Unicode 15 (`EastAsianWidth.txt`, W and F),
    /// merged into ranges; emoji are caught by their presentation property instead.
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
        0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
        0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1B000...0x1B2FF,
        0x1F200...0x1F2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    private static func isEastAsianWide(_ value: UInt32) -> Bool {
        guard value >= 0x1100 else { return false }
        return wideRanges.contains { $0.contains(value) }
    }
}
