import ArgumentParser
import StagelinkEngine

/// `stagelink show`: one staged row with all its evidence.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Shows one staged row: its payload, error with the remote body, history and lineage.",
        discussion: """
            The payload is pretty-printed in its original key order; control characters in it are \
            shown escaped, never sent to the terminal. The fields the error names are marked ▶.

            Every read is recorded in the access log with your name and this process \
            (`stagelink audit access --row ID`); a read that cannot be recorded is not shown.

            Example:
              stagelink show 4211
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var operatorOptions: OperatorOptions

    @Argument(help: "The row id (see `stagelink rows`).")
    var id: Int64

    @Flag(help: "Print JSON for scripts (the payload as received, as a string).")
    var json = false

    func run() async throws {
        let context = try await Context.open(storeOptions, for: .reading)
        guard let row = try await context.store.row(id: id) else {
            throw ValidationError("No staged row has id \(id).")
        }
        // Logged before anything is shown (`stagelink audit access --row N` lists it).
        try await context.store.recordAccess(RowAccess(rowID: id, operatorName: operatorOptions.resolved, via: .show))
        let history = try await context.store.history(ofRow: id)
        let attempts = try await context.store.attempts(ofRow: id)
        let writes = try await context.store.writes(byRow: id)
        if json {
            JSONOutput.print([
                "row": JSONOutput.row(row.summary), "contentHash": .string(row.contentHash), "note": JSONOutput.text(row.note),
                "error": JSONOutput.error(row.error), "payload": row.payloadPurgedAt == nil ? .string(String(decoding: row.payload, as: UTF8.self)) : .null,
                "payloadPurgedAt": JSONOutput.instant(row.payloadPurgedAt),
                "history": .array(history.map { ["from": JSONOutput.text($0.from?.rawValue), "to": .string($0.to.rawValue), "at": JSONOutput.instant($0.at), "actor": .string($0.actor.description), "note": JSONOutput.text($0.note)] }),
                "attempts": .array(attempts.map { ["number": JSONOutput.number($0.number), "at": JSONOutput.instant($0.at), "actor": .string($0.actor.description), "outcome": .string($0.outcome.rawValue), "error": JSONOutput.error($0.error)] }),
                "lineage": .array(writes.map(JSONOutput.write)),
            ])
            return
        }
        print("Row \(row.id) — \(row.status.symbol) \(row.status.rawValue)")
        print("  \(row.system.rawValue) \(row.resourceType)/\(DisplayText.escaped(row.sourceID))  version \(row.version ?? "—")  last updated \(row.lastUpdated?.shortText ?? "—")")
        print("  received \(row.receivedAt.shortText) by job \(row.jobID.map(String.init) ?? "—")  \(ContentHash.display(row.contentHash))")
        if let note = row.note { print("  note: \(DisplayText.escaped(note))") }
        if let error = row.error {
            print("\nError  \(error.code)\(error.fields.isEmpty ? "" : " [\(error.fields.joined(separator: ", "))]")")
            print("  \(DisplayText.escaped(error.message))")
            if let body = error.remoteBody {
                print("  remote body:")
                print(indent(DisplayText.escaped(prettyIfJSON(body), keepingLineBreaks: true), by: 4))
            }
            if !error.further.isEmpty {
                print("\nAlso in this record (\(error.further.count) more; fix all before retrying)")
                for problem in error.further {
                    print("  \(DisplayText.escaped(problem.code))\(problem.fields.isEmpty ? "" : " [\(DisplayText.escaped(problem.fields.joined(separator: ", ")))]")")
                    print("    \(DisplayText.escaped(problem.message))")
                }
            }
        }
        if let purged = row.payloadPurgedAt {
            print("\nPayload purged on \(purged.shortText) (retention): its \(ContentHash.display(row.contentHash)), status, history and lineage are kept.")
        } else {
            print("\nPayload (\(row.payload.count) bytes, as received)")
        }
        if row.payloadPurgedAt != nil {
            // Nothing left to show.
        } else if let value = try? JSONValue(parsing: row.payload) {
            let highlighted = faultyPaths(of: row, in: value, mapping: context.loadedMapping)
            for line in JSONWriter.prettyLines(value) {
                let marked = highlighted.contains { !line.path.isEmpty && (line.path == $0 || line.path.hasPrefix($0 + ".") || line.path.hasPrefix($0 + "[")) }
                print((marked ? "▶ " : "  ") + line.text)
            }
        } else {
            print(indent(DisplayText.escaped(String(decoding: row.payload, as: UTF8.self), keepingLineBreaks: true), by: 2))
        }
        print("\nHistory")
        for transition in history {
            print("  \(transition.at.shortText)  \(transition.from?.rawValue ?? "—") → \(transition.to.rawValue)  \(transition.actor)\(transition.note.map { "  \(DisplayText.escaped($0))" } ?? "")")
        }
        if !attempts.isEmpty {
            print("\nLink attempts")
            for attempt in attempts {
                print("  #\(attempt.number)  \(attempt.at.shortText)  \(attempt.outcome.rawValue)  \(attempt.actor)\(attempt.error.map { "  \($0.code): \(DisplayText.escaped($0.message))" } ?? "")")
            }
        }
        if !writes.isEmpty {
            print("\nLineage — values this row wrote")
            var table = TextTable("INTO", "RECORD", "FIELD", "VALUE", "RULE", "WHY")
            for write in writes {
                table.add(write.writtenTo.rawValue, "\(write.record.object) \(write.record.key)", write.field, write.value.description, write.rule.rawValue, write.reason)
            }
            print(indent(table.render(), by: 2))
        }
    }

    /// Where in the payload the fields the error names are (`Birthdate` → `birthDate`).
    private func faultyPaths(of row: StagedRow, in payload: JSONValue, mapping: MappingDocument?) -> [String] {
        guard let fields = row.error?.all.flatMap(\.fields) else { return [] }
        let inbound = mapping?.inbound(forResource: row.resourceType)
        return fields.compactMap { field in
            inbound?.fields.first { $0.field == field }?.path.flatMap { $0.locate(in: payload) } ?? (payload[field] != nil ? field : nil)
        }
    }

    private func prettyIfJSON(_ text: String) -> String {
        (try? JSONValue(parsing: Array(text.utf8))).map { JSONWriter.prettyString($0) } ?? text
    }

    private func indent(_ text: String, by spaces: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { String(repeating: " ", count: spaces) + $0 }.joined(separator: "\n")
    }
}
