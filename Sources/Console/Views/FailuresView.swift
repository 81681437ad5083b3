import StagelinkEngine

/// Failed rows grouped by error code: what is going wrong, at a glance. Groups to fix by hand come
/// first, then rows waiting on their parent (`⏳ parent`, they link once the parent links), then
/// what the service retries by itself (`↻ auto`); the largest group first within each.
///
/// Enter opens a group's rows; `R` retries a whole group after saying how many rows it is.
/// Transient codes (row locks, timeouts, 5xx) are marked: the service retries those itself.
@MainActor
final class FailuresView: ConsoleView {
    let crumb = "failures"
    let tab: ConsoleTab? = .failures
    private let list = LocalList<FailureGroup>(capacity: 1) { $0.errorCode }
    private var filterText = ""

    static let columns = [
        TableColumn("ERROR CODE", width: 28, priority: 100),
        TableColumn("ROWS", width: 8, alignment: .right, priority: 90),
        TableColumn("OBJECTS", width: 16, priority: 50),
        TableColumn("RETRIED", width: 9, priority: 40),
        TableColumn("EXAMPLE MESSAGE", width: 16, flexible: true, priority: 80),
    ]

    var groups: LocalList<FailureGroup> { list }

    func load(in body: Rect, context: any ConsoleContext) async throws {
        list.capacity = RowsView.capacity(for: body)
        try await refresh(context: context)
    }

    func refresh(context: any ConsoleContext) async throws {
        // What a person must fix first, then what waits on a parent, then what the service retries.
        let groups = try await context.store.failureGroups()
        list.set(Kind.allCases.flatMap { kind in groups.filter { Kind(of: $0) == kind } })
    }

    /// Who does something about a group of failures.
    enum Kind: CaseIterable {
        case byHand, waitingOnParent, retriedByItself

        init(of group: FailureGroup) {
            let error = LinkError(code: group.errorCode, message: "")
            self = error.isWaitingOnParent ? .waitingOnParent : (error.isTransient ? .retriedByItself : .byHand)
        }

        var cell: Span {
            switch self {
            case .byHand: Span("by hand", .muted)
            case .waitingOnParent: Span("⏳ parent", .pending)
            case .retriedByItself: Span("↻ auto", .pending)
            }
        }
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        list.capacity = RowsView.capacity(for: body)
    }

    var filtering: Filtering? {
        Filtering(text: filterText, placeholder: "text in the code, message or objects") { [weak self] text, _ in
            guard let self else { return }
            self.filterText = text
            self.list.filter(containing: text) { group in "\(group.errorCode) \(group.sampleMessage) \(group.resourceTypes.joined(separator: " "))" }
        }
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        KeyBinding.movement { [weak self] in self?.list } + [
            KeyBinding([.enter], "rows", hint: .primary) { [weak self] _ in
                guard let group = self?.list.selected else { return }
                await context.open(
                    RowsView(title: "Failures", crumb: group.errorCode, tab: .failures, source: .filter(RowFilter(statuses: [.failed], errorCode: group.errorCode))))
            },
            KeyBinding([.character("R")], "retry group", group: .action, hint: .primary, action: .retry) { [weak self] _ in
                guard let group = self?.list.selected else { return }
                RowActions.confirmRetry(code: group.errorCode, count: group.count, context: context)
            },
        ]
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let format = context.format
        let total = list.all.reduce(0) { $0 + $1.count }
        let title = StyledLine.viewTitle("Failures", filter: filterText, count: "\(format.grouped(total)) rows · \(list.all.count) codes")
        let inner = Frame(title: title).draw(into: &screen, area: body)
        var table = Table(
            columns: Self.columns,
            rows: list.window.map { group in
                [
                    Span("✗ " + group.errorCode, .error), Span(format.grouped(group.count)), Span(group.resourceTypes.joined(separator: ", "), .muted),
                    Kind(of: group).cell,
                    Span(group.sampleMessage),
                ]
            })
        table.selected = list.visible.isEmpty ? nil : list.windowSelection
        table.emptyMessage = filterText.isEmpty ? "no failed rows" : "no error codes match \(filterText)"
        table.draw(into: &screen, area: inner)
    }
}
