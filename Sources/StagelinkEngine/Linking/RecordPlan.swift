import Foundation

/// The decisions for every field of one mapped record arriving from one side: what to write into
/// the other side, the field states after a successful write, the lineage and the conflicts.
struct RecordPlan: Sendable {
    var row: StagedRow
    var record: MappedRecord
    /// Fields to write into the other side (the external id is added by the caller).
    var writtenFields: [MappedField]
    var fieldStates: [FieldStateChange]
    var writes: [FieldWrite]
    var conflicts: [ConflictRecord]
    /// Fields waiting on a person.
    var heldFields: [String]
    var actor: Actor
    var at: Date

    /// `writable` limits which fields may be written into the other side (nil: all of them); a
    /// change of another field is observed and kept as a divergence the owner's next change settles.
    static func make(
        row: StagedRow, record: MappedRecord, externalID: String?, states: [String: FieldState]?, policy: PolicyTable, from side: SourceSystem,
        writable: Set<String>? = nil, actor: Actor, jobID: Int64?, at: Date
    ) -> RecordPlan {
        make(
            row: row, record: record, externalID: externalID, states: states,
            rules: policy.rules(object: record.record.object, fields: record.fields.map(\.name)), from: side, writable: writable, actor: actor,
            jobID: jobID, at: at)
    }

    /// As above, with the rules of the record's fields already looked up, in field order.
    static func make(
        row: StagedRow, record: MappedRecord, externalID: String?, states: [String: FieldState]?, rules: [OwnerRule], from side: SourceSystem,
        writable: Set<String>? = nil, actor: Actor, jobID: Int64?, at: Date
    ) -> RecordPlan {
        var plan = RecordPlan(row: row, record: record, writtenFields: [], fieldStates: [], writes: [], conflicts: [], heldFields: [], actor: actor, at: at)
        plan.writtenFields.reserveCapacity(record.fields.count)
        plan.fieldStates.reserveCapacity(record.fields.count)
        plan.writes.reserveCapacity(record.fields.count)
        for (field, rule) in zip(record.fields, rules) {
            var state = states?[field.name] ?? FieldState()
            let (decision, sides) = FieldDecision.decide(incoming: field.value, from: side, state: states?[field.name], rule: rule)
            state.observe(field.value, on: side)
            switch decision {
            case .unchanged:
                break
            case .agreed:
                state.synced = field.value
            case .write where writable.map({ !$0.contains(field.name) }) ?? false:
                break
            case .write(let reason):
                state.synced = field.value
                state.observe(field.value, on: side.other)
                if field.name != externalID { plan.writtenFields.append(field) }
                plan.writes.append(
                    FieldWrite(
                        record: record.record, field: field.name, value: field.value, writtenTo: side.other, rowID: row.id, jobID: jobID,
                        rule: rule, actor: actor, at: at, reason: reason.rawValue))
            case .keep:
                break
            case .hold:
                plan.heldFields.append(field.name)
            }
            if let sides {
                plan.conflicts.append(
                    ConflictRecord(
                        record: record.record, field: field.name, rowID: row.id, emrValue: sides.emr, salesforceValue: sides.salesforce, rule: rule,
                        winner: sides.winner))
            }
            plan.fieldStates.append(FieldStateChange(record: record.record, field: field.name, state: state))
        }
        return plan
    }

    /// The outcome once the other side accepted the write (or nothing needed writing).
    func outcome(link: RecordLink?, supersedes: [SourceKey] = []) -> LinkOutcome {
        let held = !heldFields.isEmpty
        let note: String? =
            held ? "waiting for review: \(heldFields.joined(separator: ", "))" : (writtenFields.isEmpty ? "no field differs from the last sync" : nil)
        return LinkOutcome(
            rowID: row.id, actor: actor, at: at, status: held ? .held : .linked, attempt: held ? .held : (writtenFields.isEmpty ? .unchanged : .linked),
            note: note, links: link.map { [$0] } ?? [], fieldStates: fieldStates, writes: writes, conflicts: conflicts,
            supersedes: writtenFields.isEmpty ? [] : supersedes)
    }
}
