import StagelinkEngine

/// The detail pane's text for one row, section by section, built once when the row is read.
struct DetailDocument {
    var evidence: RowEvidence
    var mapping: MappingDocument?
    var format: TextFormat

    private typealias Line = ScrollText.Line
    private static let labelWidth = 13

    var lines: [ScrollText.Line] {
        let payload = try? JSONValue(parsing: evidence.row.payload)
        // Each problem's fields, the first problem's first: the payload marks every one.
        let locations = payload.flatMap { payload in
            evidence.row.error.map { error in
                error.all.flatMap { FailingFieldLocator(mapping: mapping).locations(for: evidence.row, error: $0, payload: payload) }
            }
        } ?? []
        return summary + errorSection(locations) + payloadSection(payload, locations: locations) + historySection + attemptsSection
            + lineageSection + conflictsSection
    }

    private func heading(_ title: String, _ detail: String = "") -> [Line] {
        var line = StyledLine(title, .section)
        if !detail.isEmpty { line.append("  " + detail, .muted) }
        return [Line(StyledLine()), Line(line)]
    }

    private func field(_ label: String, _ value: StyledLine) -> Line {
        Line(StyledLine(label.padding(to: Self.labelWidth), .muted) + value)
    }

    private func field(_ label: String, _ value: String, _ role: Role = .body) -> Line {
        field(label, StyledLine(value, role))
    }

    private var summary: [Line] {
        let row = evidence.row
        var lines = [Line(StyledLine("Summary", .section))]
        lines.append(field("status", StyledLine(row.status.cell.text, row.status.role) + StyledLine(" · \(attempts(row.attemptCount))", .muted)))
        var record = "\(row.system.displayName) \(row.resourceType) \(row.sourceID)"
        if let version = row.version { record += " · version \(version)" }
        if let updated = row.lastUpdated { record += " · updated \(format.dateTime(updated))" }
        lines.append(field("record", record))
        switch row.kind {
        case .record: break
        case .deletion: lines.append(field("kind", "deletion: the record was deleted in \(row.system.displayName)", .warning))
        case .merge:
            // The loser is this row's record; the survivor the one it was merged into.
            lines.append(field("kind", "merge", .warning))
            lines.append(field("loser", "\(row.resourceType) \(row.sourceID) (merged away)"))
            lines.append(field("survivor", row.survivorID.map { "\(row.resourceType) \($0)" } ?? "not named (the merge fails)"))
        }
        lines.append(field("received", format.dateTime(row.receivedAt) + (row.jobID.map { " · job \($0)" } ?? "")))
        lines.append(field("content", ContentHash.display(row.contentHash), .muted))
        if let parent = evidence.parent { lines.append(field("parent", parentLine(parent))) }
        if let note = row.note { lines.append(field("note", note)) }
        return lines
    }

    /// `Patient p12 · row 345 ✗ failed UNABLE_TO_LOCK_ROW · not linked yet   P: open it`
    private func parentLine(_ parent: ParentRecord) -> StyledLine {
        var line = StyledLine("\(parent.key.resourceType) \(parent.key.sourceID)")
        if let row = parent.row {
            line.append(" · row \(row.id) ", .muted)
            line.append(row.status.cell.text + (row.errorCode.map { " \($0)" } ?? ""), row.status.role)
        } else {
            line.append(" · not staged here", .muted)
        }
        line.append(parent.isLinked ? " · linked" : " · not linked yet", parent.isLinked ? .ok : .warning)
        if parent.row != nil { line.append("   P: open it", .muted) }
        return line
    }

    private func attempts(_ count: Int) -> String {
        count == 0 ? "not tried yet" : (count == 1 ? "1 attempt" : "\(count) attempts")
    }

    private func errorSection(_ locations: [FailingFieldLocator.Location]) -> [Line] {
        guard let error = evidence.row.error else { return [] }
        if evidence.row.status == .withheld {
            // Not a failure: the reason it is never sent.
            return heading("Withheld", "a security label keeps it from the other side; nothing retries it") + [
                field("code", error.code, .warning), field("message", error.message),
            ]
        }
        var lines = heading("Error", evidence.row.status == .failed ? "why the last link failed" : "kept from the last failure")
        lines.append(field("code", error.code, .error))
        lines.append(field("message", error.message))
        if !error.fields.isEmpty {
            var text = error.fields.joined(separator: ", ")
            if let first = locations.first {
                text += first.isPresent ? " → \(first.path) (▶ in the payload)" : " → not in the payload (▶ marks \(first.path), where it belongs)"
            }
            lines.append(Line(StyledLine("fields".padding(to: Self.labelWidth), .muted) + StyledLine(text), mark: Span("▶", .error)))
        }
        if !error.further.isEmpty {
            // Every problem of the record at once: fixing one and retrying must not reveal the next.
            let count = error.further.count
            lines.append(field("also", "\(count) more \(count == 1 ? "problem" : "problems") in this record: fix all before retrying", .warning))
            for problem in error.further {
                var line = StyledLine(problem.code, .error)
                if !problem.fields.isEmpty { line.append(" [\(problem.fields.joined(separator: ", "))]", .body) }
                line.append("  " + problem.message, .body)
                lines.append(Line(StyledLine("".padding(to: Self.labelWidth)) + line, mark: problem.fields.isEmpty ? nil : Span("▶", .error)))
            }
        }
        if error.isTransient { lines.append(field("transient", "yes: the service retries it by itself", .pending)) }
        if let body = error.remoteBody, !body.isEmpty {
            lines.append(field("remote body", "\(evidence.row.system.other.displayName)'s answer, verbatim", .muted))
            if let json = try? JSONValue(parsing: Array(body.utf8)) {
                lines += JSONWriter.prettyLines(json).map { Line(StyledLine("  ") + JSONLineStyle.styled($0.text)) }
            } else {
                lines += body.split(separator: "\n", omittingEmptySubsequences: false).map { Line(StyledLine("  " + $0, .body)) }
            }
        }
        return lines
    }

