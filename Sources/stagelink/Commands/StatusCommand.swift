import ArgumentParser
import Foundation
import StagelinkEngine

/// `stagelink status`: health for monitors.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Reports health for monitors: the last cycle per direction, failed rows, open conflicts, API usage.",
        discussion: """
            Exit code 0: healthy. 1: degraded (failed rows, open conflicts, a partial cycle, API \
            usage near the limit, or never synced). 2: failing (the last cycle of a direction failed \
            or was stopped, or no cycle succeeded for three schedule periods).

            Example:
              stagelink status --json || alert
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let context = try Context.open(storeOptions)
        let health = try await Health.assess(context)
        if json {
            JSONOutput.print(health.json)
        } else {
            print(health.text)
        }
        throw ExitCode(health.level.rawValue)
    }
}

/// The store's health, in one of three levels, with the reasons.
struct Health {
    enum Level: Int32 {
        case healthy = 0, degraded = 1, failing = 2
    }

    struct Direction {
        var name: Job.Direction
        var lastSuccess: Job?
        var last: Job?
    }

    var level: Level
    var reasons: [String]
    var directions: [Direction]
    var failedRows: Int
    var openConflicts: Int
    var usage: APIUsage?
    var lease: Lease?

    static func assess(_ context: Context) async throws -> Health {
        let store = context.store
        var directions: [Direction] = []
        var reasons: [String] = []
        var level = Level.healthy
        func raise(_ to: Level, _ reason: String) {
            if to.rawValue > level.rawValue { level = to }
            reasons.append(reason)
        }
        let every = context.configuration?.every ?? StagelinkConfiguration.defaultEvery
        for direction in Job.Direction.allCases {
            let lastSuccess = try await store.lastJob(direction: direction, statuses: [.succeeded, .partial])
            let last = try await store.lastJob(direction: direction, statuses: [.succeeded, .partial, .failed, .interrupted])
            directions.append(Direction(name: direction, lastSuccess: lastSuccess, last: last))
            if let last, last.status == .failed || last.status == .interrupted {
                raise(.failing, "the last \(direction.rawValue) \(last.kind.rawValue) job (\(last.id)) \(last.status.rawValue): \(last.message ?? "")")
            } else if let last, last.status == .partial {
                raise(.degraded, "the last \(direction.rawValue) job (\(last.id)) was partial")
            }
            if let lastSuccess, let finished = lastSuccess.finishedAt, Date().timeIntervalSince(finished) > 3 * every.seconds {
                raise(.failing, "no \(direction.rawValue) cycle succeeded since \(finished.shortText) (schedule: every \(every.compactText))")
            } else if lastSuccess == nil {
                raise(.degraded, "never synced \(direction.rawValue)")
            }
        }
        let failedRows = try await store.countRows(RowFilter(statuses: [.failed]))
        if failedRows > 0 { raise(.degraded, "\(failedRows) failed rows (see `stagelink rows --status failed`)") }
        let openConflicts = try await store.countConflicts(status: .open)
        if openConflicts > 0 { raise(.degraded, "\(openConflicts) conflicts wait for a person (see `stagelink conflicts --open`)") }
        let usage = try await store.jobs(before: nil, limit: 50).compactMap(\.apiUsage).first
        let share = context.configuration?.salesforce?.limitShare ?? 0.8
        if let usage, usage.share >= share * 0.9 {
            raise(.degraded, "Salesforce API usage \(usage) is near the configured share \(Int(share * 100))%")
        }
        return Health(
            level: level, reasons: reasons, directions: directions, failedRows: failedRows, openConflicts: openConflicts, usage: usage,
            lease: try await store.currentLease())
    }

    var text: String {
        var lines = ["Stagelink: \(["healthy", "degraded", "failing"][Int(level.rawValue)])"]
        for direction in directions {
            lines.append("  \(direction.name.rawValue): last success \(direction.lastSuccess?.finishedAt?.shortText ?? "never")" + (direction.last.map { ", last job \($0.id) \($0.status.rawValue)" } ?? ""))
        }
        lines.append("  failed rows: \(failedRows)   open conflicts: \(openConflicts)   API usage: \(usage?.description ?? "unknown")")
        if let lease, lease.expiresAt > Date(), lease.isAbandoned(onHost: ProcessInfo.processInfo.hostName) {
            lines.append("  service: not running (\(lease.holder) stopped without releasing its lease; the next run takes over)")
        } else if let lease, lease.expiresAt > Date() {
            lines.append("  service: \(lease.holder), since \(lease.since.shortText)")
        } else {
            lines.append("  service: not running")
        }
        lines += reasons.map { "  • \($0)" }
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        var object: JSONObject = [
            "level": .string(["healthy", "degraded", "failing"][Int(level.rawValue)]), "exitCode": .number(String(level.rawValue)),
            "reasons": .array(reasons.map(JSONValue.string)), "failedRows": JSONOutput.number(failedRows),
            "openConflicts": JSONOutput.number(openConflicts), "apiUsage": JSONOutput.text(usage?.description),
        ]
        for direction in directions {
            object[direction.name.rawValue] = [
                "lastSuccess": JSONOutput.instant(direction.lastSuccess?.finishedAt), "lastJob": direction.last.map(JSONOutput.job) ?? .null,
            ]
        }
        object["service"] = lease.map { ["holder": .string($0.holder.description), "since": JSONOutput.instant($0.since), "expiresAt": JSONOutput.instant($0.expiresAt)] } ?? .null
        return .object(object)
    }
}
