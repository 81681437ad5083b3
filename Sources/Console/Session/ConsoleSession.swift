import Foundation
import StagelinkEngine

/// The console without its terminal: keys in, a screen model out.
///
/// It holds the navigation stack (the crumbs), the overlay being answered, the status line, the
/// header's data and the running action; it polls the store's change token and refreshes only
/// what is on screen. Every screen update goes through it, on the main actor.
@MainActor
final class ConsoleSession: ConsoleContext {
    let store: any ConsoleStore
    let actions: any ConsoleActions
    let configuration: ConsoleConfiguration
    var mapping: MappingDocument? { configuration.mapping }
    var operatorName: String { configuration.operatorName }
    var health: ServiceHealth? { overview.health }
    var format: TextFormat { TextFormat(timeZone: configuration.timeZone, now: configuration.clock()) }

    private(set) var theme: Theme
    private(set) var width: Int
    private(set) var height: Int
    private var layout: ConsoleLayout { ConsoleLayout(width: width, height: height) }

    /// The six views, made when first shown and kept, so that each keeps its place.
    private var roots: [ConsoleTab: any ConsoleView] = [:]
    /// The root view and what was opened on top of it.
    private(set) var stack: [any ConsoleView] = []
    private(set) var overlay: Overlay?
    private var status: Flash?
    private var activity: Activity?
    let history: JobHistory
    private var overview = ServiceOverview()
    /// The counts on the tabs and the header's flags, read in the background.
    private var attention = AttentionCounts()
    private var lastToken: Int?
    private var lastPoll: Date?
    private var lastSecond = 0
    private var commandHistory: [String] = []
    private let work = BackgroundWork()
    /// Views not on screen when the store changed: refreshed when shown again.
    private var stale = Set<ObjectIdentifier>()
    /// Set when the person quits.
    private(set) var exitRequested = false
    /// What the terminal around the console is to do next (the clipboard, the pager).
    private(set) var handoffs: [TerminalHandoff] = []
    /// Called whenever the screen should be drawn again.
    var changed: (@MainActor () -> Void)?

    struct Flash {
        var message: String
        var level: StatusLine.Level
        /// Outcomes of actions stay until the next one; hints go after a few seconds.
        var expires: Date?
    }

    struct Activity {
        var progress: String
        var started: Date
        var frame = 0
    }

    init(store: any ConsoleStore, actions: any ConsoleActions, configuration: ConsoleConfiguration, theme: Theme, width: Int, height: Int) {
        self.store = store
        self.actions = actions
        self.configuration = configuration
        self.theme = theme
        self.width = width
        self.height = height
        history = JobHistory(span: configuration.sparklineSpan.seconds)
    }

    var current: (any ConsoleView)? { stack.last }

    /// Reads the header's data and shows the first view.
    func start() async {
        work.failed = { [weak self] key, error in self?.flash("\(key) failed: \(error)", .failure) }
        work.finished = { [weak self] in self?.changed?() }
        do {
            lastToken = try await store.changeToken()
            lastPoll = format.now
            overview = try await ServiceOverview.load(store: store, thresholds: configuration.healthThresholds, now: format.now)
            try await history.load(store: store, now: format.now)
        } catch {
            flash("cannot read the store: \(error)", .failure, sticky: true)
        }
        countAttention()
        await show(configuration.initialTab)
    }

    /// Waits for background work (counts, refreshes, the running action) to finish.
    func settle() async {
        await work.settle()
    }

    /// Waits for everything that changes what the screen shows but the counts in titles, which
    /// on a million rows with free text take longest and arrive last.
    func settleExceptCounts() async {
        await work.settle { !$0.hasPrefix(Self.countKeyPrefix) }
    }

    /// Background work that counts rows is keyed with this prefix.
    static let countKeyPrefix = "count"


    // MARK: - Views

    func show(_ tab: ConsoleTab) async {
        if let view = roots[tab] {
            stack = [view]
            refreshIfStale(view)
            return
        }
        let view = makeRoot(tab)
        guard await load(view) else { return }
        roots[tab] = view
        stack = [view]
    }

    private func makeRoot(_ tab: ConsoleTab) -> any ConsoleView {
        switch tab {
        case .live: LiveView(history: history)
        case .staged: RowsView(title: "Staged", crumb: "staged", tab: .staged, source: .filter(.all))
        case .failures: FailuresView()
        case .policy: PolicyView()
        case .jobs: JobsView()
        case .conflicts: ConflictsView()
        }
    }

