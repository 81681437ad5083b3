import ArgumentParser
import StagelinkEngine

/// `stagelink retry`: re-run the linker on failed rows.
struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Retries failed rows: by id, every row with an error code, or every failed row.",
        discussion: """
            Each retry is a new attempt; earlier attempts stay in the row's history. A row older \
            than the version already linked is marked superseded instead of applied. Safe while \
            the service runs: a row is never linked by two processes at once.

            Examples:
              stagelink retry 4211 4212
              stagelink retry --error UNABLE_TO_LOCK_ROW
              stagelink retry --all-failed
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions

    @Argument(help: "Row ids to retry.")
    var ids: [Int64] = []

    @Option(help: "Retry every failed row whose error has this code.")
    var error: String?

    @Flag(help: "Retry every failed row.")
    var allFailed = false

    func validate() throws {
        let chosen = (ids.isEmpty ? 0 : 1) + (error == nil ? 0 : 1) + (allFailed ? 1 : 0)
        guard chosen == 1 else { throw ValidationError("Choose exactly one: row ids, --error CODE, or --all-failed.") }
    }

    func run() async throws {
        let context = try await Context.open(storeOptions)
        // Every id is checked before anything is retried: a typo names itself and retries nothing.
        var unknown: [Int64] = []
        for id in ids where try await context.store.row(id: id) == nil { unknown.append(id) }
        if !unknown.isEmpty {
            throw ValidationError(
                "No staged row has id \(unknown.map(String.init).joined(separator: ", ")) (see `stagelink rows`); nothing was retried.")
        }
        let operations = try await context.cycle(context.endpoints()).operations
        let selection: Operations.RetrySelection = !ids.isEmpty ? .rows(ids) : error.map { .errorCode($0) } ?? .allFailed
        let report = try await operations.retry(selection, by: operatorOptions.resolved)
        var table = TextTable("ID", "STATUS", "OBJECT", "SOURCE ID", "ERROR")
        for row in report.rows {
            table.add(String(row.id), "\(row.status.symbol) \(row.status.rawValue)", row.resourceType, row.sourceID, row.errorCode.map { "\($0): \(row.errorMessage ?? "")" } ?? "")
        }
        if !report.rows.isEmpty { print(table.render()) }
        let linked = report.rows.filter { $0.status == .linked }.count
        print("Retry job \(report.job.id): \(report.rows.count) rows tried, \(linked) linked, \(report.job.counts.failed) failed, \(report.job.counts.superseded) superseded.")
        if !report.skipped.isEmpty {
            print("Not retried (not failed, or being linked right now): \(report.skipped.map(String.init).joined(separator: ", ")).")
        }
        if report.job.counts.failed > 0 { throw ExitCode(1) }
    }
}

/// The rows an audited status change acts on, and why: `4211 4212 --reason "…"`.
struct ReasonedRows: ParsableArguments {
    @Argument(help: "Row ids.")
    var ids: [Int64]

    @Option(help: "Why (recorded in the row's history).")
    var reason: String

    /// `Ignored 2 of 3 rows.`, then the rows left as they were, which make the exit status 1.
    func report(changed: [Int64], done: String, notDone: String) throws {
        print("\(done) \(changed.count) of \(ids.count) rows.")
        let skipped = ids.filter { !changed.contains($0) }
        if !skipped.isEmpty {
            print("\(notDone): \(skipped.map(String.init).joined(separator: ", ")).")
            throw ExitCode(1)
        }
    }
}

/// `stagelink ignore`: set failed rows aside, visibly, with a reason.
struct IgnoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ignore",
        abstract: "Sets failed rows aside as ignored, with a reason; they stay visible with their error.",
        discussion: """
            Example:
              stagelink ignore 4211 --reason "test patient, removed from the EMR"
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions
    @OptionGroup var rows: ReasonedRows

    func run() async throws {
        let context = try await Context.open(storeOptions)
        let ignored = try await context.offlineOperations.ignore(rows: rows.ids, reason: rows.reason, by: operatorOptions.resolved)
        try rows.report(changed: ignored, done: "Ignored", notDone: "Not failed, so not ignored")
    }
}

/// `stagelink unignore`: put ignored rows back among the failures, with a reason.
struct UnignoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unignore",
        abstract: "Puts ignored rows back among the failures, with their error, for someone to fix; audited like ignore.",
        discussion: """
            The row turns failed again with the error it had; the reason and the operator go into \
            its history. The console's `u` key does the same.

            Example:
              stagelink unignore 4211 --reason "not a test patient after all"
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions
    @OptionGroup var rows: ReasonedRows

    func run() async throws {
        let context = try await Context.open(storeOptions)
        let unignored = try await context.offlineOperations.unignore(rows: rows.ids, reason: rows.reason, by: operatorOptions.resolved)
        try rows.report(changed: unignored, done: "Un-ignored", notDone: "Not ignored, so left as they were")
    }
}

/// `stagelink push`: send one Salesforce record to the EMR now.
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Sends one Salesforce record to the EMR now, whatever its stage, and prints the EMR ids.",
        discussion: """
            An admission creates its Patient (by conditional create on the Contact's id, so never \
            twice) and its ServiceRequest, and the EMR ids are written back to Salesforce. The \
            console's `p` key does the same.

            Example:
              stagelink push a01000000000042AAA
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var operatorOptions: OperatorOptions

    @Argument(help: "The Salesforce record id (an Admission__c or a Contact).")
    var salesforceID: String

    func run() async throws {
        let context = try await Context.open(storeOptions)
        let operations = try await context.cycle(context.endpoints()).operations
        let report = try await operations.push(salesforceID: salesforceID, by: operatorOptions.resolved)
        switch report.outcome.status {
        case .failed:
            let error = report.outcome.error
            print("Push failed (row \(report.rowID), job \(report.job.id)): \(error.map { "\($0.code): \(DisplayText.escaped($0.message))" } ?? "unknown error")")
            throw ExitCode(1)
        default:
            print("Pushed \(salesforceID) (row \(report.rowID), job \(report.job.id)): \(DisplayText.escaped(report.outcome.note ?? report.outcome.status.rawValue))")
            for reference in report.emrReferences { print("  EMR: \(reference)") }
        }
    }
}
