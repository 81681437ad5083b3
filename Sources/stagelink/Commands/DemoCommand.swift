import ArgumentParser
import Foundation
import Logging
import Console
import Sandbox
import StagelinkEngine
import StagelinkPostgres

/// `stagelink demo`: the whole product on one machine, against the sandbox.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Runs the sandbox, the sync service and the console together: a live sync with failures to triage.",
        discussion: """
            Starts the Salesforce and FHIR simulators seeded with synthetic patients, assessments \
            and admissions (some bad on purpose), a store in a fresh folder, the service on a fast \
            cadence, and edits on both sides that keep arriving — with the console on top. On quit \
            it says where the store is and how to reopen it.

            --headless runs the same cycles without a terminal, prints a summary, and exits 0 only \
            if every good record arrived and every bad one failed with an error naming its field.

            Examples:
              stagelink demo
              stagelink demo --headless --cycles 3
              stagelink demo --headless --emr-profile certified --cycles 3
              stagelink demo --headless --encrypt
              stagelink demo --latency salesforce=150ms,emr=80ms
              stagelink demo --headless --store postgres://stagelink@127.0.0.1:5432/stagelink
            """
    )

    @Flag(help: "Run without the console; print a summary and check the outcome.")
    var headless = false

    @Option(help: "With --headless: how many cycles to run.")
    var cycles = 3

    @Option(help: "Seeded EMR patients (Salesforce referrals are a quarter of that).")
    var patients = 2_000

    @Option(help: "The share of seeded records that are bad on purpose, from 0 to 1.")
    var badShare = 0.02

    @Option(help: "The seed number; the same seed gives the same records.")
    var seed: UInt64 = 7

    @Option(help: ArgumentHelp("Time between cycles.", valueName: "duration"))
    var every = "10s"

    @Option(help: "The share of API calls that fail on purpose (503s, 429s, row locks, dropped connections), from 0 to 1.")
    var faultRate = 0.0

    @Option(help: "Which kind of EHR the FHIR simulator behaves as: generic, certified or lenient (docs/emr-profiles.md).")
    var emrProfile: EMRProfile = .generic

    @Option(help: "The folder for the store, keys and configuration (default: a new one under ./stagelink-demo).")
    var folder: String?

    @Option(help: "The mapping and policy file to start from (default: ./config/mapping.yaml, else the one built into stagelink).")
    var mapping: String?

    @Option(help: "The console's colour theme (dark, light, high-contrast, monochrome).")
    var theme: String?

    @Flag(help: "Encrypt the store at rest, with a key made in the demo's folder (keys/store.key; docs/security.md).")
    var encrypt = false

    @Option(help: ArgumentHelp("How long each simulator takes to answer, give or take a quarter (salesforce=150ms,emr=80ms).", valueName: "latency"))
    var latency: SandboxLatency?

    @Option(help: ArgumentHelp(
        "A PostgreSQL server for the store (postgres://user@host:5432/db); default: store.sqlite in the folder.",
        discussion: "The demo keeps its tables in a schema of its own, made fresh (demo_ and the time) unless the URL names one (&schema=NAME)."))
    var store: String?

    func validate() throws {
        guard (1...1_000_000).contains(patients) else { throw ValidationError("--patients is between 1 and 1000000.") }
        guard (0...1).contains(badShare), (0...1).contains(faultRate) else { throw ValidationError("Shares are between 0 and 1.") }
        _ = try RunCommand.interval(every)
        guard cycles >= 1 else { throw ValidationError("--cycles must be at least 1.") }
        if let mapping, !FileManager.default.fileExists(atPath: mapping) { throw ValidationError("No mapping file at \(mapping).") }
        if let store {
            do {
                _ = try PostgresLocation(parsing: store)
            } catch {
                throw ValidationError("--store \(error)")
            }
        }
    }

    func run() async throws {
        var logger = Logger(label: "stagelink")
        logger.logLevel = .warning
        let interval = try RunCommand.interval(every)
        print("Starting the sandbox with \(patients.formatted()) patients…")
        let demo = try await DemoEnvironment.start(
            .init(folder: folder, patients: patients, badShare: badShare, seed: seed, every: interval, mapping: mapping, faultRate: faultRate,
                emrProfile: emrProfile, encrypt: encrypt, latency: latency ?? SandboxLatency(), server: try store.map { try PostgresLocation(parsing: $0) }),
            logger: logger)
        defer { Task { [sandbox = demo.sandbox] in await sandbox.stop() } }
        print(store == nil ? "Store and configuration in \(demo.folder.path)" : "Store at \(demo.context.storeName), configuration in \(demo.folder.path)")
        if headless {
            try await runHeadless(demo, interval: interval)
        } else {
            try await runWithConsole(demo, interval: interval)
        }
    }

    private func runHeadless(_ demo: DemoEnvironment, interval: Duration) async throws {
        let context = demo.context
        let cycle = try await context.cycle(context.endpoints())
        let service = SyncService(cycle: cycle, every: .milliseconds(1), holder: Context.holder("demo"), logger: context.logger)
        let trap = SignalTrap()
        let progress = ProgressLine(store: context.store)
        let follow = Task { await progress.follow(after: nil) }
        demo.sandbox.mutations.start(every: .milliseconds(200))
        let started = ContinuousClock.now
        var reports: [CycleReport] = []
        for number in 1...cycles where !trap.stop.isRequested {
            if number == cycles {
                // The last cycle settles what the edits changed, so that the check is against a quiet sandbox.
                demo.sandbox.mutations.stop()
            }
            reports.append(try await service.runOnce([.inbound, .outbound], actor: .system, stop: trap.stop))
        }
        follow.cancel()
        await progress.finish()
        let elapsed = (ContinuousClock.now - started).seconds
        print("")
        print(HeadlessSummary.table(reports))
        print(String(format: "%d cycles in %.1fs.", reports.count, elapsed))
        let verdict = try await DemoVerdict.judge(sandbox: demo.sandbox, store: context.store, mapping: context.mapping)
        print(DemoVerdict.emrWrites(demo.sandbox))
        if verdict.passed {
            print("Checked \(verdict.checked) seeded records: every good one arrived once, every bad one failed naming its field.")
        } else {
            print("Checked \(verdict.checked) seeded records: \(verdict.problems.count) problems:")
            for problem in verdict.problems.prefix(30) { print("  ✗ \(problem)") }
        }
        print("Reopen the store: stagelink console --config \(demo.configPath)")
        if !verdict.passed { throw ExitCode(1) }
    }

    private func runWithConsole(_ demo: DemoEnvironment, interval: Duration) async throws {
        let context = demo.context
        let actions = try await ConsoleCommand.actions(context)
        guard let cycle = actions.cycle else { throw ValidationError("The demo's configuration has no connections.") }
        // The screen belongs to the console: anything written to stderr (logs) goes to a file.
        let logPath = demo.folder.appendingPathComponent("stagelink.log").path
        let savedStandardError = StandardError.redirect(to: logPath)
        let service = SyncService(cycle: cycle, every: interval, holder: Context.holder("demo"), logger: context.logger)
        let stop = StopSignal()
        let running = Task { try await service.run(stop: stop) }
        demo.sandbox.mutations.start(every: .seconds(1))
        let exit: Result<ConsoleExit, any Error>
        do {
            exit = .success(
                try await ConsoleCommand.open(context, actions: actions, theme: theme ?? "dark", readOnly: false, operatorName: nil, view: .live))
        } catch {
            exit = .failure(error)
        }
        demo.sandbox.mutations.stop()
        stop.request()
        _ = try? await running.value
        StandardError.restore(savedStandardError)
        print("""
            The demo's store, configuration and keys are in \(demo.folder.path) (its log: \(logPath)).
            Reopen the store (the sandbox is gone, so actions that need it are off):
              \(context.file == nil
                ? "stagelink console --config \(demo.configPath) --read-only"
                : "stagelink console --store \(context.storeName) --mapping \(context.loadedMapping?.file ?? MappingFile.conventionalPath)")
            """)
        let code = try exit.get()
        if code != .quit { throw ExitCode(code.code) }
    }
}

/// The headless demo's summary: per direction, what every cycle did together, and how fast.
enum HeadlessSummary {
    static func table(_ reports: [CycleReport]) -> String {
        var table = TextTable("DIRECTION", "PULLED", "STAGED", "LINKED", "FAILED", "CONFLICTS", "API CALLS", "RECORDS/S")
        for direction in Job.Direction.allCases {
            let jobs = reports.flatMap(\.jobs).filter { $0.direction == direction }
            let counts = jobs.reduce(Job.Counts()) { $0 + $1.counts }
            let seconds = jobs.reduce(0.0) { $0 + (($1.finishedAt ?? $1.startedAt).timeIntervalSince($1.startedAt)) }
            let rate = seconds > 0 ? Double(counts.pulled) / seconds : 0
            table.add(
                direction == .inbound ? "EMR → Salesforce" : "Salesforce → EMR", String(counts.pulled), String(counts.staged), String(counts.linked),
                String(counts.failed), String(counts.conflicts), String(jobs.reduce(0) { $0 + $1.apiCalls }), String(Int(rate)))
        }
        return table.render()
    }
}
