import ArgumentParser
import StagelinkEngine

/// `stagelink conflicts`: fields both systems changed, and who won; merges held for a person.
struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "Lists conflicts: fields both systems changed since the last sync, both values, the rule and the winner; and held merges.",
        discussion: """
            Open conflicts wait for a person (rule `hold`): settle one with `stagelink resolve`. A \
            conflict of kind `merge` is a merge in one system that would join two records that are \
            distinct in the other: its EMR and Salesforce columns say what each system holds, and \
            `stagelink resolve <id> --merged` or `--apart` settles it.

            Examples:
              stagelink conflicts --open
              stagelink conflicts --kind merge
              stagelink conflicts --json
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Only conflicts that wait for a person.")
    var open = false

    @Option(help: "Only conflicts of this kind: field or merge.")
    var kind: Conflict.Kind?

    @Option(help: "How many conflicts to show.")
    var limit = 50

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .reading)
        let conflicts = try await context.store.conflicts(ConflictQuery(statuses: open ? [.open] : nil, kind: kind, limit: limit))
        if json {
            JSONOutput.print(.array(conflicts.map(JSONOutput.conflict)))
            return
        }
        var table = TextTable("ID", "STATUS", "RECORD", "FIELD", "EMR VALUE", "SALESFORCE VALUE", "RULE", "WINNER", "RESOLVED BY")
        for conflict in conflicts {
            table.add(
                String(conflict.id), conflict.status.rawValue, "\(conflict.object) \(conflict.recordKey)", conflict.subject, conflict.emrValue.description,
                conflict.salesforceValue.description, conflict.rule.rawValue, conflict.winner?.rawValue ?? "waiting",
                conflict.resolvedBy.map { "\($0): \(conflict.reason ?? "")" } ?? "")
        }
        print(table.render())
    }
}

/// `stagelink resolve`: a person settles a held conflict or a held merge.
struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Settles an open conflict by taking the EMR's or Salesforce's value, or a held merge as merged or apart, with a reason.",
        discussion: """
            A field conflict: the chosen value is written into the other system, becomes the synced \
            value, and the audit trail records who chose it and why.

            A held merge (kind `merge`): merge the two records in the other system first, then \
            `--merged`; or `--apart` when they stay two records. Nothing is written either way: \
            the loser's counterpart already receives nothing. The merge's row is linked.

            Examples:
              stagelink resolve 12 --take emr --reason "EMR confirmed with the patient"
              stagelink resolve 14 --merged --reason "merged 003…AAB into 003…AAA in Salesforce"
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions

    @Argument(help: "The conflict id (see `stagelink conflicts --open`).")
    var id: Int64

    @Option(help: "A field conflict: whose value to take, emr or salesforce.")
    var take: SourceSystem?

    @Flag(help: "A held merge: the two records were merged in the other system too.")
    var merged = false

    @Flag(help: "A held merge: the two records stay apart in the other system.")
    var apart = false

    @Option(help: "Why (recorded in the audit trail).")
    var reason: String

    func validate() throws {
        guard [take != nil, merged, apart].filter({ $0 }).count == 1 else {
            throw ValidationError("say one of --take emr|salesforce (a field conflict), --merged or --apart (a held merge)")
        }
    }

    func run() async throws {
        let context = try await Context.open(storeOptions)
        if let take {
            let operations = try await context.cycle(context.endpoints()).operations
            let conflict = try await operations.resolve(conflict: id, take: take, reason: reason, by: operatorOptions.resolved)
            print("Conflict \(id) resolved: \(conflict.object) \(conflict.recordKey) \(conflict.field) = \(DisplayText.escaped(conflict.winningValue?.description ?? "∅")) (\(take.rawValue)), by \(operatorOptions.resolved).")
            return
        }
        // Settling a held merge writes into neither system: no connection is needed.
        let decision: HeldMerge.Decision = merged ? .merged : .apart
        let conflict = try await context.offlineOperations.settle(merge: id, decision, reason: reason, by: operatorOptions.resolved)
        let what = conflict.merge.map { decision == .merged ? $0.merged : $0.apart } ?? ""
        print("Held merge \(id) settled (\(decision.rawValue)): \(DisplayText.escaped(what)), by \(operatorOptions.resolved).")
    }
}

extension Conflict.Kind: ExpressibleByArgument {}

extension SourceSystem: ExpressibleByArgument {}
