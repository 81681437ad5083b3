import StagelinkEngine

/// A list of staged rows: the Staged view, a failure group's rows, a job's rows.
///
/// It shows status, id, system, object, source id, the person's name, version, received, job,
/// tries and error, and
/// holds only the rows on screen. `r` retries, `R` retries an error code, `i` ignores, `p` pushes,
/// space marks; shift-letters sort by status, object or id.
@MainActor
final class RowsView: ConsoleView {
    /// Where the rows come from: a filter the person can change, or a job's fixed list.
    enum Source {
        case filter(RowFilter)
        /// The rows a link, push or retry job tried.
        case attemptedBy(job: Int64)
    }

    let title: String
    let crumb: String
    let tab: ConsoleTab?
    private let source: Source
    private var filter: RowFilter
    private var sort = RowSort()
    private var list: RowList?

    init(title: String, crumb: String, tab: ConsoleTab?, source: Source) {
        self.title = title
        self.crumb = crumb
        self.tab = tab
        self.source = source
        if case .filter(let filter) = source { self.filter = filter } else { filter = .all }
    }

    /// The list, once loaded (for tests and the benchmark).
    var rows: RowList? { list }

    nonisolated static let columns = [
        TableColumn("STATUS", width: 12, priority: 100),
        TableColumn("ID", width: 7, alignment: .right, priority: 90),
        TableColumn("SYS", width: 3, priority: 40),
        TableColumn("OBJECT", width: 12, priority: 80),
        // A Salesforce id (15 characters) whole.
        TableColumn("SOURCE ID", width: 15, flexible: true, upTo: 20, priority: 85),
        // The person the row is about, from the store's person index: left out before RECEIVED.
        TableColumn("NAME", width: 14, priority: 50),
        TableColumn("VER", width: 3, alignment: .right, priority: 20),
        TableColumn("RECEIVED", width: 11, priority: 60),
        TableColumn("JOB", width: 5, alignment: .right, priority: 30),
        TableColumn("TRIES", width: 5, alignment: .right, priority: 25),
        // At least a code and the field it names (`INVALID_FIELD: Birthdate`); all that is left beyond.
        TableColumn("ERROR", width: 24, flexible: true, priority: 70),
    ]

    /// The sort each shift-letter picks, and the column that shows it.
    nonisolated static let sortKeys: [(key: Character, column: RowSort.Column, index: Int)] = [
        ("S", .status, 0), ("I", .id, 1), ("O", .resourceType, 3),
    ]

    /// Rows that fit: the body less the frame and the table header.
    static func capacity(for body: Rect) -> Int { max(1, body.height - 3) }

    // MARK: - Loading

    func load(in body: Rect, context: any ConsoleContext) async throws {
        let pager = try await makePager(context: context)
        let list = RowList(pager: pager, capacity: Self.capacity(for: body))
        self.list = list
        try await list.top()
        recount(context: context)
    }

    func refresh(context: any ConsoleContext) async throws {
        try await list?.refresh()
        recount(context: context, throttled: true)
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        try await list?.resize(capacity: Self.capacity(for: body))
    }

    private func makePager(context: any ConsoleContext) async throws -> any RowPager {
        switch source {
        case .filter: KeysetRowPager(store: context.store, filter: filter, sort: sort)
        case .attemptedBy(let job): RowListPager(store: context.store, ids: try await context.store.rowsAttempted(byJob: job, since: 0))
        }
    }

    private func recount(context: any ConsoleContext, throttled: Bool = false) {
        guard let list else { return }
        context.background("\(ConsoleSession.countKeyPrefix) \(crumb)") { try await list.recount(throttled: throttled) }
    }

    private func reload(context: any ConsoleContext) async throws {
        try await list?.replace(pager: try await makePager(context: context))
        recount(context: context)
    }

    var filtering: Filtering? {
        guard case .filter = source else { return nil }
        return Filtering(text: RowFilterSyntax.text(filter), placeholder: "failed object:Patient code:INVALID_FIELD müller MRN100042 1984-02-29  (!… inverts)") {
            [weak self] text, context in
            guard let self else { return }
            self.filter = RowFilterSyntax.parse(text)
            try await self.reload(context: context)
        }
    }

    /// Shows the rows the action changed in place, and unmarks: the marks were for that action.
    func actionFinished(_ outcome: ActionOutcome) {
        list?.update(outcome.rows)
        list?.clearMarks()
    }

