import ArgumentParser
import StagelinkEngine

/// `stagelink policy`: the per-field conflict policy, its changes and its audit trail.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Shows the per-field conflict policy: who wins each field when both systems changed it.",
        discussion: """
            Rules: emr, salesforce, emr-unless-blank, salesforce-unless-blank, hold. The mapping \
            file declares them; `policy set` changes one with a reason; `policy audit` lists every change.

            Examples:
              stagelink policy
              stagelink policy set Contact.Phone emr-unless-blank --reason "front desk owns phones"
              stagelink policy audit --field Contact.Phone
            """,
        subcommands: [Show.self, Set.self, Audit.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Shows the rule of every mapped field.")

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Print JSON for scripts.")
        var json = false

        func run() async throws {
            let context = try await Context.open(storeOptions, for: .reading)
            // The file's rules are loaded first when the store may be written; otherwise (a
            // read-only store, or no mapping named) the rules the store recorded are shown.
            if let mapping = context.loadedMapping, let writable = try context.forWriting() {
                try await mapping.loadPolicy(into: writable.store)
            }
            let rules = try await context.store.policyRules()
            if json {
                JSONOutput.print(.array(rules.map(JSONOutput.rule)))
                return
            }
            var table = TextTable("OBJECT", "FIELD", "RULE", "CHANGED BY", "WHEN", "REASON")
            for rule in rules {
                table.add(rule.object, rule.field, rule.rule.rawValue, rule.changedBy.description, rule.changedAt.shortText, rule.reason ?? "")
            }
            print(table.render())
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Changes one field's rule; the change is audited with your name and reason.",
            discussion: "Example:\n  stagelink policy set Contact.LastName hold --reason \"name changes need review\"")

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var operatorOptions: OperatorOptions

        @Argument(help: "The field, as Object.Field (Contact.Phone).")
        var field: String

        @Argument(help: "The new rule: emr, salesforce, emr-unless-blank, salesforce-unless-blank or hold.")
        var rule: OwnerRule

        @Option(help: "Why (recorded in the audit trail).")
        var reason: String

        func run() async throws {
            let context = try await Context.open(storeOptions)
            try await context.mapping.loadPolicy(into: context.store)
            if let entry = try await context.offlineOperations.setPolicy(field, to: rule, reason: reason, by: operatorOptions.resolved) {
                print("\(field): \(entry.oldRule?.rawValue ?? "—") → \(entry.newRule.rawValue), by \(entry.actor) (audit entry \(entry.id)).")
            } else {
                print("\(field) already has the rule \(rule.rawValue); nothing changed.")
            }
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit", abstract: "Lists every change of the policy, newest first: who, when, old and new rule, why.")

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: "Only this field, as Object.Field.")
        var field: String?

        @Option(help: "How many entries to show.")
        var limit = 100

        @Flag(help: "Print JSON for scripts.")
        var json = false

        func run() async throws {
            let context = try await Context.open(storeOptions, for: .reading)
            let parts = field?.split(separator: ".", maxSplits: 1).map(String.init)
            let entries = try await context.store.policyAudit(object: parts?.first, field: parts?.count == 2 ? parts?[1] : nil, limit: limit)
            if json {
                JSONOutput.print(.array(entries.map(JSONOutput.audit)))
                return
            }
            var table = TextTable("ID", "WHEN", "WHO", "FIELD", "OLD", "NEW", "REASON")
            for entry in entries {
                table.add(String(entry.id), entry.at.shortText, entry.actor.description, "\(entry.object).\(entry.field)", entry.oldRule?.rawValue ?? "—", entry.newRule.rawValue, entry.reason ?? "")
            }
            print(table.render())
        }
    }
}

extension OwnerRule: ExpressibleByArgument {}
