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
    private let text = WrappedText()
    private var scroller: TextScroller { text.scroller }
    /// The width the text is wrapped to: the body less its frame.
    private var textWidth = 78
    /// What `/` looks for in the text; `n` and `N` move between the lines that have it.
    private(set) var search = ""

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
        text.lines = DetailDocument(evidence: evidence, mapping: context.mapping, format: context.format).lines
        _ = rows(width: textWidth)
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        scroller.height = max(1, body.height - 2)
        textWidth = body.width - 2
        _ = rows(width: textWidth)
    }

    private func rows(width: Int) -> [ScrollText.Line] { text.rows(width: width) }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        let summary = evidence?.row.summary
        return KeyBinding.movement { [weak self] in self?.scroller } + [
            KeyBinding([.character("]")], "next section", hint: .primary) { [weak self] _ in self?.jump(forward: true) },
            KeyBinding([.character("[")], "previous section") { [weak self] _ in self?.jump(forward: false) },
            KeyBinding([.character("n")], search.isEmpty ? "the failing field" : "next match", hint: evidence?.row.error != nil || !search.isEmpty ? .primary : nil) {
                [weak self] _ in self?.next(forward: true, context: context)
            },
            KeyBinding([.character("N")], search.isEmpty ? "the failing field before" : "previous match") { [weak self] _ in
                self?.next(forward: false, context: context)
            },
            KeyBinding([.character("r")], "retry", group: .action, hint: .primary, action: .retry) { _ in
                if let summary { RowActions.retry(selected: summary, marked: [], context: context) }
            },
            KeyBinding([.character("R")], "retry code", group: .action, action: .retry) { _ in
                await RowActions.retryErrorCode(of: summary, context: context)
            },
            KeyBinding([.character("i")], "ignore", group: .action, hint: .primary, action: .ignore) { _ in
                if let summary { RowActions.ignore(selected: summary, marked: [], context: context) }
            },
            KeyBinding([.character("u")], "un-ignore", group: .action, hint: summary?.status == .ignored ? .primary : nil, action: .unignore) { _ in
                if let summary { RowActions.unignore(selected: summary, marked: [], context: context) }
            },
            KeyBinding([.character("p")], "push", group: .action, hint: summary?.system == .salesforce ? .primary : nil, action: .push) { _ in
                RowActions.push(summary, context: context)
            },
            KeyBinding([.character("P")], "parent row", hint: evidence?.parent?.row != nil ? .primary : nil) { [weak self] _ in
                guard let self else { return }
                guard let parent = self.evidence?.parent else { return context.flash("row \(self.rowID) depends on no other record", .info) }
                guard let row = parent.row else {
                    return context.flash("\(parent.key.resourceType) \(parent.key.sourceID) was never staged here: nothing to open", .info)
                }
                await context.openRow(row.id)
            },
            KeyBinding([.character("y")], "copy error or payload", hint: .secondary) { [weak self] _ in self?.copy(context: context) },
            KeyBinding([.character("o")], "payload in $PAGER", hint: .secondary) { [weak self] _ in
                guard let self, let row = self.evidence?.row else { return }
                context.page(RowActions.payloadText(row), row: row.id)
            },
        ]
    }

    /// `y`: the error (with the other system's answer) or the payload, asked which when the row
    /// has both.
    private func copy(context: any ConsoleContext) {
        guard let row = evidence?.row else { return }
        let payload = { context.copy(RowActions.payloadText(row), describing: "the payload of row \(row.id)") }
        guard let error = row.error else { return payload() }
        let choices = [StyledLine("the error: \(error.code), its message, fields and the remote answer"), StyledLine("the payload, as received")]
        context.choose("Copy from row \(row.id)", choices, selected: 0) { choice in
            if choice == 0 { context.copy(RowActions.errorText(error), describing: "the error of row \(row.id)") } else { payload() }
        }
    }

    var filtering: Filtering? {
        Filtering(text: search, placeholder: "find in this row: a name, a field, a value (n next, N previous)") { [weak self] text, context in
            guard let self else { return }
            // A new search counts from the top, so "match 1 of 3" is the first in the row.
            self.search = text.trimmingCharacters(in: .whitespaces)
            self.current = -1
            self.next(forward: true, context: context)
        }
    }

    /// The row of the match `n` and `N` last moved to.
    private var current: Int?

    /// `n` / `N`: the next (or previous) line that matches the search, wrapping round and saying
    /// so; with no search, the lines the error is about.
    private func next(forward: Bool, context: any ConsoleContext) {
        guard let rows = text.wrappedRows else { return }
        let targets: [Int]
        if search.isEmpty {
            targets = rows.indices.filter { rows[$0].highlight != nil }
        } else {
            targets = rows.indices.filter { !rows[$0].content.occurrences(of: search).isEmpty }
            if targets.isEmpty { return context.flash("no match for \"\(search)\" in row \(rowID)", .warning) }
        }
        let from = current ?? (forward ? scroller.offset - 1 : scroller.offset + scroller.height)
        let after = forward ? targets.first { $0 > from } : targets.last { $0 < from }
        guard let target = after ?? (forward ? targets.first : targets.last) else { return }
        current = target
        if target < scroller.offset || target >= scroller.offset + scroller.height || search.isEmpty { scroller.scroll(to: max(0, target - 2)) }
        guard !search.isEmpty, let index = targets.firstIndex(of: target) else { return }
        let wrapped = after == nil ? (forward ? " (from the top)" : " (from the bottom)") : ""
        context.flash("match \(index + 1) of \(targets.count) lines with \"\(search)\"\(wrapped)", .info)
    }

    /// Moves to the next (or previous) section heading.
    private func jump(forward: Bool) {
        guard let rows = text.wrappedRows else { return }
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
        ScrollText.draw(rows, offset: scroller.offset, search: search, into: &screen, area: inner)
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

/// A text wrapped to its pane's width (once per width) and where it is scrolled to.
@MainActor
final class WrappedText {
    var lines: [ScrollText.Line] = [] {
        didSet { wrapped = nil }
    }
    let scroller = TextScroller()
    /// The lines wrapped for the last width drawn, and that width.
    private var wrapped: (width: Int, rows: [ScrollText.Line])?

    /// The rows as last wrapped, nil before the first draw.
    var wrappedRows: [ScrollText.Line]? { wrapped?.rows }

    func rows(width: Int) -> [ScrollText.Line] {
        if let wrapped, wrapped.width == width { return wrapped.rows }
        let rows = ScrollText.wrap(lines, width: width)
        wrapped = (width, rows)
        scroller.total = rows.count
        return rows
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
