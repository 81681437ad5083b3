/// A long text that scrolls: the detail pane's payload, error and history.
///
/// Lines longer than the pane wrap, their continuations indented to the original's indent so that
/// pretty-printed JSON stays readable. A line can carry a gutter mark (`▶` beside the field an
/// error names), so that the highlight does not rely on colour alone.
struct ScrollText {
    struct Line: Hashable {
        var content: StyledLine
        var mark: Span?
        /// Draw the whole line in this role (the highlighted field).
        var highlight: Role?

        init(_ content: StyledLine, mark: Span? = nil, highlight: Role? = nil) {
            self.content = content
            self.mark = mark
            self.highlight = highlight
        }
    }

    static let gutter = 2

    /// The lines as they appear at `width`: each wrapped line is one row.
    ///
    /// A word that does not fit in what is left of a row starts the next one, so that an error
    /// message or the help never shows a word cut in two; the spaces at the break are dropped. A
    /// word wider than a whole row (a long id, an encoded value) fills the row and goes on in the
    /// next. Continuations hang two columns past the line's own indent (at most half the row).
    static func wrap(_ lines: [Line], width: Int) -> [Line] {
        let room = max(8, width - gutter)
        var rows: [Line] = []
        for line in lines {
            guard line.content.width > room else {
                rows.append(line)
                continue
            }
            let indent = line.content.plainText.prefix { $0 == " " }.count
            let hang = min(indent + 2, room / 2)
            let cells = line.content.spans.flatMap { span in
                SafeText.escaped(span.text).map { RowCells.Cell(character: $0, role: span.role, columns: DisplayWidth.of($0)) }
            }
            var row = RowCells(hang: 0)
            func breakRow() {
                rows.append(Line(row.line, mark: row.isContinuation ? nil : line.mark, highlight: line.highlight))
                row = RowCells(hang: hang)
            }
            var start = 0
            while start < cells.count {
                // A word: the letters up to the next space; a space is one of its own.
                var end = start + 1
                if cells[start].character != " " {
                    while end < cells.count, cells[end].character != " " { end += 1 }
                }
                let word = cells[start..<end]
                let columns = word.reduce(0) { $0 + $1.columns }
                if row.used + columns > room, row.holdsAWord, cells[start].character != " ", hang + columns <= room { breakRow() }
                for cell in word {
                    if row.used + cell.columns > room { breakRow() }
                    // A continuation never starts with the space its row broke at.
                    if cell.character == " ", row.isContinuation, !row.holdsAWord { continue }
                    row.append(cell)
                }
                start = end
            }
            // Spaces the line ends in make no row of their own.
            if !row.isContinuation || row.holdsAWord { breakRow() }
        }
        return rows
    }

    /// One row being filled by ``wrap(_:width:)``: its hanging indent, then its characters.
    private struct RowCells {
        struct Cell {
            var character: Character
            var role: Role
            var columns: Int
        }

        /// Columns of indent before the first character: 0 on a line's first row only.
        let hang: Int
        private var cells: [Cell] = []
        private(set) var used: Int
        /// Whether a character other than a space is in the row.
        private(set) var holdsAWord = false

        init(hang: Int) {
            self.hang = hang
            used = hang
        }

        var isContinuation: Bool { hang > 0 }

        mutating func append(_ cell: Cell) {
            cells.append(cell)
            used += cell.columns
            if cell.character != " " { holdsAWord = true }
        }

        /// The row as a styled line: its hang, then runs of one role, without the spaces it ends in.
        var line: StyledLine {
            var line = hang > 0 ? StyledLine(String(repeating: " ", count: hang)) : StyledLine()
            let kept = holdsAWord ? cells[...(cells.lastIndex { $0.character != " " } ?? 0)] : cells[...]
            for cell in kept {
                if let last = line.spans.indices.last, line.spans[last].role == cell.role {
                    line.spans[last].text.append(cell.character)
                } else {
                    line.append(String(cell.character), cell.role)
                }
            }
            return line
        }
    }

    /// Draws rows `offset…` of already wrapped lines, with what matches `search` in the match role.
    static func draw(_ rows: [Line], offset: Int, search: String = "", into screen: inout Screen, area: Rect) {
        screen.fill(area, role: .body)
        for (index, line) in rows.dropFirst(offset).prefix(area.height).enumerated() {
            let y = area.y + index
            if let highlight = line.highlight { screen.fill(area.row(index), role: highlight) }
            if let mark = line.mark { screen.write(mark.text, x: area.x, y: y, role: mark.role, limit: gutter) }
            let content = line.highlight.map { role in StyledLine(line.content.plainText, role) } ?? line.content
            screen.write(content.marking(search, as: .match), x: area.x + gutter, y: y, limit: area.width - gutter)
        }
    }
}
