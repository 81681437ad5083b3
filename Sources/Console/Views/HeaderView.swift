import Foundation
import StagelinkEngine

/// The three header lines: the store and the two endpoints; the service and who holds its lease;
/// each direction's last cycle and the other system's API usage.
@MainActor
struct HeaderView {
    var storePath: String
    var endpoints: ConsoleConfiguration.Endpoints
    var overview: ServiceOverview
    var history: JobHistory
    /// How long the service waits between cycles (`schedule.every`): the header counts down to the next.
    var schedule: Duration?

    nonisolated static let height = 3

    func draw(into screen: inout Screen, area: Rect, format: TextFormat) {
        screen.fill(area, role: .body)
        let width = area.width - 2
        var endpointsLine = StyledLine()
        for (name, endpoint) in [("EMR", endpoints.emr), ("Salesforce", endpoints.salesforce)] {
            endpointsLine.append("  \(name) ", .muted)
            endpointsLine.append(endpoint ?? "not configured", endpoint == nil ? .inactive : .header)
        }
        let lead: StyledLine = [Span("Stagelink", .logo), Span("  store ", .muted)]
        // The endpoints matter more than the store's folders: the path gives way first.
        let path = Self.shortened(storePath, to: max(24, width - lead.width - endpointsLine.width))
        screen.write(lead + StyledLine(path, .header) + endpointsLine, x: area.x + 1, y: area.y, limit: width)
        screen.write(serviceLine(format: format), x: area.x + 1, y: area.y + 1, limit: width)
        screen.write(cyclesLine(format: format), x: area.x + 1, y: area.y + 2, limit: width)
    }

    /// A path in at most `room` columns: the home folder as `~`, then the middle left out
    /// (`/srv/stagelink/…/store.sqlite`), keeping the file name whole.
    static func shortened(_ path: String, to room: Int) -> String {
        var path = path
        if let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty, home != "/", path.hasPrefix(home + "/") {
            path = "~" + path.dropFirst(home.count)
        }
        guard DisplayWidth.of(path) > room else { return path }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let keep = room - DisplayWidth.of(name) - 2
        guard keep > 3 else { return "…" + String(path.suffix(max(1, room - 1))) }
        return String(path.prefix(keep)) + "…/" + name
    }

    private func serviceLine(format: TextFormat) -> StyledLine {
        var line = StyledLine("service ", .muted)
        switch overview.state(now: format.now) {
        case .running(let lease):
            line.append("● running", .ok)
            line.append("  \(lease.holder) since \(format.stamp(lease.since)) (\(format.ago(lease.since)))", .header)
            let busy = Job.Direction.allCases.filter { history.running($0) != nil }
            if !busy.isEmpty {
                line.append("  syncing \(busy.map(\.rawValue).joined(separator: " and "))", .muted)
            } else if let next = nextCycle(now: format.now) {
                let seconds = next.timeIntervalSince(format.now)
                line.append(seconds >= 1 ? "  idle · next cycle in \(format.duration(seconds))" : "  idle · next cycle due now", .muted)
            } else {
                line.append("  idle between cycles", .muted)
            }
        case .stale(let lease):
            line.append("◌ stopped", .warning)
            line.append("  the lease of \(lease.holder) ran out \(format.ago(lease.expiresAt)); actions run in this console", .muted)
        case .absent:
            line.append("○ not running", .inactive)
            line.append("  no service holds this store; actions run in this console", .muted)
        }
        if let health = overview.health {
            line.append("  health ", .muted)
            line.append("\(health.level.symbol) \(health.level)", health.level.role)
            // The worst reason about a direction first: what a person looks at next.
            if let reason = health.reasons.first(where: { $0.level == health.level && $0.direction != nil }) ?? health.reasons.first {
                line.append("  \(DisplayText.escaped(reason.message))", .muted)
            }
        }
        return line
    }

    /// When the running service starts its next cycle: its schedule after the last cycle ended
    /// (a cycle asked for with `s` or `stagelink sync` may come sooner). Nil before any cycle.
    func nextCycle(now: Date) -> Date? {
        guard let schedule, let end = history.lastCycleEnd else { return nil }
        let seconds = Double(schedule.components.seconds) + Double(schedule.components.attoseconds) / 1e18
        return end.addingTimeInterval(seconds)
    }

    private func cyclesLine(format: TextFormat) -> StyledLine {
        var line = StyledLine()
        for direction in Job.Direction.allCases {
            if !line.spans.isEmpty { line.append(" · ", .muted) }
            line.append("\(direction.rawValue) ", .muted)
            let steps = overview.health?.directions.first { $0.direction == direction }?.steps ?? []
            if let job = history.running(direction) {
                let percent = job.progress.total.flatMap { $0 > 0 ? " \(min(100, job.progress.done * 100 / $0))%" : nil } ?? ""
                line.append("▶ job \(job.id) \(job.progress.phase)\(percent)", .pending)
            } else if steps.contains(where: { $0.last != nil }) {
                // The pull and the link apart: a link with nothing to do after a failed pull
                // does not hide the pull's failure.
                for step in steps {
                    guard let job = step.last else { continue }
                    // Compact: the symbol alone says succeeded; any other status is also spelt out.
                    line.append("\(step.kind.rawValue) ", .muted)
                    line.append(job.status == .succeeded ? "\(job.status.symbol) " : "\(job.status.symbol) \(job.status.rawValue) ", job.status.role)
                }
                // How long ago alone: a stamp grows by the date once the cycle was yesterday (the
                // line then lost its API usage at the screen's edge after midnight); the Live view
                // gives the stamp.
                if let finished = steps.compactMap({ $0.last.map { $0.finishedAt ?? $0.startedAt } }).max() {
                    line.append(format.ago(finished), .muted)
                }
            } else {
                line.append("no cycle yet", .inactive)
            }
        }
        line.append(" · API ", .muted)
        if let usage = history.latestUsage {
            let percent = Int((usage.share * 100).rounded())
            line.append("\(format.grouped(usage.used))/\(format.grouped(usage.limit)) (\(percent)%)", percent >= 90 ? .error : (percent >= 75 ? .warning : .header))
        } else {
            line.append("—", .inactive)
        }
        return line
    }
}
