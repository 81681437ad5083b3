import ArgumentParser
import Foundation
import Logging
import StagelinkEngine

/// `stagelink run`: the service.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs the sync service: a cycle every 15 minutes (or --every), until SIGTERM or SIGINT.",
        discussion: """
            One service per store: a second `run` names the holder of the store's lease and exits \
            with status 3. A stop signal lets the current batch finish and records the job as \
            interrupted; what was committed stays. A crashed service's lease expires and the next \
            `run` takes over.

            Examples:
              stagelink run --config /etc/stagelink/stagelink.yaml
              stagelink run --every 30s
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("Time between cycles, down to seconds (30s, 5m, 1h).", valueName: "duration"))
    var every: String?

    @Option(help: "Stop after this many cycles.")
    var cycles: Int?

    func validate() throws {
        if let every { _ = try Self.interval(every) }
    }

    /// A `--every` value: a duration within the range `schedule.every` allows.
    static func interval(_ text: String) throws -> Duration {
        do {
            return try Duration.parse(text, in: StagelinkConfiguration.Limits.every)
        } catch {
            throw ValidationError("--every: \(error.message).")
        }
    }

    func run() async throws {
        let context = try Context.open(storeOptions, quietLevel: .info)
        try await context.mapping.loadPolicy(into: context.store)
        let interval = try every.map(Self.interval) ?? context.configuration?.every ?? StagelinkConfiguration.defaultEvery
        let cycle = try await context.cycle(context.endpoints())
        let service = SyncService(cycle: cycle, every: interval, holder: Context.holder("run"), logger: context.logger)
        let trap = SignalTrap()
        do {
            context.logger.notice("service starting", metadata: ["store": "\(context.store.path)", "sync.every": "\(interval.compactText)"])
            try await service.run(stop: trap.stop, cycles: cycles) { report in
                context.logger.notice("cycle finished", metadata: ["sync.status": "\(report.worstStatus.rawValue)"])
            }
        } catch let held as LeaseHeld {
            printToStandardError("stagelink run: \(held)")
            throw ExitCode(3)
        }
    }
}
