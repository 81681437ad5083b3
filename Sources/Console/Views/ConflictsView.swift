import StagelinkEngine

/// Conflicts, newest first: both values, the rule, the winner, who resolved it. Open ones, which
/// wait for a person, are shown first and alone; decided and resolved ones are behind the filter
/// (`/decided`, `/resolved`, or Esc for all). The selected conflict is shown in full below; on an
/// open one, `e` takes the EMR's value and `f` Salesforce's, with a reason. Space marks
/// conflicts and `a` marks every open one the filter shows, so that `e` / `f` settle them all with
/// one reason. A held merge (kind `merge`: a merge in one system that would join two records
/// distinct in the other) shows what each system holds; `m` settles it as merged in the other
/// system too, `d` keeps the two records apart (distinct), with a reason. `/kind:merge` lists them.
@MainActor
final class ConflictsView: ConsoleView {
    let crumb = "conflicts"
    let tab: ConsoleTab? = .conflicts
    private var list: NewestFirstList<Conflict>?
    private var query = ConflictQuery(statuses: [.open])
    private var filterText = "open"
    /// Conflicts marked for `e` / `f`, by id.
    private(set) var marks = Set<Int64>()
    /// How many conflicts `a` marks at most.
    static let markLimit = 10_000
    private var openCount: Int?

