/// A box around a pane, with its title centred in the top border (`┌── Staged[1,204] ──┐`) and
/// an optional note at the right of the bottom border.
struct Frame {
    var title: StyledLine
    var note: StyledLine?
    /// Whether the pane has the keyboard: its title is drawn in the active role.
    var isFocused = true

    init(title: StyledLine, note: StyledLine? = nil, isFocused: Bool = true) {
        self.title = title
        self.note = note
        self.isFocused = isFocused
    }

    /// Draws the box and returns the area inside it.
    @discardableResult
    func draw(into screen: inout Screen, area: Rect) -> Rect {
        guard area.width >= 2, area.height >= 2 else { return Rect(x: area.x, y: area.y, width: 0, height: 0) }
        let right = area.maxX - 1
        let bottom = area.maxY - 1
        screen.fill(Rect(x: area.x + 1, y: area.y, width: area.width - 2, height: 1), role: .border, character: "─")
        screen.fill(Rect(x: area.x + 1, y: bottom, width: area.width - 2, height: 1), role: .border, character: "─")
        screen.fill(Rect(x: area.x, y: area.y + 1, width: 1, height: area.height - 2), role: .border, character: "│")
        screen.fill(Rect(x: right, y: area.y + 1, width: 1, height: area.height - 2), role: .border, character: "│")
        screen.fill(Rect(x: area.x, y: area.y, width: 1, height: 1), role: .border, character: "┌")
        screen.fill(Rect(x: right, y: area.y, width: 1, height: 1), role: .border, character: "┐")
        screen.fill(Rect(x: area.x, y: bottom, width: 1, height: 1), role: .border, character: "└")
        screen.fill(Rect(x: right, y: bottom, width: 1, height: 1), role: .border, character: "┘")
        let inner = area.inset(by: 1)
        screen.fill(inner, role: .body)

        let room = area.width - 4
        if room > 2 {
            let titled = isFocused ? title : StyledLine(title.spans.map { Span($0.text, .muted) })
            let width = min(titled.width + 2, room)
            let x = area.x + (area.width - width) / 2
            screen.write(" ", x: x, y: area.y, role: .border)
            let end = screen.write(titled, x: x + 1, y: area.y, limit: width - 2)
            screen.write(" ", x: end, y: area.y, role: .border)
        }
        if let note, room > 2 {
            let width = min(note.width, room - 2)
            let x = right - 1 - width
            screen.write(note, x: x, y: bottom, limit: width)
        }
        return inner
    }
}
