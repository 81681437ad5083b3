import ArgumentParser

/// The `stagelink` command: the root of every subcommand.
@main
struct Stagelink: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagelink",
        abstract: "Keeps Salesforce and a FHIR R4 EMR in sync, both ways, through a staging store.",
        discussion: """
            Every record that crosses over is first staged verbatim in a SQLite store, then linked \
            to its counterpart by external id, with a per-field conflict policy deciding who wins.

            Example:
              stagelink demo
            """,
        subcommands: [
            RunCommand.self, ConsoleCommand.self, SyncCommand.self, PushCommand.self, RetryCommand.self, IgnoreCommand.self, UnignoreCommand.self, RowsCommand.self, ShowCommand.self,
            JobsCommand.self, ConflictsCommand.self, ResolveCommand.self, PolicyCommand.self, WhyCommand.self, StatusCommand.self,
            DemoCommand.self, SandboxCommand.self, BenchCommand.self,
        ]
    )
}
