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
    static func wrap(_ lines: [Line], width: Int) -> [Line] {
        let room = max(8, width - gutter)
        var rows: [Line] = []
        for line in lines {
            guard line.content.width > room else {
                rows.append(line)
                continue
            }
            let indent = line.content.plainText.prefix { $0 == " " }.count
            var current = StyledLine()
            var used = 0
            var isFirst = true
            for span in line.content.spans {
                for character in SafeText.escaped(span.text) {
                    let columns = DisplayWidth.of(character)
                    if used + columns > room {
                        rows.append(Line(current, mark: isFirst ? line.mark : nil, highlight: line.highlight))
                        isFirst = false
                        let hang = min(indent + 2, room / 2)
                        current = StyledLine(String(repeating: " ", count: hang))
                        used = hang
                    }
                    if current.spans.last?.role == span.role {
                        current.spans[current.spans.count - 1].text.append(character)
                    } else {
                        current.append(String(character), span.role)
                    }
                    used += columns
                }
            }
            rows.append(Line(current, mark: isFirst ? line.mark : nil, highlight: line.highlight))
        }
        return rows
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
