import Foundation
import StagelinkEngine

/// Every event the store keeps, newest first: cycles, failures, conflicts found and held, and what
/// operators did (retry, ignore, un-ignore, push, policy change, resolve). It scrolls, `/` filters
/// it by any text of the line (`warning`, `alice`, `job 58`, `conflict`), and Enter opens what an
/// event names: the row it names, or else its job's rows.
///
/// Opened from Live with `e`, or with `:events`.
@MainActor
final class EventsView: ConsoleView {
    let crumb = "events"
    let tab: ConsoleTab? = .live
    private(set) var list = LocalList<SyncEvent>(capacity: 10) { event in "\(event.at.timeIntervalSince1970) \(event.jobID ?? 0) \(event.message)" }
    private var filterText = ""
    /// As many events as the store keeps.
    static let limit = 5_000

    static let columns = [
        TableColumn("TIME", width: 11, priority: 90),
        TableColumn("", width: 1, priority: 100),
        TableColumn("JOB", width: 5, alignment: .right, priority: 70),
        TableColumn("EVENT", width: 20, flexible: true, priority: 95),
    ]

    func load(in body: Rect, context: any ConsoleContext) async throws {
        try await resize(to: body, context: context)
        try await refresh(context: context)
    }

    func refresh(context: any ConsoleContext) async throws {
        list.set(try await context.store.recentEvents(limit: Self.limit))
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        list.capacity = RowsView.capacity(for: body)
    }

    var filtering: Filtering? {
        Filtering(text: filterText, placeholder: "warning  alice  conflict  job 58  ignored …") { [weak self] text, context in
            guard let self else { return }
            self.filterText = text.trimmingCharacters(in: .whitespaces)
            let format = context.format
            self.list.filter(containing: self.filterText) { event in Self.searchable(event, format: format) }
        }
    }

    /// The text `/` looks through: the time, the level, the job and the message.
    static func searchable(_ event: SyncEvent, format: TextFormat) -> String {
        "\(format.stamp(event.at)) \(event.level.rawValue) \(event.jobID.map { "job \($0)" } ?? "") \(event.message)"
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        KeyBinding.movement { [weak self] in self?.list } + [
            KeyBinding([.enter], "open its row or job", hint: .primary) { [weak self] _ in
                guard let event = self?.list.selected else { return }
                await Self.open(event, context: context)
            }
        ]
    }

    /// The row an event names (`row 4211`), or else its job's rows.
    static func open(_ event: SyncEvent, context: any ConsoleContext) async {
        if let row = rowNamed(in: event.message) { return await context.openRow(row) }
        guard let job = event.jobID else { return context.flash("this event names no row and no job", .info) }
        await context.openJob(job)
    }

    /// The first `row N` or `rows (N, …)` of a message.
    static func rowNamed(in message: String) -> Int64? {
        guard let match = message.firstMatch(of: /\brows? \(?(\d+)/) else { return nil }
        return Int64(match.1)
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let format = context.format
        let title = StyledLine.viewTitle("Events", filter: filterText, count: format.grouped(list.visible.count))
        let inner = Frame(title: title, note: StyledLine("newest first", .muted)).draw(into: &screen, area: body)
        var table = Table(
            columns: Self.columns,
            rows: list.window.map { event in
                [
                    Span(format.stamp(event.at), .muted), Span(event.level.symbol, event.level.role), Span(event.jobID.map(String.init) ?? "", .muted),
                    Span(event.message, event.level == .info ? .body : event.level.role),
                ]
            })
        table.selected = list.visible.isEmpty ? nil : list.windowSelection
        table.emptyMessage = filterText.isEmpty ? "no events yet: they appear while the service runs and operators act" : "no events match \(filterText)"
        table.draw(into: &screen, area: inner)
    }
}
