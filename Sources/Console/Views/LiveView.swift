import Foundation
import StagelinkEngine

/// The sync as it happens: the current cycle of each direction (phase, progress bar, records per
/// second, time left), sparklines of records and failures per cycle over the last hours, the
/// alerts firing now (`alerts:` in stagelink.yaml), and the service's latest events scrolling underneath.
@MainActor
final class LiveView: ConsoleView {
    let crumb = "live"
    let tab: ConsoleTab? = .live
    private let history: JobHistory
    private(set) var events: [SyncEvent] = []
    /// Alerts firing now, oldest first (empty when the store keeps none).
    private(set) var alerts: [Alert] = []
    private var eventCapacity = 10

    /// The most alert lines shown; more are summed up on the last one.
    static let alertLines = 4

    /// Panel height: the border and six lines.
    static let panelHeight = 8

    init(history: JobHistory) {
        self.history = history
    }

    func load(in body: Rect, context: any ConsoleContext) async throws {
        try await resize(to: body, context: context)
        try await refresh(context: context)
    }

    /// The job history is the session's (the header reads it too); the events are this view's.
    func refresh(context: any ConsoleContext) async throws {
        events = try await context.store.recentEvents(limit: eventCapacity)
        alerts = try await (context.store as? any AlertStore)?.firingAlerts() ?? []
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        eventCapacity = max(1, body.height - Self.panelHeight - 2)
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        [
            KeyBinding([.character("s")], "sync now", group: .action, hint: .primary, action: .sync) { _ in
                context.perform(.syncNow, progress: "starting a sync cycle as \(context.operatorName)")
            },
            KeyBinding([.character("p")], "push", group: .action, hint: .primary, action: .push) { _ in RowActions.push(nil, context: context) },
            KeyBinding([.character("e"), .enter], "all events", hint: .primary) { _ in await context.open(EventsView()) },
        ]
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let (panels, below) = body.splitTop(Self.panelHeight)
        let (left, right) = panels.splitLeft(panels.width / 2)
        drawCycle(.inbound, into: &screen, area: left, format: context.format)
        drawCycle(.outbound, into: &screen, area: right, format: context.format)
        var rest = below
        if !alerts.isEmpty {
            let (top, below) = rest.splitTop(min(alerts.count, Self.alertLines) + 2)
            drawAlerts(into: &screen, area: top, format: context.format)
            rest = below
        }
        let inner = Frame(title: StyledLine("Events", .title), note: StyledLine("newest last", .muted), isFocused: false).draw(into: &screen, area: rest)
        if events.isEmpty {
            screen.write("no events yet: they appear here while the service runs", x: inner.x + 1, y: inner.y, role: .muted, limit: inner.width - 2)
        }
        for (offset, event) in events.prefix(inner.height).reversed().enumerated() {
            let line: StyledLine = [
                Span(context.format.stamp(event.at) + "  ", .muted), Span(event.level.symbol + " ", event.level.role),
                Span(event.jobID.map { "job \($0)  " } ?? "", .muted), Span(event.message, event.level == .info ? .body : event.level.role),
            ]
            screen.write(line, x: inner.x + 1, y: inner.y + offset, limit: inner.width - 2)
        }
    }

    private func drawAlerts(into screen: inout Screen, area: Rect, format: TextFormat) {
        let title = StyledLine("Alerts firing", .error)
        let inner = Frame(title: title, note: StyledLine("stagelink alerts", .muted), isFocused: false).draw(into: &screen, area: area)
        let shown = alerts.count > Self.alertLines ? Array(alerts.prefix(Self.alertLines - 1)) : alerts
        for (offset, alert) in shown.enumerated() {
            let line: StyledLine = [
                Span("▲ \(alert.condition.severity.rawValue) ", alert.condition.severity == .critical ? .error : .warning),
                Span("\(alert.condition.rule) ", .title), Span("since \(format.ago(alert.firedAt))  ", .muted), Span(alert.condition.summary),
            ]
            screen.write(line, x: inner.x + 1, y: inner.y + offset, limit: inner.width - 2)
        }
        if shown.count < alerts.count {
            screen.write("… and \(alerts.count - shown.count) more (stagelink alerts)", x: inner.x + 1, y: inner.y + shown.count, role: .muted, limit: inner.width - 2)
        }
    }

