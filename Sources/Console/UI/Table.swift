/// A column of a table: its title, how wide it wants to be, and how soon it gives way.
struct TableColumn: Hashable {
    enum Alignment: Hashable { case left, right }

    var title: String
    /// The width it needs; a flexible column grows beyond it to fill the table.
    var width: Int
    var isFlexible = false
    var alignment: Alignment = .left
    /// When the table is too narrow, columns of the lowest priority are left out first.
    var priority = 0
    /// How wide a flexible column grows at most (an id has a known length; a message has not).
    var maximumWidth: Int?

    init(_ title: String, width: Int, flexible: Bool = false, upTo maximumWidth: Int? = nil, alignment: Alignment = .left, priority: Int = 0) {
        self.title = title
        self.width = max(width, 1)
        self.isFlexible = flexible
        self.maximumWidth = maximumWidth
        self.alignment = alignment
        self.priority = priority
    }
}

/// A table of rows with a header, a cursor and marks, laid out for the width it is given.
///
/// Columns that do not fit are left out by priority, never squeezed into unreadable slivers; the
/// flexible columns share what is left. The selected row is drawn in the `cursor` role and marked
/// rows in the `marked` role, each with a symbol in the first column as well.
struct Table {
    var columns: [TableColumn]
    var rows: [[Span]]
    var selected: Int?
    var marked: Set<Int> = []
    /// The sorted column and its direction, shown as ↑ or ↓ after its title.
    var sortedColumn: Int?
    var sortDescending = false
    /// What an empty table says instead (`no failed rows`).
    var emptyMessage = "nothing to show"

    static let gap = 1

    /// The width given to each column, nil for the columns left out.
    func layout(width: Int) -> [Int?] {
        var included = Set(columns.indices)
        func needed() -> Int {
            included.reduce(0) { $0 + columns[$1].width } + Self.gap * max(0, included.count - 1) + 2
        }
        while needed() > width, included.count > 1 {
            let drop = included.min { (columns[$0].priority, -$0) < (columns[$1].priority, -$1) }!
            included.remove(drop)
        }
        var widths: [Int?] = columns.indices.map { included.contains($0) ? columns[$0].width : nil }
        var spare = width - needed()
        let flexible = columns.indices.filter { included.contains($0) && columns[$0].isFlexible }
        // Capped columns take their share first (up to their cap), the open-ended ones the rest.
        let growing = (flexible.isEmpty ? [included.max() ?? 0] : flexible).sorted { (columns[$0].maximumWidth ?? .max) < (columns[$1].maximumWidth ?? .max) }
        for (position, index) in growing.enumerated() where spare > 0 {
            let share = spare / (growing.count - position)
            let cap = columns[index].maximumWidth.map { $0 - (widths[index] ?? 0) } ?? share
            widths[index] = (widths[index] ?? 0) + min(share, cap)
            spare -= min(share, cap)
        }
        if spare < 0, let last = included.max() { widths[last] = max(1, (widths[last] ?? 0) + spare) }
        return widths
    }

    /// How many rows fit under the header in a pane of this height.
    static func visibleRows(height: Int) -> Int { max(0, height - 1) }

    func draw(into screen: inout Screen, area: Rect) {
        guard area.height > 0, area.width > 2 else { return }
        screen.fill(area, role: .body)
        let widths = layout(width: area.width)

        var header: [Span] = []
        for (index, column) in columns.enumerated() {
            var title = column.title
            if index == sortedColumn { title += sortDescending ? "↓" : "↑" }
            header.append(Span(title, .tableHeader))
        }
        screen.fill(area.row(0), role: .tableHeader)
        drawRow(header, widths: widths, into: &screen, y: area.y, x: area.x, role: nil)

        if rows.isEmpty {
            if area.height > 2 {
                let width = min(DisplayWidth.of(emptyMessage), area.width)
                screen.write(emptyMessage, x: area.x + (area.width - width) / 2, y: area.y + 2, role: .muted, limit: area.width)
            }
            return
        }
        for (offset, row) in rows.prefix(Self.visibleRows(height: area.height)).enumerated() {
            let y = area.y + 1 + offset
            let role: Role? = offset == selected ? .cursor : (marked.contains(offset) ? .marked : nil)
            if let role { screen.fill(area.row(1 + offset), role: role) }
            drawRow(row, widths: widths, into: &screen, y: y, x: area.x, role: role)
            let symbol = marked.contains(offset) ? "●" : (offset == selected ? "▸" : " ")
            screen.write(symbol, x: area.x, y: y, role: role ?? .body, limit: 1)
        }
    }

    /// Writes one row's cells into their columns; `role` replaces the cells' own (cursor, marked).
    private func drawRow(_ cells: [Span], widths: [Int?], into screen: inout Screen, y: Int, x: Int, role: Role?) {
        var column = x + 2
        for (index, width) in widths.enumerated() {
            guard let width else { continue }
            if index < cells.count {
                let cell = cells[index]
                let cellRole = role ?? cell.role
                if columns[index].alignment == .right {
                    let textWidth = min(DisplayWidth.of(SafeText.escaped(cell.text)), width)
                    screen.write(cell.text, x: column + width - textWidth, y: y, role: cellRole, limit: textWidth)
                } else {
                    screen.write(cell.text, x: column, y: y, role: cellRole, limit: width)
                }
            }
            column += width + Self.gap
        }
    }
}
