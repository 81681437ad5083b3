/// A one-line prompt (`:`, `/`, a reason) drawn in the status line's place, with the terminal
/// cursor at the editing position.
struct Prompt {
    var label: String
    var editor: LineEditor
    /// Greyed text after the typed text: a completion Tab would take, or what to type.
    var suggestion: String?

    func draw(into screen: inout Screen, area: Rect) {
        screen.fill(area, role: .prompt)
        var x = screen.write(label, x: area.x + 1, y: area.y, role: .promptLabel)
        x += 1
        let start = x
        // Keep the cursor in view: show the tail of a text longer than the line.
        let room = area.maxX - start - 1
        let characters = Array(editor.text)
        var first = 0
        while first < editor.cursor && DisplayWidth.of(String(characters[first..<editor.cursor])) >= room { first += 1 }
        x = screen.write(String(characters[first...]), x: start, y: area.y, role: .prompt, limit: room)
        if let suggestion, x < area.maxX - 1 { screen.write(suggestion, x: x, y: area.y, role: .muted, limit: area.maxX - 1 - x) }
        let cursorX = start + DisplayWidth.of(SafeText.escaped(String(characters[first..<editor.cursor])))
        screen.cursor = Point(x: min(cursorX, area.maxX - 1), y: area.y)
    }
}
