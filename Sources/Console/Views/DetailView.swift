import StagelinkEngine

/// One staged row in full, to scroll through: what it is, its error with the other system's own
/// answer, the verbatim payload pretty-printed with the failing field highlighted, its history,
/// every link attempt, the values it wrote (lineage) and the conflicts it found.
///
/// `[` and `]` jump between sections; `r`, `R`, `i` and `p` act on this row.
@MainActor
final class DetailView: ConsoleView {
    let rowID: Int64
    let tab: ConsoleTab?
    var crumb: String { "row \(rowID)" }
    private(set) var evidence: RowEvidence?
    private var lines: [ScrollText.Line] = []
    /// The lines wrapped for the last width drawn, and that width.
    private var wrapped: (width: Int, rows: [ScrollText.Line])?
    private let scroller = TextScroller()
    /// The width the text is wrapped to: the body less its frame.
    private var textWidth = 78

    init(rowID: Int64, tab: ConsoleTab?) {
        self.rowID = rowID
        self.tab = tab
    }

    /// The scroll position, for tests.
    var offset: Int { scroller.offset }

    func load(in body: Rect, context: any ConsoleContext) async throws {
        // Every opening of a row's evidence is logged first: a read that cannot be logged is not shown.
        try await context.store.recordAccess(RowAccess(rowID: rowID, operatorName: context.operatorName, via: .console))
        try await refresh(context: context)
        try await resize(to: body, context: context)
    }

    func refresh(context: any ConsoleContext) async throws {
        guard let evidence = try await RowEvidence.load(id: rowID, store: context.store) else { throw DetailError.noSuchRow(rowID) }
        self.evidence = evidence
        lines = DetailDocument(evidence: evidence, mapping: context.mapping, format: context.format).lines
        wrapped = nil
        _ = rows(width: textWidth)
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        scroller.height = max(1, body.height - 2)
        textWidth = body.width - 2
        _ = rows(width: textWidth)
    }

    private func rows(width: Int) -> [ScrollText.Line] {
        if let wrapped, wrapped.width == width { return wrapped.rows }
        let rows = ScrollText.wrap(lines, width: width)
        wrapped = (width, rows)
        scroller.total = rows.count
        return rows
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        let summary = evidence?.row.summary
        return KeyBinding.movement { [weak self] in self?.scroller } + [
            KeyBinding([.character("]")], "next section", hint: .primary) { [weak self] _ in self?.jump(forward: true) },
            KeyBinding([.character("[")], "previous section") { [weak self] _ in self?.jump(forward: false) },
            KeyBinding([.character("n")], "the failing field", hint: evidence?.row.error != nil ? .primary : nil) { [weak self] _ in self?.jumpToHighlight() },
            KeyBinding([.character("r")], "retry", group: .action, hint: .primary, action: .retry) { _ in
                if let summary { RowActions.retry(selected: summary, marked: [], context: context) }
            },
            KeyBinding([.character("R")], "retry code", group: .action, action: .retry) { _ in
                await RowActions.retryErrorCode(of: summary, context: context)
            },
            KeyBinding([.character("i")], "ignore", group: .action, hint: .primary, action: .ignore) { _ in
                if let summary { RowActions.ignore(selected: summary, marked: [], context: context) }
            },
            KeyBinding([.character("p")], "push", group: .action, hint: summary?.system == .salesforce ? .primary : nil, action: .push) { _ in
                RowActions.push(summary, context: context)
            },
        ]
    }

    /// Moves to the next line the error is about, from the top after the last.
    private func jumpToHighlight() {
        guard let rows = wrapped?.rows else { return }
        let marked = rows.indices.filter { rows[$0].highlight != nil }
        if let target = marked.first(where: { $0 > scroller.offset }) ?? marked.first { scroller.scroll(to: max(0, target - 2)) }
    }

    /// Moves to the next (or previous) section heading.
    private func jump(forward: Bool) {
        guard let rows = wrapped?.rows else { return }
        let headings = rows.indices.filter { rows[$0].content.spans.first?.role == .section }
        let target = forward ? headings.first { $0 > scroller.offset } : headings.last { $0 < scroller.offset }
        if let target { scroller.scroll(to: target) }
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        var title = StyledLine("Row \(rowID)", .title)
        if let row = evidence?.row {
            title.append(" — \(row.system.displayName) \(row.resourceType) \(row.sourceID) — ", .title)
            title.append(row.status.cell.text, row.status.role)
        }
        let rows = rows(width: body.width - 2)
        let position = rows.isEmpty ? "" : "\(min(rows.count, scroller.offset + scroller.height))/\(rows.count)"
        let inner = Frame(title: title, note: StyledLine(position, .muted)).draw(into: &screen, area: body)
        ScrollText.draw(rows, offset: scroller.offset, into: &screen, area: inner)
    }
}

/// A detail row that is not in the store.
enum DetailError: Error, CustomStringConvertible {
    case noSuchRow(Int64)

    var description: String {
        switch self {
        case .noSuchRow(let id): "no staged row has id \(id)"
        }
    }
}

/// The scroll position of a text taller than its pane.
@MainActor
final class TextScroller: ScrollingList {
    private(set) var offset = 0
    var height = 1
    var total = 0 {
        didSet { scroll(to: offset) }
    }

    func scroll(to row: Int) { offset = max(0, min(row, total - height)) }
    func up() async throws { scroll(to: offset - 1) }
    func down() async throws { scroll(to: offset + 1) }
    func pageUp() async throws { scroll(to: offset - height) }
    func pageDown() async throws { scroll(to: offset + height) }
    func top() async throws { scroll(to: 0) }
    func bottom() async throws { scroll(to: total) }
}
