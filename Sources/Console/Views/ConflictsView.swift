import StagelinkEngine

/// Conflicts, open and settled, newest first: both values, the rule, the winner, who resolved it.
/// The selected conflict is shown in full below; on an open one, `e` takes the EMR's value and
/// `f` Salesforce's, each with a reason.
@MainActor
final class ConflictsView: ConsoleView {
    let crumb = "conflicts"
    let tab: ConsoleTab? = .conflicts
    private var list: NewestFirstList<Conflict>?
    private var query = ConflictQuery()
    private var filterText = ""
    private var openCount: Int?

    static let columns = [
        TableColumn("ID", width: 5, alignment: .right, priority: 90),
        TableColumn("STATUS", width: 10, priority: 100),
        TableColumn("RECORD", width: 16, priority: 80),
        TableColumn("FIELD", width: 14, priority: 95),
        TableColumn("EMR", width: 12, flexible: true, priority: 85),
        TableColumn("SALESFORCE", width: 12, flexible: true, priority: 85),
        TableColumn("RULE", width: 10, priority: 60),
        TableColumn("WINNER", width: 6, priority: 70),
        TableColumn("BY", width: 14, priority: 40),
        TableColumn("WHEN", width: 11, priority: 50),
    ]

    /// Lines under the table for the selected conflict in full.
    static let detailHeight = 5

    var conflicts: NewestFirstList<Conflict>? { list }

    private func split(_ body: Rect) -> (table: Rect, detail: Rect) {
        let (top, rest) = body.splitTop(body.height - Self.detailHeight)
        return (top, rest)
    }

    func load(in body: Rect, context: any ConsoleContext) async throws {
        let list = NewestFirstList<Conflict>(capacity: RowsView.capacity(for: split(body).table), load: loader(context.store))
        self.list = list
        try await list.top()
        recount(context: context)
    }

    private func loader(_ store: any SyncStore) -> NewestFirstList<Conflict>.Loader {
        let query = self.query
        return { before, limit in
            var page = query
            page.before = before
            page.limit = limit
            return try await store.conflicts(page)
        }
    }

    private func recount(context: any ConsoleContext) {
        context.background("\(ConsoleSession.countKeyPrefix) open conflicts") { [weak self] in
            let count = try await context.store.countConflicts(status: .open)
            self?.openCount = count
        }
    }

    func refresh(context: any ConsoleContext) async throws {
        try await list?.refresh()
        recount(context: context)
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        try await list?.resize(capacity: RowsView.capacity(for: split(body).table))
    }

    var filtering: Filtering? {
        Filtering(text: filterText, placeholder: "open, resolved, decided, or an object such as Contact") { [weak self] text, context in
            guard let self else { return }
            self.filterText = text
            var query = ConflictQuery()
            for word in text.split(separator: " ").map(String.init) {
                if let status = Conflict.Status(rawValue: word.lowercased()) {
                    query.statuses = (query.statuses ?? []).union([status])
                } else {
                    query.object = word.hasPrefix("object:") ? String(word.dropFirst(7)) : word
                }
            }
            self.query = query
            try await self.list?.replace(loader: self.loader(context.store))
        }
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        KeyBinding.movement { [weak self] in self?.list } + [
            KeyBinding([.character("e")], "take EMR", group: .action, hint: .primary, action: .resolveConflict) { [weak self] _ in
                self?.resolve(taking: .emr, context: context)
            },
            KeyBinding([.character("f")], "take Salesforce", group: .action, hint: .primary, action: .resolveConflict) { [weak self] _ in
                self?.resolve(taking: .salesforce, context: context)
            },
            KeyBinding([.enter], "row that found it", hint: .primary) { [weak self] _ in
                guard let conflict = self?.list?.selected else { return }
                guard let rowID = conflict.rowID else {
                    context.flash("conflict \(conflict.id) was not found by a staged row", .info)
                    return
                }
                await context.openRow(rowID)
            },
        ]
    }

    private func resolve(taking side: SourceSystem, context: any ConsoleContext) {
        guard let conflict = list?.selected else { return }
        guard conflict.status == .open else {
            context.flash("conflict \(conflict.id) is \(conflict.status.rawValue): only open conflicts wait for a person", .warning)
            return
        }
        let value = side == .emr ? conflict.emrValue : conflict.salesforceValue
        let what = "\(conflict.object) \(conflict.recordKey) \(conflict.field)"
        context.performWithReason(
            "Take the \(side.displayName) value for \(what) — reason:", placeholder: "why this value is right (audited)",
            progress: "resolving conflict \(conflict.id) with the \(side.displayName) value \"\(value)\""
        ) { reason in
            .resolveConflict(id: conflict.id, taking: side, reason: reason)
        }
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let format = context.format
        let areas = split(body)
        let title = StyledLine.viewTitle("Conflicts", filter: filterText, count: "\(openCount.map(format.grouped) ?? "…") open")
        let inner = Frame(title: title).draw(into: &screen, area: areas.table)
        guard let list else { return }
        var table = Table(
            columns: Self.columns,
            rows: list.items.map { conflict in
                [
                    Span(String(conflict.id)), conflict.status.cell, Span("\(conflict.object) \(conflict.recordKey)"), Span(conflict.field),
                    Span(conflict.emrValue.description, conflict.winner == .emr ? .ok : .body),
                    Span(conflict.salesforceValue.description, conflict.winner == .salesforce ? .ok : .body), Span(conflict.rule.rawValue, .muted),
                    Span(conflict.winner?.shortName ?? "—", conflict.winner == nil ? .warning : .ok), Span(conflict.resolvedBy?.description ?? "", .muted),
                    Span(format.stamp(conflict.resolvedAt ?? conflict.createdAt), .muted),
                ]
            })
        table.selected = list.items.isEmpty ? nil : list.selection
        table.emptyMessage = filterText.isEmpty ? "no conflicts: both systems agree" : "no conflicts match \(filterText)"
        table.draw(into: &screen, area: inner)
        drawDetail(list.selected, into: &screen, area: areas.detail, format: format)
    }

    private func drawDetail(_ conflict: Conflict?, into screen: inout Screen, area: Rect, format: TextFormat) {
        let inner = Frame(title: StyledLine("Selected conflict", .title), isFocused: false).draw(into: &screen, area: area)
        guard let conflict else { return }
        let winner = " ← wins"
        let lines: [StyledLine] = [
            [Span("EMR         ", .muted), Span(conflict.emrValue.description, conflict.winner == .emr ? .ok : .body), Span(conflict.winner == .emr ? winner : "", .ok)],
            [
                Span("Salesforce  ", .muted), Span(conflict.salesforceValue.description, conflict.winner == .salesforce ? .ok : .body),
                Span(conflict.winner == .salesforce ? winner : "", .ok),
            ],
            conflict.status == .open
                ? [Span("rule \(conflict.rule) — waiting for a person since \(format.dateTime(conflict.createdAt))", .warning)]
                : [
                    Span(
                        "rule \(conflict.rule) — \(conflict.status.rawValue) by \(conflict.resolvedBy?.description ?? "the rule") "
                            + "\(format.dateTime(conflict.resolvedAt ?? conflict.createdAt))" + (conflict.reason.map { ": \($0)" } ?? ""), .muted)
                ],
        ]
        for (offset, line) in lines.prefix(inner.height).enumerated() {
            screen.write(line, x: inner.x + 1, y: inner.y + offset, limit: inner.width - 2)
        }
    }
}
