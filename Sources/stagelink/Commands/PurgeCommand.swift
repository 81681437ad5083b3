import ArgumentParser
import Foundation
import StagelinkEngine

/// `stagelink purge`: the retention purge of payloads whose record has moved on.
struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Empties the payloads of linked, superseded and ignored rows older than the retention period.",
        discussion: """
            The period is `retention.payloads` in stagelink.yaml (such as 90d), or --older-than. Rows \
            received before it whose status is linked, superseded or ignored lose their verbatim \
            payload and the other system's error bodies; their hashes, statuses, history, lineage \
            and the audit stay. Failed, held, withheld and staged rows are never purged. Each purge \
            is recorded with its counts (`stagelink purge --audit`); `show` and the console then say \
            "payload purged on …".

            Examples:
              stagelink purge --dry-run
              stagelink purge --older-than 90d --operator alice
              stagelink purge --audit
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions

    @Option(name: .customLong("older-than"), help: "The retention period in days (90d), instead of retention.payloads.")
    var olderThan: String?

    @Flag(name: .customLong("dry-run"), help: "Count what would be purged; change nothing.")
    var dryRun = false

    @Flag(help: "List past purges instead, newest first.")
    var audit = false

    func run() async throws {
        let context = try await Context.open(storeOptions, for: audit || dryRun ? .reading : .writing)
        if audit {
            var table = TextTable("ID", "WHEN", "WHO", "RECEIVED BEFORE", "ROWS", "BYTES", "CONFLICTS")
            for purge in try await context.store.payloadPurges(limit: 100) {
                table.add(
                    String(purge.id ?? 0), purge.at.shortText, purge.actor.description, purge.cutoff.shortText, String(purge.rows), String(purge.bytes),
                    String(purge.conflicts))
            }
            print(table.render())
            return
        }
        let period: Duration
        if let olderThan {
            guard let parsed = StagelinkConfiguration.retentionPeriod(olderThan) else {
                throw ValidationError("--older-than: " + StagelinkConfiguration.retentionProblem(olderThan) + ".")
            }
            period = parsed
        } else if let configured = context.configuration?.payloadRetention {
            period = configured
        } else {
            throw ValidationError("No retention period: set retention.payloads in stagelink.yaml (such as 90d), or pass --older-than 90d.")
        }
        let cutoff = Date().addingTimeInterval(-period.seconds)
        let purge = try await context.store.purgePayloads(receivedBefore: cutoff, actor: .operator(operatorOptions.resolved), dryRun: dryRun)
        let verb = dryRun ? "Would purge" : "Purged"
        print(
            "\(verb) the payloads of \(purge.rows) rows (\(purge.bytes) bytes) received before \(cutoff.shortText), and the values of \(purge.conflicts) conflicts they found.")
        if let id = purge.id { print("Recorded as purge \(id) (stagelink purge --audit).") }
    }
}