    private func payloadSection(_ payload: JSONValue?, locations: [FailingFieldLocator.Location]) -> [Line] {
        let bytes = evidence.row.payload
        if let purged = evidence.row.payloadPurgedAt {
            return heading("Payload", "purged on \(format.stamp(purged)) by the retention period") + [
                field("hash", ContentHash.display(evidence.row.contentHash), .muted), field("kept", "status, history, attempts and lineage"),
            ]
        }
        guard let payload else {
            var lines = heading("Payload", "verbatim, \(format.grouped(bytes.count)) bytes — not valid JSON, shown as received")
            let text = String(decoding: bytes, as: UTF8.self)
            lines += text.split(separator: "\n", omittingEmptySubsequences: false).map { Line(StyledLine(String($0))) }
            return lines
        }
        var lines = heading("Payload", "verbatim, \(format.grouped(bytes.count)) bytes, pretty-printed")
        for line in JSONWriter.prettyLines(payload) {
            let isFailing = !line.path.isEmpty && locations.contains { FailingFieldLocator.line(line.path, isWithin: $0.path) }
            lines.append(
                isFailing
                    ? Line(StyledLine(line.text), mark: Span("▶", .error), highlight: .highlight)
                    : Line(JSONLineStyle.styled(line.text)))
        }
        return lines
    }

    private var historySection: [Line] {
        var lines = heading("History", "every status change, oldest first")
        for transition in evidence.history {
            var line = StyledLine(format.dateTime(transition.at) + "  ", .muted)
            if let from = transition.from { line.append("\(from.symbol) \(from.rawValue) → ", from.role) }
            line.append("\(transition.to.symbol) \(transition.to.rawValue)", transition.to.role)
            line.append("  \(transition.actor)", .muted)
            if let note = transition.note { line.append("  \(note)") }
            lines.append(Line(line))
        }
        return lines
    }

    private var attemptsSection: [Line] {
        var lines = heading("Attempts", evidence.attempts.isEmpty ? "never tried" : "every link try, oldest first")
        for attempt in evidence.attempts {
            var line = StyledLine("#\(attempt.number)  " + format.dateTime(attempt.at) + "  ", .muted)
            let role: Role = attempt.outcome == .failed ? .error : (attempt.outcome == .superseded ? .inactive : attempt.outcome == .withheld ? .warning : .ok)
            line.append(attempt.outcome.rawValue, role)
            line.append("  \(attempt.actor)", .muted)
            if let error = attempt.error { line.append("  \(error.code): \(error.message)", .error) }
            lines.append(Line(line))
        }
        return lines
    }

    private var lineageSection: [Line] {
        var lines = heading("Lineage", evidence.writes.isEmpty ? "this row has written no values" : "the values this row wrote")
        for write in evidence.writes {
            var line = StyledLine("\(write.record) · ", .muted)
            line.append(write.field, .jsonKey)
            line.append(" = ", .muted)
            line.append(write.valueText, write.valuePurgedAt == nil ? .jsonString : .muted)
            line.append(" → \(write.writtenTo.displayName) · rule \(write.rule) · \(write.actor) · \(write.reason)", .muted)
            lines.append(Line(line))
        }
        return lines
    }

    private var conflictsSection: [Line] {
        guard !evidence.conflicts.isEmpty else { return [] }
        var lines = heading("Conflicts", "found while linking this row")
        for conflict in evidence.conflicts {
            var line = StyledLine("#\(conflict.id) \(conflict.field): ", .muted)
            line.append("EMR \(conflict.emrValue)", conflict.winner == .emr ? .ok : .body)
            line.append(" vs ", .muted)
            line.append("Salesforce \(conflict.salesforceValue)", conflict.winner == .salesforce ? .ok : .body)
            line.append(" · rule \(conflict.rule) · ", .muted)
            line.append(conflict.cell.text, conflict.status.role)
            lines.append(Line(line))
        }
        return lines
    }
}

extension Conflict {
    var cell: Span { status.cell }
}

extension StringProtocol {
    /// The text followed by spaces up to `width` columns (never cut).
    func padding(to width: Int) -> String {
        String(self) + String(repeating: " ", count: Swift.max(0, width - DisplayWidth.of(self)))
    }
}