    private func load(_ view: any ConsoleView) async -> Bool {
        do {
            try await view.load(in: layout.body, context: self)
            return true
        } catch {
            flash("\(error)", .failure)
            return false
        }
    }

    func open(_ view: any ConsoleView) async {
        guard await load(view) else { return }
        stack.append(view)
    }

    func openRow(_ id: Int64) async {
        await open(DetailView(rowID: id, tab: current?.tab))
    }

    func openJob(_ id: Int64) async {
        await open(JobDetailView(jobID: id))
    }

    /// The Events view, on top of Live.
    func openEvents() async {
        await show(.live)
        await open(EventsView())
    }

    private func back() {
        guard stack.count > 1 else { return }
        stack.removeLast()
        if let view = current { refreshIfStale(view) }
    }

    private func refreshIfStale(_ view: any ConsoleView) {
        guard stale.remove(ObjectIdentifier(view)) != nil else { return }
        background("refresh \(view.crumb)") { [weak self] in
            guard let self else { return }
            try await view.refresh(context: self)
        }
    }

    // MARK: - Size

    func resize(width: Int, height: Int) async {
        self.width = width
        self.height = height
        guard layout.fits else { return }
        var views: [any ConsoleView] = Array(roots.values)
        for view in stack where !views.contains(where: { $0 === view }) { views.append(view) }
        for view in views {
            do { try await view.resize(to: layout.body, context: self) } catch { flash("\(error)", .failure) }
        }
    }

    // MARK: - Keys

    func handle(_ key: Key) async {
        defer { changed?() }
        guard layout.fits else {
            if key == .character("q") || key == .character("Q") { exitRequested = true }
            return
        }
        if overlay != nil {
            await handleOverlay(key)
            return
        }
        guard let view = current else { return }
        let bindings = view.bindings(context: self) + globalBindings(for: view)
        guard let binding = bindings.first(where: { $0.keys.contains(key) }) else { return }
        if let kind = binding.action, !allows(kind) { return }
        do {
            try await binding.run(key)
        } catch {
            flash("\(error)", .failure)
        }
    }

    private func globalBindings(for view: any ConsoleView) -> [KeyBinding] {
        var bindings = [
            KeyBinding(ConsoleTab.allCases.map { .character(Character(String($0.rawValue))) }, "views", group: .global, hint: .secondary, keyLabel: "1-6") {
                [weak self] key in
                if case .character(let digit) = key, let number = digit.wholeNumberValue, let tab = ConsoleTab(rawValue: number) { await self?.show(tab) }
            },
            KeyBinding([.tab], "next view", group: .global) { [weak self] _ in await self?.show((view.tab ?? .live).next) },
            KeyBinding([.backTab], "previous view", group: .global) { [weak self] _ in await self?.show((view.tab ?? .live).previous) },
            KeyBinding([.escape], "back", group: .global, hint: stack.count > 1 ? .global : nil) { [weak self] _ in await self?.escape() },
        ]
        if let filtering = view.filtering {
            bindings.append(KeyBinding([.character("/")], "filter", group: .global, hint: .global) { [weak self] _ in self?.startFilter(filtering) })
        }
        bindings += [
            KeyBinding([.character(":")], "command", group: .global, hint: .global) { [weak self] _ in self?.startCommand() },
            KeyBinding([.character("?")], "help", group: .global, hint: .global) { [weak self] _ in await self?.openHelp() },
            KeyBinding([.character("s")], "sync now", group: .action, action: .sync) { [weak self] _ in
                guard let self else { return }
                self.perform(.syncNow, progress: "starting a sync cycle as \(self.operatorName)")
            },
            KeyBinding([.character("p")], "push by Salesforce id", group: .action, action: .push) { [weak self] _ in
                guard let self else { return }
                RowActions.push(nil, context: self)
            },
            KeyBinding([.control("r")], "reload from the store", group: .global) { [weak self] _ in self?.refreshAll() },
            // q backs out of what was opened and quits only from a view's top; Q quits from anywhere.
            KeyBinding([.character("q")], stack.count > 1 ? "back" : "quit", group: .global, hint: .global) { [weak self] _ in
                guard let self else { return }
                if self.stack.count > 1 { self.back() } else { self.quit() }
            },
            KeyBinding([.character("Q")], "quit from anywhere", group: .global) { [weak self] _ in self?.quit() },
        ]
        return bindings
    }