    // MARK: - Keys

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        var bindings = KeyBinding.movement { [weak self] in self?.list }
        bindings += [
            KeyBinding([.enter], "detail", hint: .primary) { [weak self] _ in
                if let id = self?.list?.selected?.id { await context.openRow(id) }
            },
            KeyBinding([.character(" ")], "mark", hint: .primary) { [weak self] _ in try await self?.list?.toggleMark() },
            KeyBinding([.character("r")], "retry", group: .action, hint: .primary, action: .retry) { [weak self] _ in
                guard let list = self?.list, let selected = list.selected else { return }
                RowActions.retry(selected: selected, marked: list.marks, context: context)
            },
            KeyBinding([.character("R")], "retry code", group: .action, hint: .primary, action: .retry) { [weak self] _ in
                await RowActions.retryErrorCode(of: self?.list?.selected, context: context)
            },
            KeyBinding([.character("i")], "ignore", group: .action, hint: .primary, action: .ignore) { [weak self] _ in
                guard let list = self?.list, let selected = list.selected else { return }
                RowActions.ignore(selected: selected, marked: list.marks, context: context)
            },
            KeyBinding([.character("u")], "un-ignore", group: .action, hint: list?.selected?.status == .ignored ? .primary : nil, action: .unignore) {
                [weak self] _ in
                guard let list = self?.list, let selected = list.selected else { return }
                RowActions.unignore(selected: selected, marked: list.marks, context: context)
            },
            KeyBinding([.character("p")], "push", group: .action, hint: .primary, action: .push) { [weak self] _ in
                RowActions.push(self?.list?.selected, context: context)
            },
            KeyBinding([.character("y")], "copy the error") { [weak self] _ in
                if let selected = self?.list?.selected { RowActions.copyError(of: selected, context: context) }
            },
        ]
        if case .filter = source {
            bindings.append(
                KeyBinding(Self.sortKeys.map { .character($0.key) }, "sort", hint: .secondary) { [weak self] key in
                    try await self?.sort(by: key, context: context)
                })
        }
        return bindings
    }

    private func sort(by key: Key, context: any ConsoleContext) async throws {
        guard case .character(let letter) = key, let choice = Self.sortKeys.first(where: { $0.key == letter }) else { return }
        sort = RowSort(column: choice.column, descending: sort.column == choice.column ? !sort.descending : false)
        try await reload(context: context)
    }

    // MARK: - Drawing

    func draw(into screen: inout Screen, body fullBody: Rect, context: any ConsoleContext) {
        let format = context.format
        // A wide terminal gives the selected row's error and key fields a pane of their own.
        var body = fullBody
        if fullBody.width >= RowPreview.minimumWidth {
            let (list, preview) = fullBody.splitLeft(fullBody.width - RowPreview.width)
            body = list
            RowPreview(row: self.list?.selected).draw(into: &screen, area: preview, format: format)
        }
        let filterText = RowFilterSyntax.text(filter)
        let titleLine = StyledLine.viewTitle(title, filter: filterText, count: list?.count.map(format.grouped) ?? "…")
        var note: StyledLine?
        if let marks = list?.marks, !marks.isEmpty { note = StyledLine("● \(format.grouped(marks.count)) marked", .marked) }
        let inner = Frame(title: titleLine, note: note).draw(into: &screen, area: body)
        guard let list else { return }
        var table = Table(columns: Self.columns, rows: list.rows.map { row(for: $0, format: format) })
        table.selected = list.selection
        table.marked = Set(list.rows.indices.filter { list.marks.contains(list.rows[$0].id) })
        table.sortedColumn = Self.sortKeys.first { $0.column == sort.column }?.index ?? (sort.column == .id ? 1 : nil)
        table.sortDescending = sort.descending
        table.emptyMessage = filterText.isEmpty ? "no staged rows yet" : "no rows match \(filterText)"
        table.draw(into: &screen, area: inner)
    }

    private func row(for row: StagedRowSummary, format: TextFormat) -> [Span] {
        let error = row.errorCode.map { code in row.errorMessage.map { "\(code): \($0)" } ?? code } ?? ""
        return [
            row.status.cell, Span(String(row.id)), Span(row.system.shortName, .muted), Span(row.resourceType), Span(row.sourceID),
            Span(row.personName ?? ""),
            Span(row.version ?? "", .muted), Span(format.stamp(row.receivedAt), .muted), Span(row.jobID.map(String.init) ?? "", .muted),
            Span(row.attemptCount > 0 ? String(row.attemptCount) : "", .muted), Span(error, .error),
        ]
    }
}
