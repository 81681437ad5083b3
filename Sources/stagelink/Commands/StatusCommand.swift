import ArgumentParser
import Foundation
import StagelinkEngine

/// `stagelink status`: health for monitors.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Reports health for monitors: each direction's last pull and link, failed rows, open conflicts, API usage.",
        discussion: """
            Each direction is judged by its pull and its link apart, from the jobs of sync cycles \
            (scheduled, or asked for with `stagelink sync`). A direction whose last pull failed is \
            failing until a pull succeeds. Pushes and retries by hand are reported apart and never \
            change the level.

            Exit codes:
              0  healthy
              1  degraded: failed rows, open conflicts, a step interrupted or partial, API usage \
            near the configured share, or never synced
              2  failing: the last pull or link of a direction failed, or no pull succeeded for \
            three schedule periods
              3  the configuration or the mapping could not be read
              4  the store could not be read (missing, unreadable, or written by a newer Stagelink)

            With --json the output is always JSON, errors included: \
            {"level": "error", "exitCode": 4, "error": "…", "part": "store"}. The store is only \
            read: a store file that is not writable works.

            Example:
              stagelink status --json || alert
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Print JSON for scripts (always JSON, errors included).")
    var json = false

    func run() async throws {
        let report = await Self.report(storeOptions, json: json)
        if let error = report.error, !json { throw error }
        print(report.output)
        throw ExitCode(report.exitCode)
    }

    /// What `status` prints and exits with; an error that stopped it, for the text form.
    static func report(_ options: StoreOptions, json: Bool, now: Date = Date()) async -> (output: String, exitCode: Int32, error: SetupError?) {
        do {
            let context = try await Context.open(options, for: .reading)
            let health: ServiceHealth
            do {
                health = try await ServiceHealth.assess(context.store, thresholds: ServiceHealth.Thresholds(context.configuration), now: now)
            } catch {
                throw SetupError(.store, "cannot read the store at \(context.storeName): \(error)")
            }
            return (json ? JSONWriter.prettyString(health.json) : health.text(now: now), health.level.rawValue, nil)
        } catch {
            let setup = error as? SetupError ?? SetupError(.store, error)
            let object: JSONValue = [
                "level": "error", "exitCode": .number(String(setup.exitCode)), "error": .string(setup.message),
                "part": .string(setup.part == .configuration ? "configuration" : "store"),
            ]
            return (JSONWriter.prettyString(object), setup.exitCode, setup)
        }
    }
}

extension ServiceHealth.Thresholds {
    /// The configuration's schedule and API share, or the defaults without one.
    init(_ configuration: StagelinkConfiguration?) {
        self.init(
            every: configuration?.every ?? StagelinkConfiguration.defaultEvery, limitShare: configuration?.salesforce?.limitShare ?? 0.8)
    }
}

extension ServiceHealth {
    /// The text `status` prints: the level, each direction's steps, manual actions, the service, the reasons.
    func text(now: Date) -> String {
        var lines = ["Stagelink: \(level)"]
        for direction in directions {
            let steps = direction.steps.map { step in
                guard let last = step.last else { return "\(step.kind.rawValue): no job yet" }
                return "\(step.kind.rawValue) \(step.level) (last success \(step.lastSuccess?.finishedAt?.shortText ?? "never"), "
                    + "last job \(last.id) \(last.status.rawValue))"
            }
            lines.append("  \(direction.direction.rawValue) \(direction.level): " + steps.joined(separator: "; "))
        }
        lines.append("  failed rows: \(failedRows)   open conflicts: \(openConflicts)   API usage: \(apiUsage?.description ?? "unknown")")
        if let last = manual.last {
            let outcome = manual.unresolvedFailure.map { "\($0.status.rawValue)\($0.message.map { ": \(DisplayText.escaped($0))" } ?? "")" } ?? last.status.rawValue
            lines.append(
                "  by hand (not counted in health): the last \(last.kind.rawValue) (job \(last.id), \(last.actor), \((last.finishedAt ?? last.startedAt).shortText)) \(outcome)")
        }
        if let lease, lease.expiresAt > now, lease.isAbandoned(onHost: ProcessInfo.processInfo.hostName) {
            lines.append("  service: not running (\(lease.holder) stopped without releasing its lease; the next run takes over)")
        } else if let lease, lease.expiresAt > now {
            lines.append("  service: \(lease.holder), since \(lease.since.shortText)")
        } else {
            lines.append("  service: not running")
        }
        lines += reasons.map { "  • \(DisplayText.escaped($0.message))" }
        return lines.joined(separator: "\n")
    }
}