    /// Esc: unmarks, then clears a root view's filter, then goes back along the crumbs.
    private func escape() async {
        guard let view = current else { return }
        if let rows = view as? RowsView, let list = rows.rows, !list.marks.isEmpty {
            list.clearMarks()
        } else if let conflicts = view as? ConflictsView, !conflicts.marks.isEmpty {
            conflicts.clearMarks()
        } else if stack.count > 1 {
            back()
        } else if let filtering = view.filtering, !filtering.text.isEmpty {
            do { try await filtering.apply("", self) } catch { flash("\(error)", .failure) }
        }
    }

    private func quit() {
        guard let activity else {
            exitRequested = true
            return
        }
        confirm("Quit", [StyledLine("\(activity.progress) is still running."), StyledLine("Quit anyway? It stops where it is.", .warning)]) {
            [weak self] in
            self?.exitRequested = true
        }
    }

    private func openHelp() async {
        guard let view = current, !(view is HelpView) else { return }
        let own = view.bindings(context: self)
        // A global key the view binds itself does what the view says: list it once.
        let shadowed = Set(own.flatMap(\.keys))
        let bindings = own + globalBindings(for: view).filter { !$0.keys.allSatisfy(shadowed.contains) }
        await open(HelpView(for: view.crumb, tab: view.tab, bindings: bindings, readOnly: configuration.readOnly))
    }

    // MARK: - Overlays

    private func handleOverlay(_ key: Key) async {
        switch overlay {
        case .prompt(var state):
            switch key {
            case .enter:
                let text = state.editor.text
                if state.purpose == .text && text.trimmingCharacters(in: .whitespaces).isEmpty {
                    state.placeholder = "required: " + state.placeholder.replacingOccurrences(of: "required: ", with: "")
                    overlay = .prompt(state)
                    return
                }
                overlay = nil
                if state.purpose == .command && !text.isEmpty { commandHistory.append(text) }
                await state.submit(text)
            case .escape:
                overlay = nil
                await state.cancelled?()
            case .tab where state.purpose == .command:
                if let completion = ConsoleCommands.completion(of: state.editor.text) { state.editor.replace(with: completion) }
                overlay = .prompt(state)
            default:
                guard state.editor.handle(key) == .edited else { return }
                overlay = .prompt(state)
                state.edited?(state.editor.text)
            }
        case .confirm(let state):
            switch key {
            case .character("y"), .character("Y"), .enter:
                overlay = nil
                await state.yes()
            case .character("n"), .character("N"), .escape, .character("q"):
                overlay = nil
                flash("cancelled", .info)
            default:
                break
            }
        case .choice(var state):
            switch key {
            case .down, .character("j"): state.selected = min(state.choices.count - 1, state.selected + 1)
            case .up, .character("k"): state.selected = max(0, state.selected - 1)
            case .character(let digit) where digit.wholeNumberValue.map { (1...state.choices.count).contains($0) } ?? false:
                state.selected = (digit.wholeNumberValue ?? 1) - 1
            case .enter:
                overlay = nil
                await state.chosen(state.selected)
                return
            case .escape:
                overlay = nil
                return
            default:
                return
            }
            overlay = .choice(state)
        case nil:
            break
        }
    }

    /// Counts the filter's edits, so that a preview typed before Enter or Esc never lands after it.
    private var filterEdits = 0

    /// `/`: the filter applies in the background as it is typed (typing never waits for a query);
    /// Enter keeps it and Esc puts the old one back, at once, before the next key.
    private func startFilter(_ filtering: Filtering) {
        let original = filtering.text
        let preview: @MainActor (String) -> Void = { [weak self] text in
            guard let self else { return }
            self.filterEdits += 1
            let edit = self.filterEdits
            self.background("filter") { [weak self] in
                guard let self, edit == self.filterEdits else { return }
                try await filtering.apply(text, self)
            }
        }
        let settle: @MainActor (String) async -> Void = { [weak self] text in
            guard let self else { return }
            self.filterEdits += 1
            do { try await filtering.apply(text, self) } catch { self.flash("\(error)", .failure) }
        }
        let starting = original.isEmpty ? "" : original + " "
        overlay = .prompt(
            PromptState(
                purpose: .filter, label: "/", editor: LineEditor(text: starting), placeholder: filtering.placeholder, submit: { await settle($0) },
                edited: preview, cancelled: { await settle(original) }))
    }

