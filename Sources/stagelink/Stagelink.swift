import ArgumentParser
import Foundation
import StagelinkEngine
import StagelinkPostgres
import StagelinkStore

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
            RunCommand.self, ConsoleCommand.self, SyncCommand.self, ReconcileCommand.self, PushCommand.self, RetryCommand.self, IgnoreCommand.self, UnignoreCommand.self, RowsCommand.self, ShowCommand.self,
            JobsCommand.self, ConflictsCommand.self, ResolveCommand.self, PolicyCommand.self, WhyCommand.self, AuditCommand.self, PurgeCommand.self, StatusCommand.self,
            AlertsCommand.self, CheckCommand.self, StoreCommand.self, InitCommand.self, DemoCommand.self, SandboxCommand.self, KeysCommand.self, BenchCommand.self,
        ]
    )

    /// Parses and runs a command. A configuration, mapping or store that cannot be read ends
    /// every command with its own exit code (3 configuration or mapping, 4 store), never with
    /// 1, which `status` means as degraded. An error's message may quote a remote system or a
    /// stored value (Salesforce's answer to a pushed id holding ESC), so it is printed through the
    /// same escaping as every other line; help and other clean exits go to standard output.
    static func main() async {
        // Before any other thread can use SQLite (sqlite3_config is not threadsafe).
        SQLiteStore.configureProcess()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as SetupError {
            printToStandardError("Error: \(error.message)")
            Foundation.exit(error.exitCode)
        } catch {
            // A PostgreSQL store's error, told plainly (postgres-nio's own says only "Generic description").
            if let explained = PostgresServerError.explaining(error) {
                printToStandardError("Error: \(explained)")
                Foundation.exit(SetupError(.store, explained).exitCode)
            }
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success { print(message) } else { printToStandardError(message) }
            }
            Self.exit(withError: code)
        }
    }
}
