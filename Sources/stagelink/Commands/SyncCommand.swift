import ArgumentParser
import Foundation
import Logging
import StagelinkEngine

/// `stagelink sync`: one cycle now.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Runs one sync cycle now, both directions or one.",
        discussion: """
            If a service (`stagelink run`) holds the store, it is asked to run the cycle instead, \
            so that two cycles never overlap.

            Examples:
              stagelink sync
              stagelink sync --inbound
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions

    @Flag(help: "Only EMR → Salesforce.")
    var inbound = false

    @Flag(help: "Only Salesforce → EMR.")
    var outbound = false

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .owning)
        let directions: Set<Job.Direction> = inbound == outbound ? [.inbound, .outbound] : (inbound ? [.inbound] : [.outbound])
        let actor = Actor.operator(operatorOptions.resolved)
        if let lease = try await context.store.currentLease(), lease.expiresAt > Date(), !lease.isAbandoned(onHost: ProcessInfo.processInfo.hostName) {
            try await context.store.requestSync(directions, actor: actor)
            print("The service \(lease.holder) holds this store; it was asked to run a cycle now. Follow it with `stagelink jobs` or the console.")
            return
        }
        try await context.mapping.loadPolicy(into: context.store)
        let cycle = try await context.cycle(context.endpoints())
        let service = SyncService(cycle: cycle, every: .seconds(1), holder: Context.holder("sync"), logger: context.logger)
        let trap = SignalTrap()
        let progress = ProgressLine(store: context.store)
        let lastJob = try await context.store.jobs(before: nil, limit: 1).first?.id
        let follow = Task { await progress.follow(after: lastJob) }
        let report = try await service.runOnce(directions, actor: actor, stop: trap.stop)
        follow.cancel()
        await progress.finish()
        print(CycleSummary.table(report))
        switch report.worstStatus {
        case .failed, .interrupted: throw ExitCode(2)
        case .partial: throw ExitCode(1)
        default: break
        }
    }
}

/// A cycle's counts per direction, as the end of `sync` and the headless demo print them.
enum CycleSummary {
    static func table(_ report: CycleReport) -> String {
        var table = TextTable("DIRECTION", "PULLED", "STAGED", "DEDUPLICATED", "LINKED", "FAILED", "SUPERSEDED", "CONFLICTS", "API CALLS")
        for direction in Job.Direction.allCases where report.jobs.contains(where: { $0.direction == direction }) {
            let counts = report.counts(direction)
            table.add(
                direction == .inbound ? "inbound (EMR → Salesforce)" : "outbound (Salesforce → EMR)", String(counts.pulled), String(counts.staged),
                String(counts.deduplicated), String(counts.linked), String(counts.failed), String(counts.superseded), String(counts.conflicts),
                String(report.apiCalls(direction)))
        }
        return table.render()
    }
}