    static let columns = [
        TableColumn("ID", width: 5, alignment: .right, priority: 90),
        TableColumn("STATUS", width: 10, priority: 100),
        // The person's name when the person index knows it, else the object and record key.
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

    private func loader(_ store: any ConsoleStore) -> NewestFirstList<Conflict>.Loader {
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
        Filtering(text: filterText, placeholder: "open, resolved, decided, kind:merge, or an object such as Contact") { [weak self] text, context in
            guard let self else { return }
            self.filterText = text
            self.marks.removeAll()
            var query = ConflictQuery()
            for word in text.split(separator: " ").map(String.init) {
                if let status = Conflict.Status(rawValue: word.lowercased()) {
                    query.statuses = (query.statuses ?? []).union([status])
                } else if word.lowercased().hasPrefix("kind:"), let kind = Conflict.Kind(rawValue: String(word.dropFirst(5)).lowercased()) {
                    query.kind = kind
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
            KeyBinding([.character("m")], "merged there", group: .action, hint: .primary, action: .settleMerge) { [weak self] _ in
                self?.settle(.merged, context: context)
            },
            KeyBinding([.character("d")], "keep apart", group: .action, hint: .primary, action: .settleMerge) { [weak self] _ in
                self?.settle(.apart, context: context)
            },
            KeyBinding([.character(" ")], "mark", hint: .primary) { [weak self] _ in try await self?.toggleMark(context: context) },
            KeyBinding([.character("a")], "mark all open shown", hint: .primary) { [weak self] _ in try await self?.markAll(context: context) },
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

    /// Space: marks or unmarks the selected open conflict, and moves down.
    private func toggleMark(context: any ConsoleContext) async throws {
        guard let conflict = list?.selected else { return }
        guard conflict.status == .open else {
            return context.flash("conflict \(conflict.id) is \(conflict.status.rawValue): only open conflicts are marked to resolve", .warning)
        }
        if marks.remove(conflict.id) == nil { marks.insert(conflict.id) }
        try await list?.down()
    }

    /// `a`: marks every open conflict the filter shows (up to `markLimit`).
    private func markAll(context: any ConsoleContext) async throws {
        var page = query
        page.statuses = (query.statuses ?? Set(Conflict.Status.allCases)).intersection([.open])
        guard !(page.statuses ?? []).isEmpty else { return context.flash("the filter shows no open conflicts to mark", .info) }
        page.limit = 500
        var found: [Int64] = []
        while found.count < Self.markLimit {
            let batch = try await context.store.conflicts(page)
            found += batch.map(\.id)
            guard batch.count == page.limit, let last = batch.last else { break }
            page.before = last.id
        }
        marks = Set(found.prefix(Self.markLimit))
        context.flash("marked \(context.format.grouped(marks.count)) open conflicts: e / f takes one side for all, with one reason", .info)
    }

    func clearMarks() { marks.removeAll() }

    /// The marks were for the action that finished.
    func actionFinished(_ outcome: ActionOutcome) {
        marks.removeAll()
    }

    private func resolve(taking side: SourceSystem, context: any ConsoleContext) {
        if !marks.isEmpty {
            let ids = marks.sorted()
            context.performWithReason(
                "Take the \(side.displayName) value for \(ids.count) marked conflicts — reason:", placeholder: "why these values are right (audited, for each)",
                progress: "resolving \(ids.count) conflicts with the \(side.displayName) value"
            ) { reason in .resolveConflicts(ids: ids, taking: side, reason: reason) }
            return
        }
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

    /// `m` / `d` on a held merge: settled with a reason, nothing written to either system.
    private func settle(_ decision: HeldMerge.Decision, context: any ConsoleContext) {
        guard let conflict = list?.selected else { return }
        guard let merge = conflict.merge else {
            context.flash("conflict \(conflict.id) is a field conflict: e / f takes one side's value", .warning)
            return
        }
        guard conflict.status == .open else {
            context.flash("held merge \(conflict.id) is \(conflict.status.rawValue): only open ones wait for a person", .warning)
            return
        }
        let prompt =
            decision == .merged
            ? "Merged in \(merge.mergedIn.other.displayName) too (\(merge.counterpartType) \(merge.loserCounterpartID) into \(merge.survivorCounterpartID)) — reason:"
            : "Keep \(merge.counterpartType) \(merge.loserCounterpartID) and \(merge.survivorCounterpartID) apart — reason:"
        context.performWithReason(
            prompt, placeholder: "what was done in \(merge.mergedIn.other.displayName), or why they stay apart (audited)",
            progress: "settling held merge \(conflict.id): \(decision.rawValue)"
        ) { reason in
            .settleMerge(id: conflict.id, decision: decision, reason: reason)
        }
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let format = context.format
        let areas = split(body)
        let title = StyledLine.viewTitle("Conflicts", filter: filterText, count: "\(openCount.map(format.grouped) ?? "…") open")
        let note = marks.isEmpty ? nil : StyledLine("● \(format.grouped(marks.count)) marked", .marked)
        let inner = Frame(title: title, note: note).draw(into: &screen, area: areas.table)
        guard let list else { return }
        var table = Table(
            columns: Self.columns,
            rows: list.items.map { conflict in
                [
                    Span(String(conflict.id)), conflict.status.cell, Span(conflict.personName ?? "\(conflict.object) \(conflict.recordKey)"),
                    Span(conflict.subject, conflict.kind == .merge ? .warning : .body),
                    Span(conflict.emrValue.description, conflict.winner == .emr ? .ok : .body),
                    Span(conflict.salesforceValue.description, conflict.winner == .salesforce ? .ok : .body), Span(conflict.rule.rawValue, .muted),
                    Span(conflict.winner?.shortName ?? "—", conflict.winner == nil ? .warning : .ok), Span(conflict.resolvedBy?.description ?? "", .muted),
                    Span(format.stamp(conflict.resolvedAt ?? conflict.createdAt), .muted),
                ]
            })
        table.selected = list.items.isEmpty ? nil : list.selection
        table.marked = Set(list.items.indices.filter { marks.contains(list.items[$0].id) })
        table.emptyMessage =
            filterText.isEmpty
            ? "no conflicts: both systems agree" : (filterText == "open" ? "no conflicts wait for a person (/decided shows the others)" : "no conflicts match \(filterText)")
        table.draw(into: &screen, area: inner)
        drawDetail(list.selected, into: &screen, area: areas.detail, format: format)
    }

    private func drawDetail(_ conflict: Conflict?, into screen: inout Screen, area: Rect, format: TextFormat) {
        let who = conflict.map { conflict in
            [conflict.personName, "\(conflict.object) \(conflict.recordKey) \(conflict.subject)"].compactMap { $0 }.joined(separator: " · ")
        }
        let title = StyledLine("Selected conflict" + (who.map { ": \($0)" } ?? ""), .title)
        let inner = Frame(title: title, isFocused: false).draw(into: &screen, area: area)
        guard let conflict else { return }
        let winner = " ← wins"
        let lines: [StyledLine] = [
            [Span("EMR         ", .muted), Span(conflict.emrValue.description, conflict.winner == .emr ? .ok : .body), Span(conflict.winner == .emr ? winner : "", .ok)],
            [
                Span("Salesforce  ", .muted), Span(conflict.salesforceValue.description, conflict.winner == .salesforce ? .ok : .body),
                Span(conflict.winner == .salesforce ? winner : "", .ok),
            ],
            conflict.status == .open && conflict.kind == .merge
                ? [Span("held merge — waiting since \(format.dateTime(conflict.createdAt)): m once merged there too, d to keep them apart", .warning)]
                : conflict.status == .open
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
