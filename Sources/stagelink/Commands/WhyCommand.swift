import ArgumentParser
import StagelinkEngine

/// `stagelink why`: the lineage of one field's value.
struct WhyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why",
        abstract: "Says which staged row, job, rule and actor put the value a field holds.",
        discussion: """
            The id is the Salesforce record id or the record's key (for a Contact, its EMR patient id). \
            The read is recorded in the access log against the staged row it names.

            Example:
              stagelink why Contact 003000000000001AAA Birthdate
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var operatorOptions: OperatorOptions

    @Argument(help: "The Salesforce object (Contact, Assessment__c).")
    var object: String

    @Argument(help: "The record's Salesforce id or key.")
    var id: String

    @Argument(help: "The field (Birthdate).")
    var field: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .reading)
        let answer = try await WhyAnswer.find(in: context.store, object: object, id: id, field: field)
        // The answer names a staged row and a value from it: logged like a read of that row.
        if let row = answer.row {
            try await context.store.recordAccess(RowAccess(rowID: row.id, operatorName: operatorOptions.resolved, via: .why))
        }
        if json {
            JSONOutput.print([
                "write": JSONOutput.write(answer.write), "row": answer.row.map { JSONOutput.row($0.summary) } ?? .null,
                "job": answer.job.map(JSONOutput.job) ?? .null, "synced": answer.state?.synced?.json ?? .null,
                "retired": .array(answer.retired.map(Self.retiredJSON)),
            ])
            return
        }
        let write = answer.write
        print("\(object) \(answer.record.key) \(field) = \(DisplayText.escaped(write.valueText))")
        print("  written into \(write.writtenTo.rawValue) at \(write.at.shortText) by \(write.actor)")
        print("  rule: \(write.rule.rawValue) — \(write.reason)")
        if let row = answer.row {
            print("  from staged row \(row.id): \(row.system.rawValue) \(row.resourceType)/\(DisplayText.escaped(row.sourceID)) version \(row.version ?? "—"), received \(row.receivedAt.shortText)")
        }
        if let job = answer.job {
            print("  job \(job.id): \(job.kind.rawValue) \(job.direction?.rawValue ?? "") started \(job.startedAt.shortText), \(job.status.rawValue)")
        }
        if let synced = answer.state?.synced, write.valuePurgedAt == nil, synced != write.value {
            print("  note: the synced value is now \(DisplayText.escaped(synced.description)) (set by a later sync)")
        }
        for link in answer.retired {
            print("  \(Self.retiredText(link)): nothing is written into this record from it since \(link.updatedAt.shortText)"
                + (link.linkedRowID.map { " (staged row \($0))" } ?? ""))
        }
    }

    /// "emr Patient/1017 was merged into Patient/1004".
    static func retiredText(_ link: RecordLink) -> String {
        let state = link.retirement?.describe(resourceType: link.source.resourceType) ?? "retired"
        return "\(link.source.system.rawValue) \(link.source.resourceType)/\(DisplayText.escaped(link.source.sourceID)) was \(state)"
    }

    static func retiredJSON(_ link: RecordLink) -> JSONValue {
        [
            "source": .string("\(link.source.system.rawValue) \(link.source.resourceType)/\(link.source.sourceID)"),
            "retired": .string(link.retirement?.describe(resourceType: link.source.resourceType) ?? "retired"),
            "row": JSONOutput.number(link.linkedRowID), "at": JSONOutput.instant(link.updatedAt),
        ]
    }
}