    private func startCommand() {
        overlay = .prompt(
            PromptState(
                purpose: .command, label: ":", editor: LineEditor(history: commandHistory), placeholder: "failures, jobs, row 123, theme light, help …",
                submit: { [weak self] text in await self?.run(command: text) }))
    }

    // MARK: - Commands

    func run(command text: String) async {
        switch ConsoleCommands.parse(text) {
        case .view(let tab): await show(tab)
        case .failures(let code):
            await show(.failures)
            await open(RowsView(title: "Failures", crumb: code, tab: .failures, source: .filter(RowFilter(statuses: [.failed], errorCode: code))))
        case .row(let id): await openRow(id)
        case .job(let id): await openJob(id)
        case .events: await openEvents()
        case .theme(let name?):
            do {
                theme = try configuration.loadTheme(named: name)
                flash("theme \(theme.name)" + (configuration.usesColour ? "" : " (attributes only: NO_COLOR is set)"), .success)
            } catch {
                flash("\(error)", .failure, sticky: true)
            }
        case .theme(nil):
            let names = configuration.themes.names
            flash("theme \(theme.name); available: \(names.isEmpty ? "none found" : names.joined(separator: ", ")) (:theme NAME)", .info, sticky: true)
        case .push(let id):
            guard allows(.push) else { return }
            perform(.push(.salesforceID(id)), progress: "pushing Salesforce \(id) to the EMR as \(operatorName)")
        case .sync:
            guard allows(.sync) else { return }
            perform(.syncNow, progress: "starting a sync cycle as \(operatorName)")
        case .retry(let code):
            guard allows(.retry) else { return }
            do {
                RowActions.confirmRetry(code: code, count: try await store.countRows(RowFilter(statuses: [.failed], errorCode: code)), context: self)
            } catch {
                flash("\(error)", .failure)
            }
        case .help: await openHelp()
        case .quit: quit()
        case .unknown(let word): flash("unknown command \"\(word)\": try :help", .warning)
        case .empty: break
        }
    }

    // MARK: - Context

    /// Why an action of this kind cannot run now, or nil.
    func refusal(of kind: ConsoleAction.Kind) -> String? {
        if configuration.readOnly { return "read-only console (--read-only): \(kind.rawValue) is disabled" }
        if let reason = actions.unavailability(of: kind) { return "\(kind.rawValue) is not available here: \(reason)" }
        if let activity { return "wait: \(activity.progress) is still running" }
        return nil
    }

    func allows(_ kind: ConsoleAction.Kind) -> Bool {
        guard let reason = refusal(of: kind) else { return true }
        flash(reason, .warning, sticky: true)
        return false
    }

    func perform(_ action: ConsoleAction, progress: String) {
        guard allows(action.kind) else { return }
        activity = Activity(progress: progress, started: format.now)
        status = nil
        work.run("action") { [weak self] in
            guard let self else { return }
            do {
                let outcome = try await self.actions.perform(action, by: self.operatorName)
                self.activity = nil
                self.finish(outcome)
            } catch {
                self.activity = nil
                self.flash("\(action.kind.rawValue) did not run: \(error)", .failure, sticky: true)
            }
            await self.poll()
        }
    }

    private func finish(_ outcome: ActionOutcome) {
        var message = outcome.summary
        if !outcome.emrIDs.isEmpty && !message.contains(outcome.emrIDs[0]) { message += " → EMR " + outcome.emrIDs.joined(separator: ", ") }
        let level: StatusLine.Level =
            switch outcome.severity {
            case .success: .success
            case .partial: .warning
            case .failure: .failure
            }
        flash(message, level, sticky: true)
        for view in stack { view.actionFinished(outcome) }
    }

    func ask(_ label: String, placeholder: String, submit: @escaping @MainActor (String) async -> Void) {
        overlay = .prompt(PromptState(purpose: .text, label: label, editor: LineEditor(), placeholder: placeholder, submit: submit))
    }

