import StagelinkEngine

/// The per-field conflict policy: every mapped field's rule and its last change, with the audit
/// trail of the selected field below. Enter changes a rule, with a reason, audited.
@MainActor
final class PolicyView: ConsoleView {
    let crumb = "policy"
    let tab: ConsoleTab? = .policy
    private let list = LocalList<PolicyRule>(capacity: 1) { $0.qualifiedField }
    /// The selected field's audit trail, newest first, and the field it belongs to.
    private var audit: (field: String, entries: [PolicyAuditEntry])?
    private var filterText = ""
    private var auditCapacity = 1

    static let columns = [
        TableColumn("OBJECT", width: 14, priority: 90),
        TableColumn("FIELD", width: 20, priority: 100),
        TableColumn("RULE", width: 23, priority: 95),
        TableColumn("CHANGED BY", width: 18, priority: 60),
        TableColumn("WHEN", width: 11, priority: 50),
        TableColumn("REASON", width: 12, flexible: true, priority: 40),
    ]

    static let auditColumns = [
        TableColumn("WHEN", width: 19, priority: 90),
        TableColumn("WHO", width: 20, priority: 80),
        TableColumn("CHANGE", width: 30, priority: 100),
        TableColumn("REASON", width: 12, flexible: true, priority: 70),
    ]

    var rules: LocalList<PolicyRule> { list }

    /// The rules take the top of the body and the audit trail the rest, at least six lines of it.
    private func split(_ body: Rect) -> (rules: Rect, audit: Rect) {
        let auditHeight = max(6, body.height * 2 / 5)
        let (top, rest) = body.splitTop(body.height - auditHeight)
        return (top, rest)
    }

    func load(in body: Rect, context: any ConsoleContext) async throws {
        try await resize(to: body, context: context)
        try await refresh(context: context)
    }

    func refresh(context: any ConsoleContext) async throws {
        list.set(try await context.store.policyRules())
        try await loadAudit(context: context, force: true)
    }

    func resize(to body: Rect, context: any ConsoleContext) async throws {
        let areas = split(body)
        list.capacity = RowsView.capacity(for: areas.rules)
        auditCapacity = RowsView.capacity(for: areas.audit)
    }

    /// Reads the selected field's audit trail when the selection moved to another field.
    private func loadAudit(context: any ConsoleContext, force: Bool = false) async throws {
        guard let rule = list.selected else {
            audit = nil
            return
        }
        guard force || audit?.field != rule.qualifiedField else { return }
        let entries = try await context.store.policyAudit(object: rule.object, field: rule.field, limit: 200)
        audit = (rule.qualifiedField, entries)
    }

    var filtering: Filtering? {
        Filtering(text: filterText, placeholder: "text in the object, field, rule or reason") { [weak self] text, context in
            guard let self else { return }
            self.filterText = text
            self.list.filter(containing: text) { rule in "\(rule.object) \(rule.field) \(rule.rule) \(rule.changedBy) \(rule.reason ?? "")" }
            try await self.loadAudit(context: context)
        }
    }

    func bindings(context: any ConsoleContext) -> [KeyBinding] {
        let movement = KeyBinding.movement { [weak self] in self?.list }.map { binding in
            var binding = binding
            let move = binding.run
            binding.run = { [weak self] key in
                try await move(key)
                try await self?.loadAudit(context: context)
            }
            return binding
        }
        return movement + [
            KeyBinding([.enter], "change rule", group: .action, hint: .primary, action: .setPolicy) { [weak self] _ in
                guard let rule = self?.list.selected else { return }
                Self.changeRule(rule, context: context)
            },
            KeyBinding([.character("O"), .character("F")], "sort", hint: .secondary) { [weak self] key in
                self?.list.order = key == .character("O") ? { ($0.object, $0.field) < ($1.object, $1.field) } : { ($0.field, $0.object) < ($1.field, $1.object) }
            },
        ]
    }

    /// Who changed a rule, short: the mapping file by its name, not its whole path.
    static func who(_ actor: Actor) -> String {
        guard case .file(let path) = actor else { return actor.description }
        return "file:" + (path.split(separator: "/").last.map(String.init) ?? path)
    }

    /// Enter: pick the new rule, then give the reason that goes into the audit trail.
    private static func changeRule(_ rule: PolicyRule, context: any ConsoleContext) {
        let rules = OwnerRule.allCases
        let choices = rules.map { candidate in
            StyledLine([Span(candidate.rawValue.padding(to: 24), candidate == rule.rule ? .ok : .body), Span(candidate.meaning, .muted)])
        }
        context.choose("Rule for \(rule.qualifiedField)", choices, selected: rules.firstIndex(of: rule.rule) ?? 0) { index in
            let chosen = rules[index]
            guard chosen != rule.rule else {
                context.flash("\(rule.qualifiedField) already has rule \(chosen)", .info)
                return
            }
            context.performWithReason(
                "\(rule.qualifiedField): \(rule.rule) → \(chosen) — reason:", placeholder: "why (goes into the audit trail)",
                progress: "setting \(rule.qualifiedField) to \(chosen)"
            ) { reason in
                .setPolicy(object: rule.object, field: rule.field, rule: chosen, reason: reason)
            }
        }
    }

    func draw(into screen: inout Screen, body: Rect, context: any ConsoleContext) {
        let format = context.format
        let areas = split(body)
        let title = StyledLine.viewTitle("Policy", filter: filterText, count: "\(list.visible.count) fields")
        let inner = Frame(title: title).draw(into: &screen, area: areas.rules)
        var table = Table(
            columns: Self.columns,
            rows: list.window.map { rule in
                [
                    Span(rule.object), Span(rule.field), Span("\(rule.rule)", rule.rule == .hold ? .warning : .body), Span(Self.who(rule.changedBy), .muted),
                    Span(format.stamp(rule.changedAt), .muted), Span(rule.reason ?? "", .muted),
                ]
            })
        table.selected = list.visible.isEmpty ? nil : list.windowSelection
        table.emptyMessage = filterText.isEmpty ? "no policy loaded (the service loads it from the mapping file)" : "no fields match \(filterText)"
        table.draw(into: &screen, area: inner)

        let field = audit?.field ?? "—"
        let auditInner = Frame(title: StyledLine("Audit trail of \(field)", .title), isFocused: false).draw(into: &screen, area: areas.audit)
        var trail = Table(
            columns: Self.auditColumns,
            rows: (audit?.entries ?? []).prefix(auditCapacity).map { entry in
                [
                    Span(format.dateTime(entry.at), .muted), Span(Self.who(entry.actor)),
                    Span("\(entry.oldRule?.rawValue ?? "(new)") → \(entry.newRule)", .pending), Span(entry.reason ?? "", .muted),
                ]
            })
        trail.emptyMessage = "no changes recorded"
        trail.draw(into: &screen, area: auditInner)
    }
}
