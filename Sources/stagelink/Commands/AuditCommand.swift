import ArgumentParser
import StagelinkEngine

/// `stagelink audit`: the append-only logs a compliance reviewer reads.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Lists who read which staged row, and when (the access log).",
        discussion: """
            `stagelink show`, the console's row detail and `stagelink why` record each read of a row's \
            evidence: the operator, the process (pid, host and login) and when. The log is append-only: \
            the store refuses to change or delete an entry. Changes of the policy are listed by \
            `stagelink policy audit`.

            Examples:
              stagelink audit access --row 4211
              stagelink audit access --operator alice --json
            """,
        subcommands: [Access.self]
    )

    struct Access: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "access", abstract: "Lists reads of staged rows, newest first: when, who, which row, through what, from which process.")

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: "Only reads of this row.")
        var row: Int64?

        @Option(name: .customLong("operator"), help: "Only reads by this operator.")
        var operatorName: String?

        @Option(help: "Show entries older than this entry id (the next page).")
        var before: Int64?

        @Option(help: "How many entries to show.")
        var limit = 100

        @Flag(help: "Print JSON for scripts.")
        var json = false

        func run() async throws {
            let context = try await Context.open(storeOptions, for: .reading)
            let entries = try await context.store.accessLog(AccessQuery(rowID: row, operatorName: operatorName, before: before, limit: limit))
            if json {
                JSONOutput.print(
                    .array(
                        entries.map {
                            [
                                "id": JSONOutput.number($0.id), "at": JSONOutput.instant($0.at), "row": JSONOutput.number($0.rowID),
                                "operator": .string($0.operatorName), "process": .string($0.process), "via": .string($0.via.rawValue),
                            ]
                        }))
                return
            }
            var table = TextTable("ID", "WHEN", "OPERATOR", "ROW", "VIA", "PROCESS")
            for entry in entries {
                table.add(String(entry.id ?? 0), entry.at.shortText, entry.operatorName, String(entry.rowID), entry.via.rawValue, entry.process)
            }
            print(table.render())
            let next = entries.count == limit ? " — next page: --before \(entries.last?.id ?? 0)" : ""
            print("\(entries.count) reads\(next)")
        }
    }
}
