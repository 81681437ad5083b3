import StagelinkEngine

/// The pane beside a list of rows on a terminal of 160 columns or more: the selected row's
/// status, what it is, when and by which job it came, and its whole error, wrapped, so that the
/// message is read without opening the row.
struct RowPreview {
    var row: StagedRowSummary?

    /// The terminal width from which the pane shows, and its width.
    static let minimumWidth = 160
    static let width = 56

    func draw(into screen: inout Screen, area: Rect, format: TextFormat) {
        let title = StyledLine(row.map { "Row \($0.id)" } ?? "Row", .title)
        let inner = Frame(title: title, note: StyledLine("enter: all of it", .muted), isFocused: false).draw(into: &screen, area: area)
        guard let row else { return }
        typealias Line = ScrollText.Line
        var lines: [Line] = [
            Line([row.status.cell, Span(row.attemptCount > 0 ? " · \(row.attemptCount) tries" : "", .muted)]),
            Line(StyledLine("\(row.system.displayName) \(row.resourceType) \(row.sourceID)" + (row.version.map { " · version \($0)" } ?? ""))),
        ]
        if let name = row.personName { lines.append(Line(StyledLine(name, .section))) }
        lines += [
            Line(StyledLine("received \(format.stamp(row.receivedAt))" + (row.jobID.map { " · job \($0)" } ?? ""), .muted)),
        ]
        if let code = row.errorCode {
            lines += [Line(StyledLine()), Line(StyledLine("Error", .section)), Line(StyledLine(code, .error))]
            if let message = row.errorMessage { lines.append(Line(StyledLine(message))) }
        }
        ScrollText.draw(ScrollText.wrap(lines, width: inner.width - 1), offset: 0, into: &screen, area: inner)
    }
}
