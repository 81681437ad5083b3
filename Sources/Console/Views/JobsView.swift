import StagelinkEngine

/// The history of every job, newest first: kind, direction, start, duration, status, counts, API
/// calls, watermarks and who ran it (and whether by hand). The title says each direction's health
/// by the same model as the header and `stagelink status`. Enter shows the rows the job staged or
/// tried. A bulk pull whose export manifest reported errors is marked `!` and, when selected, lists
/// them under the table.
@MainActor
final class JobsView: ConsoleView {
    let crumb = "jobs"
    let tab: ConsoleTab? = .jobs
    private var list: NewestFirstList<Job>?

    static let columns = [
        TableColumn("ID", width: 5, alignment: .right, priority: 100),
        TableColumn("KIND", width: 9, priority: 90),
        TableColumn("DIR", width: 3, priority: 70),
        TableColumn("STATUS", width: 14, priority: 95),
        TableColumn("STARTED", width: 11, priority: 85),
        TableColumn("TOOK", width: 7, alignment: .right, priority: 80),
        TableColumn("STAGED", width: 7, alignment: .right, priority: 60),
        TableColumn("LINKED", width: 7, alignment: .right, priority: 75),
        TableColumn("FAILED", width: 6, alignment: .right, priority: 76),
        TableColumn("API", width: 5, alignment: .right, priority: 50),
        TableColumn("WATERMARK", width: 11, priority: 30),
        TableColumn("BY", width: 10, flexible: true, priority: 40),
    ]

    var jobs: NewestFirstList<Job>? { list }

    func load(in body: Rect, context: any ConsoleContext) async throws {
        let store = context.store
        let list = NewestFirstList<Job>(capacity: RowsView.capacity(for: body)) { before, limit in
            try await store.jobs(before: before, limit: limit)
        }
        self.list = list
        try await list.top()
    }

    func refresh(context: any ConsoleContext) async throws {
        try await list?.refresh()
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        try await list?.resize(capacity: RowsView.capacity(for: body))
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        KeyBinding.movement { [weak self] in self?.list } + [
            KeyBinding([.enter], "job detail", hint: .primary) { [weak self] _ in
                if let job = self?.list?.selected { await context.openJob(job.id) }
            }
        ]
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let format = context.format
        let inner = Frame(title: Self.title(context.health)).draw(into: &screen, area: body)
        guard let list else { return }
        var area = inner
        let errors = list.items.isEmpty ? [] : list.selected?.exportErrors ?? []
        if !errors.isEmpty, inner.height > 6 {
            let lines = min(errors.count + 1, max(2, inner.height / 3))
            let split = inner.splitTop(inner.height - lines)
            area = split.top
            let job = list.selected?.id ?? 0
            screen.write("Export errors of job \(job) (\(errors.count)):", x: split.rest.x, y: split.rest.y, role: .error, limit: split.rest.width)
            for (offset, error) in errors.prefix(lines - 1).enumerated() {
                screen.write("  " + error, x: split.rest.x, y: split.rest.y + 1 + offset, role: .body, limit: split.rest.width)
            }
        }
        var table = Table(columns: Self.columns, rows: list.items.map { Self.row(for: $0, format: format) })
        table.selected = list.items.isEmpty ? nil : list.selection
        table.emptyMessage = "no jobs have run against this store yet"
        table.draw(into: &screen, area: area)
    }

    /// `Jobs[newest first] inbound ✗ failing · outbound ✓ healthy · by hand: push 42 ✗ failed (not counted)`.
    static func title(_ health: ServiceHealth?) -> StyledLine {
        var title = StyledLine("Jobs[newest first]", .title)
        guard let health else { return title }
        for (index, direction) in health.directions.enumerated() {
            title.append(index == 0 ? "  " : " · ", .muted)
            title.append("\(direction.direction.rawValue) ", .muted)
            title.append("\(direction.level.symbol) \(direction.level)", direction.level.role)
        }
        if let failure = health.manual.unresolvedFailure {
            title.append(" · by hand: \(failure.kind.rawValue) \(failure.id) ", .muted)
            title.append("\(failure.status.symbol) \(failure.status.rawValue)", failure.status.role)
            title.append(" (not counted)", .muted)
        }
        return title
    }

    static func row(for job: Job, format: TextFormat) -> [Span] {
        var status = job.status.cell
        if job.status == .running {
            let percent = job.progress.total.flatMap { $0 > 0 ? " \(min(100, job.progress.done * 100 / $0))%" : nil } ?? ""
            status.text += percent
        }
        if !job.exportErrors.isEmpty { status.text += " !" }
        let took = (job.finishedAt ?? format.now).timeIntervalSince(job.startedAt)
        let direction = job.direction.map { $0 == .inbound ? "in" : "out" } ?? "—"
        let failed = job.kind == .reconcile ? job.counts.missing : job.counts.failed
        return [
            Span(String(job.id)), Span(job.kind.rawValue), Span(direction, .muted), status, Span(format.stamp(job.startedAt), .muted),
            Span(format.duration(took), .muted), Span(format.grouped(job.counts.staged)), Span(format.grouped(job.counts.linked), .ok),
            // A reconciliation's failed rows are the records it found missing, held for a person.
            Span(format.grouped(failed), failed > 0 ? .error : .muted), Span(format.grouped(job.apiCalls), .muted),
            Span(job.watermarkAfter.map(format.stamp) ?? "", .muted),
            Span(job.trigger == .manual ? "\(job.actor) by hand" : job.actor.description, .muted),
        ]
    }
}
