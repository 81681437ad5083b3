/// A box in the middle of the screen over the current view: a question, or a list to pick from.
struct Dialog {
    var title: String
    var lines: [StyledLine]
    /// Picker rows, with the chosen one drawn in the cursor role.
    var choices: [StyledLine] = []
    var selected: Int?
    var footer: StyledLine

    func draw(into screen: inout Screen, area: Rect) {
        let contentWidth = ([footer.width, DisplayWidth.of(title) + 4] + lines.map(\.width) + choices.map { $0.width + 2 }).max() ?? 20
        let width = min(area.width - 4, max(40, contentWidth + 4))
        let height = min(area.height - 2, lines.count + choices.count + (choices.isEmpty ? 0 : 1) + 4)
        let box = Rect(x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width: width, height: height)
        let inner = Frame(title: StyledLine(title, .dialogTitle)).draw(into: &screen, area: box)
        screen.fill(inner, role: .dialog)
        var y = inner.y
        for line in lines where y < inner.maxY - 1 {
            screen.write(line, x: inner.x + 1, y: y, limit: inner.width - 2)
            y += 1
        }
        if !choices.isEmpty { y += 1 }
        for (index, choice) in choices.enumerated() where y < inner.maxY - 1 {
            if index == selected {
                screen.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), role: .cursor)
                screen.write("▸ " + choice.plainText, x: inner.x + 1, y: y, role: .cursor, limit: inner.width - 2)
            } else {
                screen.write(StyledLine("  ") + choice, x: inner.x + 1, y: y, limit: inner.width - 2)
            }
            y += 1
        }
        screen.write(footer, x: inner.x + 1, y: inner.maxY - 1, limit: inner.width - 2)
    }
}
