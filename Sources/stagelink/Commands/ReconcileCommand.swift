import ArgumentParser
import Foundation
import StagelinkEngine

/// `stagelink reconcile`: compares every linked record on both sides with what the store last saw.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compares every linked record's id and version on both sides and stages what a delta pull missed.",
        discussion: """
            A delta pull reads what changed since its watermark. It misses a change whose timestamp \
            became visible late, one that never moved the timestamp (a formula field), and a \
            deletion that left Salesforce's Recycle Bin before it was read (after 15 days). A \
            reconciliation lists the ids and versions of the linked records on each side (Salesforce: \
            `SELECT Id, SystemModstamp …` by QueryAll, 2,000 a call; the EMR: `_elements=id,meta` \
            searches), fetches and stages every record whose version differs from the one the store \
            last saw, and stages the deletions the system reports; the next link step links them.

            A linked record absent on one side that the system did not report deleted is never \
            deleted or flagged on the other side: it is held for a person as a deletion candidate \
            (code DELETION_CANDIDATE, kind deletion). Settle it with `stagelink retry ROW` (it was \
            deleted: the mapping's onDelete rule applies) or `stagelink ignore ROW --reason …` (it \
            still exists, e.g. moved out of the integration user's sharing).

            The jobs count what they checked, changed, found missing and staged (`stagelink jobs`). \
            `schedule.reconcile` in stagelink.yaml runs it from `stagelink run`; a cycle whose \
            Salesforce watermark is older than 15 days runs it by itself. A running service holds \
            the store: stop it first, or let its schedule reconcile.

            Examples:
              stagelink reconcile
              stagelink reconcile --object Contact
              stagelink reconcile --resource Patient
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions

    @Option(help: "Only this Salesforce object (repeatable); with --resource alone, no Salesforce object.")
    var object: [String] = []

    @Option(help: "Only this EMR resource type (repeatable); with --object alone, no EMR resource.")
    var resource: [String] = []

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .owning)
        let actor = Actor.operator(operatorOptions.resolved)
        let cycle = try await context.cycle(context.endpoints())
        let mapped = cycle.plan(reason: "")
        for name in object where !mapped.objects.contains(name) {
            throw ValidationError("--object \(name): the mapping pulls no such Salesforce object (it pulls \(mapped.objects.joined(separator: ", ")))")
        }
        for name in resource where !mapped.resources.contains(name) {
            throw ValidationError("--resource \(name): the mapping reads no such EMR resource (it reads \(mapped.resources.joined(separator: ", ")))")
        }
        let onlyResources = object.isEmpty && !resource.isEmpty
        let onlyObjects = resource.isEmpty && !object.isEmpty
        let plan = cycle.plan(
            objects: onlyResources ? [] : (object.isEmpty ? nil : object), resources: onlyObjects ? [] : (resource.isEmpty ? nil : resource),
            reason: "asked for by \(operatorOptions.resolved)")
        let service = SyncService(cycle: cycle, every: .seconds(1), holder: Context.holder("reconcile"), logger: context.logger)
        _ = try await service.acquire()
        let trap = SignalTrap()
        let outcome: ([Job], stopped: Bool)
        do {
            outcome = try await cycle.reconcile(plan, actor: actor, trigger: .manual, stop: trap.stop)
            try await context.store.releaseLease(service.holder)
        } catch {
            try? await context.store.releaseLease(service.holder)
            throw error
        }
        var table = TextTable("JOB", "SIDE", "STATUS", "CHECKED", "CHANGED", "MISSING", "STAGED", "API CALLS")
        for job in outcome.0 {
            table.add(
                String(job.id), job.direction == .outbound ? "Salesforce" : "EMR", job.status.rawValue, String(job.counts.checked),
                String(job.counts.changed), String(job.counts.missing), String(job.counts.staged), String(job.apiCalls))
        }
        print(table.render())
        let missing = outcome.0.reduce(0) { $0 + $1.counts.missing }
        if missing > 0 {
            print("\(missing) linked record(s) missing at their source are held as deletion candidates: stagelink rows --error DELETION_CANDIDATE")
        }
        print("Staged rows link in the next cycle (stagelink sync).")
        if outcome.stopped || outcome.0.contains(where: { [.failed, .interrupted].contains($0.status) }) { throw ExitCode(2) }
    }
}
