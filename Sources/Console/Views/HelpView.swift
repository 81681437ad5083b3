/// Every key that works on the view help was opened from, by group, then the keys of a prompt,
/// the filter language and the `:` commands. Esc goes back.
@MainActor
final class HelpView: ConsoleView {
    let crumb = "help"
    let tab: ConsoleTab?
    private let lines: [ScrollText.Line]
    private let scroller = TextScroller()

    /// `bindings` are the keys of the view below and the global ones; `readOnly` notes that actions are off.
    init(for view: String, tab: ConsoleTab?, bindings: [KeyBinding], readOnly: Bool) {
        self.tab = tab
        var lines: [ScrollText.Line] = [.init(StyledLine("Keys on \(view)", .section))]
        if readOnly { lines.append(.init(StyledLine("This console is read-only (--read-only): every action is disabled.", .warning))) }
        for group in KeyBinding.Group.allCases {
            let members = bindings.filter { $0.group == group }
            guard !members.isEmpty else { continue }
            lines.append(.init(StyledLine()))
            lines.append(.init(StyledLine(group.rawValue, .section)))
            for binding in members { lines.append(Self.entry(binding.keyText, binding.label)) }
        }
        lines += Self.reference
        self.lines = lines
    }

    private static func entry(_ keys: String, _ label: String) -> ScrollText.Line {
        .init([Span("  " + keys.padding(to: 20), .hintKey), Span(label)])
    }

    /// What does not depend on the view: prompt editing, the filter language, the commands.
    private static let reference: [ScrollText.Line] = {
        var lines: [ScrollText.Line] = [.init(StyledLine()), .init(StyledLine("In a prompt", .section))]
        for (keys, label) in [
            ("enter", "accept"), ("esc", "cancel (a filter goes back to what it was)"), ("← → home end", "move"),
            ("ctrl-u / ctrl-w", "clear the line / delete a word"), ("↑ ↓", "earlier commands"), ("tab", "complete a command"),
        ] {
            lines.append(entry(keys, label))
        }
        lines += [.init(StyledLine()), .init(StyledLine("Filter (/)", .section))]
        for (example, meaning) in [
            ("failed  status:failed,held", "rows with these statuses"), ("object:Patient", "one FHIR resource type or Salesforce object"),
            ("code:INVALID_FIELD", "one error code"), ("system:emr  system:sf", "rows from one system"), ("job:42", "rows staged by a job"),
            ("müller  MRN100042  1984-02-29", "a person: name (any case or accents), MRN or other id, birth date"),
            ("p123  42", "a source id, or the row id"), ("!…", "invert: every row the rest does not match"),
            ("esc", "on a filtered view, clears the filter"),
        ] {
            lines.append(entry(example, meaning))
        }
        lines += [.init(StyledLine()), .init(StyledLine("Commands (:)", .section))]
        for (command, meaning) in [
            (":live :staged :failures", "switch view (also :policy :jobs :conflicts, or 1–6)"), (":failures CODE", "the failed rows of one error code"),
            (":row 123", "a row's detail"), (":job 45", "a job's rows"), (":theme light", "change the look (:theme lists them)"),
            (":push ID", "push a Salesforce record to the EMR"), (":sync", "run a sync cycle now"), (":retry CODE", "retry every row with an error code"),
            (":help", "this screen"), (":q", "quit"),
        ] {
            lines.append(entry(command, meaning))
        }
        return lines
    }()

    func load(in body: Rect, context: any ConsoleContext) async throws {
        try await resize(to: body, context: context)
    }

    func refresh(context: any ConsoleContext) async throws {}

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        scroller.height = max(1, body.height - 2)
        scroller.total = lines.count
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        KeyBinding.movement { [weak self] in self?.scroller }
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let inner = Frame(title: StyledLine("Help", .title), note: StyledLine("esc back", .muted)).draw(into: &screen, area: body)
        ScrollText.draw(ScrollText.wrap(lines, width: inner.width), offset: scroller.offset, into: &screen, area: inner)
    }
}
