import StagelinkEngine

/// How many terminal columns a character (a grapheme cluster) takes: the engine's
/// `DisplayText` width of its first scalar, at least one, and two for an emoji shown as emoji.
///
/// Computed from Unicode data rather than the C library's `wcwidth`, so that it does not depend
/// on the process locale and a screen renders the same in a test as in a terminal. A cluster is
/// one cell (or two) whatever marks it carries: Zoë's ë is one cell, precomposed or not.
enum DisplayWidth {
    static func of(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if first.value < 0x300 { return 1 }
        // A variation selector 16 asks for the emoji (wide) presentation of what precedes it.
        if first.properties.isEmojiPresentation || scalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        return max(1, DisplayText.width(of: first))
    }

    static func of(_ text: some StringProtocol) -> Int {
        var total = 0
        for character in text { total += of(character) }
        return total
    }
}
