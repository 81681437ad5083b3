import ArgumentParser
import StagelinkEngine

/// `stagelink conflicts`: fields both systems changed, and who won.
struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "Lists conflicts: fields both systems changed since the last sync, both values, the rule and the winner.",
        discussion: """
            Open conflicts wait for a person (rule `hold`): settle one with `stagelink resolve`.

            Examples:
              stagelink conflicts --open
              stagelink conflicts --json
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Only conflicts that wait for a person.")
    var open = false

    @Option(help: "How many conflicts to show.")
    var limit = 50

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let context = try Context.open(storeOptions, for: .reading)
        let conflicts = try await context.store.conflicts(ConflictQuery(statuses: open ? [.open] : nil, limit: limit))
        if json {
            JSONOutput.print(.array(conflicts.map(JSONOutput.conflict)))
            return
        }
        var table = TextTable("ID", "STATUS", "RECORD", "FIELD", "EMR VALUE", "SALESFORCE VALUE", "RULE", "WINNER", "RESOLVED BY")
        for conflict in conflicts {
            table.add(
                String(conflict.id), conflict.status.rawValue, "\(conflict.object) \(conflict.recordKey)", conflict.field, conflict.emrValue.description,
                conflict.salesforceValue.description, conflict.rule.rawValue, conflict.winner?.rawValue ?? "waiting",
                conflict.resolvedBy.map { "\($0): \(conflict.reason ?? "")" } ?? "")
        }
        print(table.render())
    }
}

/// `stagelink resolve`: a person settles a held conflict.
struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Settles an open conflict by taking the EMR's or Salesforce's value, with a reason.",
        discussion: """
            The chosen value is written into the other system, becomes the synced value, and the \
            audit trail records who chose it and why.

            Example:
              stagelink resolve 12 --take emr --reason "EMR confirmed with the patient"
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions

    @Argument(help: "The conflict id (see `stagelink conflicts --open`).")
    var id: Int64

    @Option(help: "Whose value to take: emr or salesforce.")
    var take: SourceSystem

    @Option(help: "Why (recorded in the audit trail).")
    var reason: String

    func run() async throws {
        let context = try Context.open(storeOptions)
        let operations = try await context.cycle(context.endpoints()).operations
        let conflict = try await operations.resolve(conflict: id, take: take, reason: reason, by: operatorOptions.resolved)
        print("Conflict \(id) resolved: \(conflict.object) \(conflict.recordKey) \(conflict.field) = \(DisplayText.escaped(conflict.winningValue?.description ?? "∅")) (\(take.rawValue)), by \(operatorOptions.resolved).")
    }
}

extension SourceSystem: ExpressibleByArgument {}
