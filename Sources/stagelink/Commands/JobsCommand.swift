import ArgumentParser
import StagelinkEngine

/// `stagelink jobs`: the history of sync jobs.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Lists sync jobs, newest first: kind, direction, status, counts, API calls, watermarks.",
        discussion: """
            A running job shows its live progress. See a job's rows with `stagelink rows --job ID`. A bulk \
            pull whose export manifest reported errors lists them under the table; reconciliation jobs \
            (`stagelink reconcile`) list what they checked, found changed and found missing, and why they ran.

            Example:
              stagelink jobs --limit 20
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "Show jobs older than this job id (the next page).")
    var before: Int64?

    @Option(help: "How many jobs to show.")
    var limit = 20

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .reading)
        let jobs = try await context.store.jobs(before: before, limit: limit)
        if json {
            JSONOutput.print(.array(jobs.map(JSONOutput.job)))
            return
        }
        var table = TextTable("ID", "KIND", "DIRECTION", "STARTED", "DURATION", "STATUS", "PULLED", "STAGED", "LINKED", "FAILED", "API", "WATERMARK", "BY")
        for job in jobs {
            let duration = (job.finishedAt ?? job.progress.updatedAt).map { String(format: "%.1fs", $0.timeIntervalSince(job.startedAt)) } ?? "—"
            let status = job.status == .running ? "running: \(job.progress.phase) \(job.progress.done)\(job.progress.total.map { "/\($0)" } ?? "")" : job.status.rawValue
            table.add(
                String(job.id), job.kind.rawValue, job.direction?.rawValue ?? "—", job.startedAt.shortText, duration, status, String(job.counts.pulled),
                String(job.counts.staged), String(job.counts.linked), String(job.counts.failed), String(job.apiCalls),
                job.watermarkAfter.map { $0.shortText } ?? "—", job.actor.description)
        }
        print(table.render())
        for job in jobs where !job.exportErrors.isEmpty {
            print("\nJob \(job.id): the export's manifest reported \(job.exportErrors.count) errors:")
            for error in job.exportErrors.prefix(20) { print("  - \(DisplayText.escaped(error))") }
            if job.exportErrors.count > 20 { print("  … and \(job.exportErrors.count - 20) more (stagelink jobs --json)") }
        }
        let reconciliations = jobs.filter { $0.kind == .reconcile }
        if !reconciliations.isEmpty {
            var table = TextTable("RECONCILIATION", "SIDE", "CHECKED", "CHANGED", "MISSING", "STAGED", "WHY")
            for job in reconciliations {
                table.add(
                    String(job.id), job.direction == .outbound ? "Salesforce" : "EMR", String(job.counts.checked), String(job.counts.changed),
                    String(job.counts.missing), String(job.counts.staged), DisplayText.escaped(job.message ?? ""))
            }
            print("\n" + table.render())
        }
    }
}
