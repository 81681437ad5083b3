import StagelinkEngine

/// One screen of the console (Staged, a row's detail, help…): it holds its model, lays out its
/// widgets, and declares its keys.
///
/// A view never talks to the terminal: it draws into the screen model, and reads the store and
/// starts actions through its `ConsoleContext`.
@MainActor
protocol ConsoleView: AnyObject {
    /// Its breadcrumb: `staged`, `INVALID_FIELD`, `row 123`.
    var crumb: String { get }
    /// The numbered view it belongs to, highlighted in the tab bar.
    var tab: ConsoleTab? { get }
    /// Reads what it shows the first time, for a body of this size.
    func load(in body: Rect, context: any ConsoleContext) async throws
    /// Reads again after the store changed; runs in the background while keys are handled.
    func refresh(context: any ConsoleContext) async throws
    /// The body changed size (the terminal was resized).
    func resize(to body: Rect, context: any ConsoleContext) async throws
    func bindings(context: any ConsoleContext) -> [KeyBinding]
    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext)
    /// How `/` filters this view; nil when it does not.
    var filtering: Filtering? { get }
    /// An action ended: show its outcome in place (a retried row turns linked).
    func actionFinished(_ outcome: ActionOutcome)
}

extension ConsoleView {
    var filtering: Filtering? { nil }
    func actionFinished(_ outcome: ActionOutcome) {}
}

/// What `/` does on a view: the filter as text, how to apply a new one, and a line of help.
struct Filtering {
    var text: String
    /// Examples shown greyed in the empty prompt.
    var placeholder: String
    var apply: @MainActor (_ text: String, _ context: any ConsoleContext) async throws -> Void
}

/// What a view may ask of the console around it.
@MainActor
protocol ConsoleContext: AnyObject {
    var store: any ConsoleStore { get }
    var mapping: MappingDocument? { get }
    /// Numbers and times, with the current time.
    var format: TextFormat { get }
    var operatorName: String { get }
    /// The service's health as the header shows it; nil until first read.
    var health: ServiceHealth? { get }

    /// Opens a view on top of the current one (Esc comes back).
    func open(_ view: any ConsoleView) async
    /// Opens a row's detail.
    func openRow(_ id: Int64) async
    /// Opens a job: the rows it staged or tried.
    func openJob(_ id: Int64) async
    /// Whether actions of this kind can run; if not, says why in the status line.
    func allows(_ kind: ConsoleAction.Kind) -> Bool
    /// Runs an action in the background, with a spinner and `progress` in the status line.
    func perform(_ action: ConsoleAction, progress: String)
    /// Asks for a line of text (a reason, an id); `submit` runs on Enter, not on Esc.
    func ask(_ label: String, placeholder: String, submit: @escaping @MainActor (String) async -> Void)
    /// Asks yes or no; `yes` runs on y or Enter.
    func confirm(_ title: String, _ lines: [StyledLine], yes: @escaping @MainActor () async -> Void)
    /// Offers a list to pick from; `chosen` runs with the index picked.
    func choose(_ title: String, _ choices: [StyledLine], selected: Int, chosen: @escaping @MainActor (Int) async -> Void)
    func flash(_ message: String, _ level: StatusLine.Level)
    /// Puts text on the person's clipboard (OSC 52) and in a file beside the store, and says
    /// where: `what` names it (`the error of row 12`).
    func copy(_ text: String, describing what: String)
    /// Shows a row's text in the person's `$PAGER`, the console set aside until it exits.
    func page(_ text: String, row: Int64)
    /// Runs `work` in the background; a second request under the same key while it runs makes it
    /// run once more afterwards, never twice at once.
    func background(_ key: String, _ work: @escaping @MainActor () async throws -> Void)
}

extension ConsoleContext {
    /// Asks for the reason an audited action needs, then runs the action made with it, naming the
    /// operator in the progress line.
    func performWithReason(_ label: String, placeholder: String, progress: String, action: @escaping @MainActor (String) -> ConsoleAction) {
        ask(label, placeholder: placeholder) { [weak self] reason in
            guard let self else { return }
            self.perform(action(reason), progress: "\(progress) as \(self.operatorName)")
        }
    }
}