    func confirm(_ title: String, _ lines: [StyledLine], yes: @escaping @MainActor () async -> Void) {
        overlay = .confirm(ConfirmState(title: title, lines: lines, yes: yes))
    }

    func choose(_ title: String, _ choices: [StyledLine], selected: Int, chosen: @escaping @MainActor (Int) async -> Void) {
        overlay = .choice(ChoiceState(title: title, choices: choices, selected: selected, chosen: chosen))
    }

    func flash(_ message: String, _ level: StatusLine.Level) {
        flash(message, level, sticky: false)
    }

    private func flash(_ message: String, _ level: StatusLine.Level, sticky: Bool) {
        status = Flash(message: message, level: level, expires: sticky ? nil : format.now.addingTimeInterval(5))
        changed?()
    }

    func copy(_ text: String, describing what: String) {
        let files = HandoffFiles(configuration)
        handoffs.append(.clipboard(of: text))
        do {
            try files.write(text, to: files.copiedPath)
            flash("copied \(what) to the clipboard (OSC 52) and to \(files.copiedPath)", .success)
        } catch {
            flash("copied \(what) to the clipboard (OSC 52); \(error)", .warning)
        }
    }

    func page(_ text: String, row: Int64) {
        let files = HandoffFiles(configuration)
        let path = files.pagerPath(row: row)
        do {
            try files.write(HandoffFiles.pageable(text), to: path)
            handoffs.append(.pager(path: path))
        } catch {
            flash("cannot open the pager: \(error)", .failure)
        }
    }

    /// The handoffs waiting, which the caller now carries out.
    func takeHandoffs() -> [TerminalHandoff] {
        defer { handoffs.removeAll() }
        return handoffs
    }

    func background(_ key: String, _ work: @escaping @MainActor () async throws -> Void) {
        self.work.run(key, work)
    }

    // MARK: - Time passing

    /// Called a few times a second: the spinner turns, hints expire, the store is polled.
    func tick() async {
        let now = format.now
        if activity != nil {
            activity?.frame += 1
            changed?()
        }
        if let expires = status?.expires, now >= expires {
            status = nil
            changed?()
        }
        if lastPoll.map({ now.timeIntervalSince($0) >= configuration.refreshInterval.seconds }) ?? true { await poll() }
        // Relative times ("2m ago") move on even when the store does not.
        let second = Int(now.timeIntervalSince1970)
        if second != lastSecond {
            lastSecond = second
            changed?()
        }
    }

    /// Reads the change token; when another connection committed, refreshes what is on screen.
    func poll() async {
        lastPoll = format.now
        do {
            let token = try await store.changeToken()
            guard token != lastToken else { return }
            lastToken = token
            refreshAll()
        } catch {
            flash("cannot read the store: \(error)", .failure)
        }
    }

    /// Refreshes the header and the view on screen; marks the others to refresh when shown.
    private func refreshAll() {
        var views: [any ConsoleView] = Array(roots.values)
        for view in stack where !views.contains(where: { $0 === view }) { views.append(view) }
        for view in views where view !== current { stale.insert(ObjectIdentifier(view)) }
        background("refresh") { [weak self] in
            guard let self else { return }
            self.overview = try await ServiceOverview.load(store: self.store, thresholds: self.configuration.healthThresholds, now: self.format.now)
            try await self.history.refresh(store: self.store, now: self.format.now)
            try await self.current?.refresh(context: self)
        }
        countAttention()
    }

    /// Reads the counts on the tabs in the background (keyed as a count: a first paint never
    /// waits for it).
    private func countAttention() {
        background(Self.countKeyPrefix + " attention") { [weak self] in
            guard let self else { return }
            self.attention = try await AttentionCounts.load(store: self.store)
        }
    }

    // MARK: - Drawing

