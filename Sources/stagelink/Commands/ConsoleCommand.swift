import ArgumentParser
import Console
import Foundation
import StagelinkEngine
import StagelinkPostgres
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

            With a configuration (--config, $STAGELINK_CONFIG or ./stagelink.yaml) the console also \
            retries, pushes, resolves conflicts and syncs through the same connections as the service; \
            with --store alone it shows everything and can ignore rows and change the policy.

            Example:
              stagelink console --config /etc/stagelink/stagelink.yaml --operator dana
              stagelink console --store stagelink.sqlite --read-only --view failures
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "A theme name from themes/, or the path of a theme file.")
    var theme = "dark"

    @Flag(help: "Show everything but refuse every action, for compliance reviewers.")
    var readOnly = false

    @Option(help: "The name written in the audit trail of every action (default: the login name).")
    var `operator`: String?

    @Option(help: "The view to open first: live, staged, failures, policy, jobs or conflicts.")
    var view = "live"

    func validate() throws {
        guard ConsoleTab.named(view) != nil else {
            throw ValidationError("--view is one of live, staged, failures, policy, jobs, conflicts.")
        }
        if let name = `operator`, name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--operator needs a name: it goes into the audit trail.")
        }
        if let store = storeOptions.store, !PostgresLocation.isURL(store), !FileManager.default.fileExists(atPath: store) {
            throw ValidationError("There is no store at \(store) (give its path with --store).")
        }
    }

    func run() async throws {
        // Read first; act only where the store file may be written and the mapping is known. A
        // store of mode 0400, or --store without a mapping, opens the console read-only.
        let reading = try await Context.open(storeOptions, for: .reading)
        let writing = readOnly || reading.loadedMapping == nil ? nil : try reading.forWriting()
        let context = writing ?? reading
        let actions: any ConsoleActions = context.loadedMapping == nil ? UnmappedConsoleActions() : try await ConsoleCommand.actions(context)
        let exit = try await ConsoleCommand.open(
            context, actions: actions, theme: theme, readOnly: readOnly || writing == nil, operatorName: `operator`, view: ConsoleTab.named(view) ?? .live)
        if exit != .quit { throw ExitCode(exit.code) }
    }

    /// The console's actions over the context: with the configured connections, all of them;
    /// without, what the store alone allows (ignore, policy changes).
    static func actions(_ context: Context) async throws -> ServiceConsoleActions {
        let configured = context.configuration.map { $0.salesforce != nil || $0.emr != nil } ?? false
        guard configured else { return ServiceConsoleActions(operations: OperationsConsoleActions(operations: try context.offlineOperations), cycle: nil) }
        let cycle = try await context.cycle(context.endpoints())
        return ServiceConsoleActions(operations: OperationsConsoleActions(operations: cycle.operations), cycle: cycle)
    }

    /// Runs the console over the context's store until the person quits.
    static func open(
        _ context: Context, actions: any ConsoleActions, theme: String, readOnly: Bool, operatorName: String?, view: ConsoleTab
    ) async throws -> ConsoleExit {
        var settings = ConsoleConfiguration(storePath: context.storeName, mapping: context.loadedMapping, themeName: theme, readOnly: readOnly)
        settings.initialTab = view
        settings.handoffFolder = context.folder
        settings.healthThresholds = ServiceHealth.Thresholds(context.configuration)
        settings.endpoints = ConsoleConfiguration.Endpoints(
            emr: context.configuration?.emr?.baseURL.absoluteString, salesforce: context.configuration?.salesforce?.loginURL.absoluteString)
        if let operatorName { settings.operatorName = operatorName }
        do {
            return try await Console.run(store: context.store, actions: actions, configuration: settings)
        } catch let error as TerminalError {
            throw ValidationError(error.description)
        }
    }
}

/// The console's actions when no mapping is known (`--store` alone, no config/mapping.yaml): the
/// console shows everything and, read-only, acts on nothing; each action says what it needs.
struct UnmappedConsoleActions: ConsoleActions {
    static let reason = "actions need the mapping file: open the console with --mapping FILE or --config"

    func unavailability(of kind: ConsoleAction.Kind) -> String? { Self.reason }

    func perform(_ action: ConsoleAction, by operatorName: String) async throws -> ActionOutcome {
        throw ConsoleActionError.unavailable(action.kind, Self.reason)
    }
}
