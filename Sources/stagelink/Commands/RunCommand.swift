import ArgumentParser
import Foundation
import Logging
import StagelinkEngine
import StagelinkOperations

/// `stagelink run`: the service.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs the sync service: a cycle every 15 minutes (or --every), until SIGTERM or SIGINT.",
        discussion: """
            It first runs the checks of `stagelink check` against Salesforce and the EMR and \
            refuses to start (status 3) when one fails for a reason of configuration or setup; \
            --skip-checks starts without them, for emergencies.

            One service per store: a second `run` names the holder of the store's lease and exits \
            with status 3, unless it is started with --standby: then it waits, asking for the lease \
            every second, and takes over when the holder stops, dies (on this host: at once) or \
            lets its lease lapse (on another host sharing a PostgreSQL store: within lease.ttl, 30 \
            seconds by default). A stop signal lets the current batch finish and records the job as \
            interrupted; what was committed stays. A crashed service's lease expires and the next \
            `run` takes over.

            With --listen (or service.listen in stagelink.yaml) it serves, for monitors: /metrics \
            (Prometheus text format), /healthz (the process is up), /readyz (the lease is held and \
            the last cycle is within twice the schedule, or a --standby waits to take over; its \
            role in the JSON), /leader (200 only on the lease holder) and /status (the JSON of \
            `stagelink status --json`). A port alone listens on 127.0.0.1. With alerts: in stagelink.yaml it checks the \
            alert rules after every cycle and every alerts.evaluateEvery, and posts to the webhooks \
            (docs/monitoring.md).

            With --workers N, N linking workers link the staged EMR rows at once, each claiming its \
            own share: every row of one person (a Patient, its episodes and assessments) goes to \
            the same worker, in row order, so that no record is written by two workers at once or \
            a child before its parent; each has salesforce.concurrency calls in flight \
            (docs/scale.md#linking-workers).

            With retention.payloads in stagelink.yaml it purges old payloads by itself, as             `stagelink purge` does, after the first cycle and then once a day (docs/security.md).

            Examples:
              stagelink run --config /etc/stagelink/stagelink.yaml
              stagelink run --every 30s
              stagelink run --listen 127.0.0.1:9464
              stagelink run --workers 2
              stagelink run --standby      (a second host on the same PostgreSQL store)
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("Time between cycles, down to seconds (30s, 5m, 1h).", valueName: "duration"))
    var every: String?

    @Option(help: "Stop after this many cycles.")
    var cycles: Int?

    @Option(help: ArgumentHelp("Serve /metrics, /healthz, /readyz, /leader and /status on this address (a port alone: 127.0.0.1).", valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("Linking workers that link staged rows at once, each its own share of people (1-16; default: service.workers, or 1).", valueName: "N"))
    var workers: Int?
    @Flag(help: "When another service holds the store's lease, wait as its standby and take over when it stops or dies, instead of exiting with status 3.")
    var standby = false

    @Flag(help: "Start without the start-up checks of `stagelink check` (for emergencies; logged as a warning).")
    var skipChecks = false

    func validate() throws {
        if let listen {
            do { _ = try ListenAddress(parsing: listen) } catch { throw ValidationError("--listen: \(error)") }
        }
        if let every { _ = try Self.interval(every) }
        if let workers, !StagelinkConfiguration.Limits.workers.contains(workers) {
            throw ValidationError("--workers: \(workers) is not between 1 and 16.")
        }
    }

    /// A `--every` value: a duration within the range `schedule.every` allows.
    static func interval(_ text: String) throws -> Duration {
        do {
            return try Duration.parse(text, in: StagelinkConfiguration.Limits.every)
        } catch {
            throw ValidationError("--every: \(error.message).")
        }
    }

    /// The checks of `stagelink check` against the configured systems: a failure the
    /// configuration or the other system's setup causes stops the start (exit 3); a system that
    /// could not be asked, and every warning, is logged and the service starts (it retries every
    /// cycle, and its health shows the failing direction).
    static func startUpChecks(_ context: Context) async throws {
        guard let configuration = context.configuration else { return }
        let checks = LocalChecks.configuration(configuration) + (await CheckRunner.remote(configuration, mapping: try context.mapping, logger: context.logger))
        let report = CheckReport(checks: checks)
        for check in checks where check.status != .passed && !report.blockingFailures.contains(check) {
            context.logger.warning("start-up check: \(check.line)")
        }
        let blocking = report.blockingFailures
        guard blocking.isEmpty else {
            throw SetupError(
                .configuration,
                "refusing to start: \(blocking.count) start-up check\(blocking.count == 1 ? "" : "s") failed "
                    + "(`stagelink check` shows every check; `--skip-checks` starts anyway):\n" + blocking.map(\.line).joined(separator: "\n"))
        }
        context.logger.notice("start-up checks passed", metadata: ["check.count": "\(checks.count)", "check.warnings": "\(checks.filter { $0.status != .passed }.count)"])
    }

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .owning, quietLevel: .info)
        try await context.mapping.loadPolicy(into: context.store)
        let interval = try every.map(Self.interval) ?? context.configuration?.every ?? StagelinkConfiguration.defaultEvery
        if skipChecks {
            context.logger.warning("start-up checks skipped (--skip-checks): the configuration was not proved against Salesforce and the EMR")
        } else {
            try await Self.startUpChecks(context)
        }
        var cycle = try await context.cycle(context.endpoints())
        if let workers { cycle.settings.linkingWorkers = workers }
        let holder = Context.holder("run")
        let service = SyncService(
            cycle: cycle, every: interval, holder: holder, leaseDuration: context.configuration?.leaseTTL ?? StagelinkConfiguration.defaultLeaseTTL,
            logger: context.logger)
        let trap = SignalTrap { [logger = context.logger] in logger.notice("stop requested: stopping after the current batch (signal again to quit now)") }
        let address = try listen.map { try ListenAddress(parsing: $0) } ?? context.configuration?.listen
        let operations = try await ServiceOperations.start(context, listen: address, holder: holder, every: interval, standby: standby)
        do {
            context.logger.notice("service starting", metadata: ["store": "\(context.storeName)", "sync.every": "\(interval.compactText)"])
            try await service.run(stop: trap.stop, cycles: cycles, standby: standby) { report in
                context.logger.notice("cycle finished", metadata: ["sync.status": "\(report.worstStatus.rawValue)"])
                await operations.cycleFinished()
                await ScheduledPurge.afterCycle(context)
            }
            await operations.stop()
        } catch let held as LeaseHeld {
            await operations.stop()
            printToStandardError("stagelink run: \(held)")
            throw ExitCode(3)
        } catch {
            await operations.stop()
            throw error
        }
    }
}
