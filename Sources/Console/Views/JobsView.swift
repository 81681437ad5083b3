import StagelinkEngine

/// The history of every job, newest first: kind, direction, start, duration, status, counts, API
/// calls, watermarks and who ran it. Enter shows the rows the job staged or tried.
@MainActor
final class JobsView: ConsoleView {
    let crumb = "jobs"
    let tab: ConsoleTab? = .jobs
    private var list: NewestFirstList<Job>?

    static let columns = [
        TableColumn("ID", width: 5, alignment: .right, priority: 100),
        TableColumn("KIND", width: 5, priority: 90),
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
        let inner = Frame(title: StyledLine("Jobs[newest first]", .title)).draw(into: &screen, area: body)
        guard let list else { return }
        var table = Table(columns: Self.columns, rows: list.items.map { Self.row(for: $0, format: format) })
        table.selected = list.items.isEmpty ? nil : list.selection
        table.emptyMessage = "no jobs have run against this store yet"
        table.draw(into: &screen, area: inner)
    }

    static func row(for job: Job, format: TextFormat) -> [Span] {
        var status = job.status.cell
        if job.status == .running {
            let percent = job.progress.total.flatMap { $0 > 0 ? " \(min(100, job.progress.done * 100 / $0))%" : nil } ?? ""
            status.text += percent
        }
        let took = (job.finishedAt ?? format.now).timeIntervalSince(job.startedAt)
        let direction = job.direction.map { $0 == .inbound ? "in" : "out" } ?? "—"
        return [
            Span(String(job.id)), Span(job.kind.rawValue), Span(direction, .muted), status, Span(format.stamp(job.startedAt), .muted),
            Span(format.duration(took), .muted), Span(format.grouped(job.counts.staged)), Span(format.grouped(job.counts.linked), .ok),
            Span(format.grouped(job.counts.failed), job.counts.failed > 0 ? .error : .muted), Span(format.grouped(job.apiCalls), .muted),
            Span(job.watermarkAfter.map(format.stamp) ?? "", .muted), Span(job.actor.description, .muted),
        ]
    }
}
