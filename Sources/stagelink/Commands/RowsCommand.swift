import ArgumentParser
import StagelinkEngine

/// `stagelink rows`: staged rows, filtered and keyset-paged.
struct RowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rows",
        abstract: "Lists staged rows, newest first, filtered by status, object, error code or a person.",
        discussion: """
            Pages are keyset pages: pass the last id shown to --before to see the next page, \
            however many rows the store holds.

            Examples:
              stagelink rows --status failed
              stagelink rows --status withheld      (kept from Salesforce by a security label)
              stagelink rows --error UNABLE_TO_LOCK_ROW --json
              stagelink rows --object Patient --text Müller --before 12345
              stagelink rows --text "zoe muller"          (any case, any accents: finds Zoë Müller)
              stagelink rows --text MRN100042             (an identifier, or --text 1984-02-29 a birth date)
              stagelink rows --kind deletion        (records deleted at their source)
              stagelink rows --kind merge --status held   (merges waiting for a person)
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("Only rows with this status; repeat for several.", valueName: "status"))
    var status: [RowStatus] = []

    @Option(help: "Only rows of this FHIR resource type or Salesforce object (Patient, Admission__c).")
    var object: String?

    @Option(help: "Only rows of this kind: record (a version of a record), deletion, or merge (a record merged into another).")
    var kind: RecordKind?

    @Option(help: "Only rows whose last error has this code.")
    var error: String?

    @Option(help: "Only rows pulled by this job.")
    var job: Int64?

    @Option(
        help: """
            Only rows about this person: every word matches a whole word of the person's name (any case, any accents), \
            an MRN or other identifier, the birth date, or the row's source id; a number also matches the row id.
            """)
    var text: String?

    @Flag(help: "Show the rows the filters do NOT match.")
    var not = false

    @Option(help: "Show rows older than this row id (the next page).")
    var before: Int64?

    @Option(help: "How many rows to show.")
    var limit = 50

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .reading)
        let filter = RowFilter(
            statuses: status.isEmpty ? nil : Set(status), resourceType: object, errorCode: error, jobID: job, text: text, inverted: not,
            kind: kind)
        let sort = RowSort(column: .id, descending: true)
        let rows = try await context.store.rows(
            RowQuery(filter: filter, sort: sort, after: before.map { RowCursor(sortValue: nil, id: $0) }, limit: limit))
        if json {
            JSONOutput.print(.array(rows.map(JSONOutput.row)))
            return
        }
        let total = try await context.store.countRows(filter)
        var table = TextTable("ID", "STATUS", "KIND", "SYSTEM", "OBJECT", "SOURCE ID", "NAME", "VERSION", "RECEIVED", "JOB", "ERROR")
        for row in rows {
            table.add(
                String(row.id), "\(row.status.symbol) \(row.status.rawValue)", Self.kindText(row), row.system.rawValue, row.resourceType, row.sourceID,
                row.personName ?? "",
                row.version ?? "",
                row.receivedAt.shortText, row.jobID.map(String.init) ?? "", row.errorCode.map { "\($0): \(row.errorMessage ?? "")" } ?? "")
        }
        print(table.render())
        let next = rows.count == limit ? " — next page: --before \(rows.last!.id)" : ""
        print("\(rows.count) of \(total) rows\(next)")
    }

    /// `deletion`, `merge → 1017`, or blank for a record version.
    static func kindText(_ row: StagedRowSummary) -> String {
        switch row.kind {
        case .record: ""
        case .deletion: "deletion"
        case .merge: "merge → \(row.survivorID ?? "?")"
        }
    }
}

extension RowStatus: ExpressibleByArgument {}
extension RecordKind: ExpressibleByArgument {}