    private func drawCycle(_ direction: Job.Direction, into screen: inout Screen, area: Rect, format: TextFormat) {
        let title: StyledLine = [Span(direction == .inbound ? "Inbound " : "Outbound ", .title), Span(direction.route, .muted)]
        let inner = Frame(title: title).draw(into: &screen, area: area)
        let width = inner.width - 2
        var lines: [StyledLine] = []
        if let job = history.running(direction) {
            lines.append([Span("▶ running", .pending), Span(" · job \(job.id) \(job.kind.rawValue) · started \(format.clock(job.startedAt))", .muted)])
            lines.append([Span("phase  ", .muted), Span(job.progress.phase.isEmpty ? "starting" : job.progress.phase)])
            lines += progressLines(job, width: width, format: format)
        } else if let job = history.jobs.first(where: { $0.direction == direction && $0.status != .running }) {
            lines.append([Span("○ idle", .inactive), Span(" · last cycle job \(job.id) ", .muted), job.status.cell])
            let finished = job.finishedAt ?? job.startedAt
            lines.append(StyledLine("finished \(format.stamp(finished)) (\(format.ago(finished))) · took \(format.duration(finished.timeIntervalSince(job.startedAt)))", .muted))
            lines.append([
                Span("linked ", .muted), Span(format.grouped(job.counts.linked), .ok), Span(" · failed ", .muted),
                Span(format.grouped(job.counts.failed), job.counts.failed > 0 ? .error : .muted), Span(" · staged ", .muted),
                Span(format.grouped(job.counts.staged)),
            ])
            lines.append(StyledLine())
        } else {
            lines.append(StyledLine("○ no cycle in the last \(format.duration(history.span))", .inactive))
            lines += [StyledLine(), StyledLine(), StyledLine()]
        }
        let series = history.series(direction)
        lines.append(sparkline("records ", series.records, starts: series.starts, role: .sparkline, width: width, format: format))
        lines.append(sparkline("failures", series.failures, starts: series.starts, role: .error, width: width, format: format))
        for (offset, line) in lines.prefix(inner.height).enumerated() {
            screen.write(line, x: inner.x + 1, y: inner.y + offset, limit: width)
        }
    }

    private func progressLines(_ job: Job, width: Int, format: TextFormat) -> [StyledLine] {
        let done = job.progress.done
        let elapsed = (job.progress.updatedAt ?? format.now).timeIntervalSince(job.startedAt)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let rateText = "\(format.grouped(Int(rate.rounded())))/s"
        guard let total = job.progress.total, total > 0 else {
            return [StyledLine("\(format.grouped(done)) done · \(rateText) · total not known yet", .muted), StyledLine()]
        }
        let fraction = Double(done) / Double(total)
        let percent = " \(Int((fraction * 100).rounded(.down)))%"
        let bar = ProgressBar.text(fraction: fraction, width: max(4, width - percent.count))
        let remaining = rate > 0 ? format.duration(Double(total - done) / rate) : "—"
        return [
            [Span(bar, .progress), Span(percent)],
            StyledLine("\(format.grouped(done))/\(format.grouped(total)) · \(rateText) · ETA \(remaining)", .muted),
        ]
    }

    /// `records  ▂▃█▅▂ since 09:15:03 · max 1,204`: the blocks, the time of the oldest cycle shown, and
    /// the largest value (`↑` when one cycle towers over the scale of the others).
    private func sparkline(_ label: String, _ values: [Int], starts: [Date], role: Role, width: Int, format: TextFormat) -> StyledLine {
        guard !values.isEmpty else { return [Span(label + " ", .muted), Span("no cycles yet", .muted)] }
        // Room for the blocks once the label, " since 09:15:03" and " · max 99,999↑" are written.
        let shown = Array(values.suffix(max(1, width - label.count - 30)))
        let maximum = shown.max() ?? 0
        let since = starts.suffix(shown.count).first.map { " since \(format.clock($0))" } ?? ""
        let suffix = "\(since) · max \(format.grouped(maximum))" + (Sparkline.scale(shown) < maximum ? "↑" : "")
        return [Span(label + " ", .muted), Span(Sparkline.text(shown, width: shown.count), role), Span(suffix, .muted)]
    }
}