    func render() -> Screen {
        var screen = Screen(width: width, height: height)
        guard layout.fits else {
            ConsoleLayout.drawTooSmall(into: &screen)
            return screen
        }
        let layout = self.layout
        let format = self.format
        HeaderView(
            storePath: configuration.storePath, endpoints: configuration.endpoints, overview: overview, history: history,
            schedule: configuration.healthThresholds.every)
            .draw(into: &screen, area: layout.header, format: format)
        var trailing = attention.flag(format: format)
        trailing.append(operatorName, .header)
        if configuration.readOnly { trailing.append("  read-only", .warning) }
        TabBar(tabs: ConsoleTab.allCases.map { attention.tabTitle($0, format: format) }, current: current?.tab.map { $0.rawValue - 1 }, trailing: trailing)
            .draw(into: &screen, area: layout.tabs)
        current?.draw(into: &screen, body: layout.body, context: self)
        Crumbs(path: stack.map(\.crumb)).draw(into: &screen, area: layout.crumbs)
        drawStatus(into: &screen, area: layout.status, format: format)
        let hints = self.hints
        HintBar(hints: hints.filter { !Self.pinnedHintKeys.contains($0.key) }, pinned: hints.filter { Self.pinnedHintKeys.contains($0.key) })
            .draw(into: &screen, area: layout.hints)
        switch overlay {
        case .confirm(let state):
            Dialog(title: state.title, lines: state.lines, footer: [Span("y", .hintKey), Span(" yes   ", .dialog), Span("n", .hintKey), Span(" no", .dialog)])
                .draw(into: &screen, area: layout.body)
        case .choice(let state):
            Dialog(
                title: state.title, lines: [], choices: state.choices, selected: state.selected,
                footer: [Span("↑↓", .hintKey), Span(" choose   ", .dialog), Span("enter", .hintKey), Span(" pick   ", .dialog), Span("esc", .hintKey), Span(" cancel", .dialog)]
            ).draw(into: &screen, area: layout.body)
        case .prompt, nil:
            break
        }
        return screen
    }

    private func drawStatus(into screen: inout Screen, area: Rect, format: TextFormat) {
        if case .prompt(let state) = overlay {
            let suggestion =
                state.editor.text.isEmpty
                ? state.placeholder
                : (state.purpose == .command ? ConsoleCommands.completion(of: state.editor.text).map { String($0.dropFirst(state.editor.text.count)) } : nil)
            Prompt(label: state.label, editor: state.editor, suggestion: suggestion).draw(into: &screen, area: area)
        } else if let activity {
            var progress = "\(activity.progress) · \(format.duration(format.now.timeIntervalSince(activity.started)))"
            if let job = history.jobs.first(where: { $0.status == .running && $0.actor == .operator(operatorName) && $0.startedAt >= activity.started.addingTimeInterval(-1) }) {
                progress += " · job \(job.id) \(job.progress.phase)"
                if job.progress.done > 0 { progress += " \(format.grouped(job.progress.done))" + (job.progress.total.map { "/\(format.grouped($0))" } ?? "") }
            }
            StatusLine(message: progress, spinnerFrame: activity.frame).draw(into: &screen, area: area)
        } else {
            StatusLine(message: status?.message, level: status?.level ?? .info).draw(into: &screen, area: area)
        }
    }

    /// Help and quit always show, at the right of the footer.
    private static let pinnedHintKeys: Set<String> = ["?", "q"]

    private var hints: [HintBar.Hint] {
        switch overlay {
        case .prompt(let state):
            var hints = [HintBar.Hint(key: "enter", label: "accept"), HintBar.Hint(key: "esc", label: "cancel")]
            if state.purpose == .command { hints += [HintBar.Hint(key: "tab", label: "complete"), HintBar.Hint(key: "↑↓", label: "history")] }
            return hints
        case .confirm:
            return [HintBar.Hint(key: "y", label: "yes"), HintBar.Hint(key: "n", label: "no")]
        case .choice:
            return [HintBar.Hint(key: "↑↓", label: "choose"), HintBar.Hint(key: "enter", label: "pick"), HintBar.Hint(key: "esc", label: "cancel")]
        case nil:
            guard let view = current else { return [] }
            let shown = (view.bindings(context: self) + globalBindings(for: view)).filter { binding in
                binding.hint != nil && (binding.action.map { configuration.readOnly == false && actions.unavailability(of: $0) == nil } ?? true)
            }
            // A stable sort: within a rank, the order the view declared.
            let ranked = shown.enumerated().sorted { ($0.element.hint!, $0.offset) < ($1.element.hint!, $1.offset) }.map(\.element)
            return ranked.map { HintBar.Hint(key: $0.keyText, label: $0.label, isAction: $0.action != nil) }
        }
    }
}
