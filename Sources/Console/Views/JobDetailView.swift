import StagelinkEngine

/// One job in full: its status and the reason it ended so (`MALFORMED_RESPONSE: …`), who ran it,
/// when and for how long, its counts, API calls and usage, the watermarks before and after, its
/// progress, its events, and how many rows it staged or tried; Enter lists those rows.
@MainActor
final class JobDetailView: ConsoleView {
    let jobID: Int64
    let tab: ConsoleTab? = .jobs
    var crumb: String { "job \(jobID)" }
    private(set) var job: Job?
    private let text = WrappedText()

    init(jobID: Int64) {
        self.jobID = jobID
    }

    func load(in body: Rect, context: any ConsoleContext) async throws {
        try await resize(to: body, context: context)
        try await refresh(context: context)
    }

    func refresh(context: any ConsoleContext) async throws {
        guard let job = try await context.store.job(id: jobID) else { throw JobDetailError.noSuchJob(jobID) }
        let events = try await context.store.recentEvents(limit: EventsView.limit).filter { $0.jobID == jobID }
        let rows = job.kind == .pull ? try await context.store.countRows(RowFilter(jobID: jobID)) : nil
        self.job = job
        text.lines = Self.document(job, events: events, stagedRows: rows, format: context.format)
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        text.scroller.height = max(1, body.height - 2)
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        KeyBinding.movement { [weak self] in self?.text.scroller } + [
            KeyBinding([.enter], "its rows", hint: .primary) { [weak self] _ in
                guard let self, let job = self.job else { return }
                let source: RowsView.Source = job.kind == .pull ? .filter(RowFilter(jobID: job.id)) : .attemptedBy(job: job.id)
                await context.open(RowsView(title: "Job \(job.id) \(job.kind.rawValue)", crumb: "rows", tab: .jobs, source: source))
            }
        ]
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        var title = StyledLine("Job \(jobID)", .title)
        if let job {
            title.append(" — \(job.kind.rawValue)" + (job.direction.map { " \($0.rawValue)" } ?? "") + " — ", .title)
            title.append(job.status.cell.text, job.status.role)
        }
        let rows = text.rows(width: body.width - 2)
        let inner = Frame(title: title, note: StyledLine("enter: its rows", .muted)).draw(into: &screen, area: body)
        ScrollText.draw(rows, offset: text.scroller.offset, into: &screen, area: inner)
    }

    /// The job's text, section by section.
    static func document(_ job: Job, events: [SyncEvent], stagedRows: Int?, format: TextFormat) -> [ScrollText.Line] {
        func field(_ label: String, _ value: StyledLine) -> ScrollText.Line {
            ScrollText.Line(StyledLine(label.padding(to: 13), .muted) + value)
        }
        func field(_ label: String, _ value: String, _ role: Role = .body) -> ScrollText.Line { field(label, StyledLine(value, role)) }
        var lines = [ScrollText.Line(StyledLine("Summary", .section))]
        lines.append(field("status", [job.status.cell]))
        if let message = job.message { lines.append(field("reason", message, job.status == .failed ? .error : .body)) }
        lines.append(field("by", job.actor.description))
        let finished = job.finishedAt
        lines.append(field("started", format.dateTime(job.startedAt)))
        lines.append(field("finished", finished.map(format.dateTime) ?? "still running"))
        lines.append(field("took", format.duration((finished ?? format.now).timeIntervalSince(job.startedAt))))
        if job.status == .running || job.progress.total != nil {
            let total = job.progress.total.map { "/\(format.grouped($0))" } ?? ""
            lines.append(field("progress", "\(job.progress.phase.isEmpty ? "starting" : job.progress.phase) \(format.grouped(job.progress.done))\(total)"))
        }
        lines.append(ScrollText.Line(StyledLine()))
        lines.append(ScrollText.Line(StyledLine("Counts", .section)))
        let counts = job.counts
        lines.append(field("records", "pulled \(format.grouped(counts.pulled)) · staged \(format.grouped(counts.staged)) · deduplicated \(format.grouped(counts.deduplicated))"))
        lines.append(
            field(
                "linking",
                [
                    Span("linked \(format.grouped(counts.linked))", .ok), Span(" · "), Span("failed \(format.grouped(counts.failed))", counts.failed > 0 ? .error : .body),
                    Span(" · superseded \(format.grouped(counts.superseded)) · conflicts \(format.grouped(counts.conflicts))"
                        + (counts.withheld > 0 ? " · withheld \(format.grouped(counts.withheld))" : "")),
                ]))
        if job.kind == .reconcile {
            lines.append(
                field(
                    "reconciled",
                    [
                        Span("checked \(format.grouped(counts.checked)) · changed \(format.grouped(counts.changed)) · "),
                        Span("missing \(format.grouped(counts.missing))", counts.missing > 0 ? .warning : .body),
                        Span(counts.missing > 0 ? " (held as deletion candidates: DELETION_CANDIDATE in Failures)" : "", .muted),
                    ]))
        }
        var api = "\(format.grouped(job.apiCalls)) calls"
        if let usage = job.apiUsage { api += " · usage \(format.grouped(usage.used))/\(format.grouped(usage.limit)) (\(Int((usage.share * 100).rounded()))%)" }
        lines.append(field("API", api))
        lines.append(
            field("watermark", "\(job.watermarkBefore.map(format.dateTime) ?? "none (a first load)") → \(job.watermarkAfter.map(format.dateTime) ?? "not advanced")"))
        lines.append(field("rows", stagedRows.map { "\(format.grouped($0)) staged by this job (enter lists them)" } ?? "the rows it tried (enter lists them)"))
        lines.append(ScrollText.Line(StyledLine()))
        lines.append(ScrollText.Line(StyledLine("Events", .section)))
        if events.isEmpty { lines.append(ScrollText.Line(StyledLine("none kept for this job", .muted))) }
        for event in events.reversed() {
            lines.append(
                ScrollText.Line([
                    Span(format.stamp(event.at) + "  ", .muted), Span(event.level.symbol + " ", event.level.role),
                    Span(event.message, event.level == .info ? .body : event.level.role),
                ]))
        }
        return lines
    }
}

/// A job that is not in the store.
enum JobDetailError: Error, CustomStringConvertible {
    case noSuchJob(Int64)

    var description: String {
        switch self {
        case .noSuchJob(let id): "no job has id \(id)"
        }
    }
}
