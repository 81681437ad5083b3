import ArgumentParser
import Console
import Foundation
import StagelinkEngine
import StagelinkStore

/// `stagelink console`: the operations console over a store.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Opens the operations console on a store: staged rows, failures, policy, jobs, conflicts and live progress.",
        discussion: """
            The console shows what a running service does to the store as it happens, and works on a store \
            with no service too. Press ? for every key, : for commands, q to quit. Actions (retry, ignore, \
            policy changes) name the operator in the audit trail; --read-only turns them all off. Colours \
            come from a theme in themes/ (dark, light, high-contrast, monochrome); NO_COLOR is honoured. \
            The terminal must be at least 80×24 and use a UTF-8 locale.

            Example:
              stagelink console --store stagelink.sqlite --theme light --operator dana
              stagelink console --store stagelink.sqlite --read-only --view failures
            """
    )

    @Option(help: "The store to open.")
    var store = "stagelink.sqlite"

    @Option(help: "A theme name from themes/, or the path of a theme file.")
    var theme = "dark"

    @Flag(help: "Show everything but refuse every action, for compliance reviewers.")
    var readOnly = false

    @Option(help: "The name written in the audit trail of every action (default: the login name).")
    var `operator`: String?

    @Option(help: "The mapping file, which names the payload field an error is about and allows policy changes.")
    var mapping = "config/mapping.yaml"

    @Option(help: "The view to open first: live, staged, failures, policy, jobs or conflicts.")
    var view = "live"

    func validate() throws {
        guard ConsoleTab.named(view) != nil else {
            throw ValidationError("--view is one of live, staged, failures, policy, jobs, conflicts.")
        }
        if let name = `operator`, name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--operator needs a name: it goes into the audit trail.")
        }
        guard FileManager.default.fileExists(atPath: store) else {
            throw ValidationError("There is no store at \(store) (give its path with --store).")
        }
    }

    func run() async throws {
        let document = try loadMapping()
        let sqlite = try SQLiteStore(path: store)
        var settings = ConsoleConfiguration(storePath: store, mapping: document, themeName: theme, readOnly: readOnly)
        settings.initialTab = ConsoleTab.named(view) ?? .live
        if let name = `operator` { settings.operatorName = name }
        let actions = ConsoleCommand.actions(store: sqlite, mapping: document)
        do {
            let exit = try await Console.run(store: sqlite, actions: actions, configuration: settings)
            if exit != .quit { throw ExitCode(exit.code) }
        } catch let error as TerminalError {
            throw ValidationError(error.description)
        }
    }

    /// The mapping when its file is there; a console over a store without one still shows
    /// everything, but cannot name the payload path of a failing field or change a rule.
    private func loadMapping() throws -> MappingDocument? {
        guard FileManager.default.fileExists(atPath: mapping) else { return nil }
        return try MappingDocument.load(contentsOf: mapping)
    }

    /// Retry, ignore and policy changes through the engine's operations (push, sync-now and
    /// conflict resolution need the service's connections). Without a mapping file the operations
    /// get an empty one: ignoring still works, and a policy change says it needs the file.
    static func actions(store: SQLiteStore, mapping: MappingDocument?) -> any ConsoleActions {
        let document = mapping ?? MappingDocument(file: "(no mapping file)", instruments: [], inbound: [], outbound: OutboundMappings(admissions: nil, contacts: nil))
        return OperationsConsoleActions(operations: Operations(store: store, mapping: document, inbound: nil))
    }
}
