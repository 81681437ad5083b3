/// The footer of key hints, k9s style: `<enter> detail  <r> retry … <?> help <q> quit`. The
/// view's hints fill from the left in the order given (the most useful first) for as long as they
/// fit; the pinned ones (help, quit) always show at the right. When they do not all fit (80
/// columns), the keys that act (retry, ignore, push…) go first: they are the ones nobody guesses,
/// while Enter and the arrows are.
struct HintBar {
    struct Hint: Hashable {
        var key: String
        var label: String
        /// It starts an action: kept before the others when room is short.
        var isAction = false

        var width: Int { DisplayWidth.of(key) + 3 + DisplayWidth.of(label) }
    }

    var hints: [Hint]
    var pinned: [Hint] = []

    func draw(into screen: inout Screen, area: Rect) {
        screen.fill(area, role: .hint)
        let pinnedWidth = pinned.reduce(0) { $0 + $1.width + 2 }
        var x = area.x + 1
        let room = area.maxX - pinnedWidth - 1 - x
        let fitsAll = hints.reduce(0) { $0 + $1.width + 2 } <= room
        let ordered = fitsAll ? hints : hints.filter(\.isAction) + hints.filter { !$0.isAction }
        for hint in ordered {
            guard x + hint.width <= area.maxX - pinnedWidth - 1 else { break }
            x = draw(hint, at: x, into: &screen, y: area.y)
        }
        x = max(x, area.maxX - pinnedWidth)
        for hint in pinned where x + hint.width <= area.maxX {
            x = draw(hint, at: x, into: &screen, y: area.y)
        }
    }

    private func draw(_ hint: Hint, at x: Int, into screen: inout Screen, y: Int) -> Int {
        let end = screen.write("<\(hint.key)>", x: x, y: y, role: .hintKey)
        return screen.write(" " + hint.label, x: end, y: y, role: .hint) + 2
    }
}
