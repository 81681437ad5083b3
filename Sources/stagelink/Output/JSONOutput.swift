import Foundation
import StagelinkEngine

/// The `--json` form of what the listings print, for scripts: stable keys, ISO 8601 instants.
enum JSONOutput {
    static func print(_ value: JSONValue) {
        Swift.print(DisplayText.escapedJSON(JSONWriter.prettyString(value)))
    }

    static func instant(_ date: Date?) -> JSONValue {
        date.map { .string(Timestamp.format($0)) } ?? .null
    }

    static func text(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    static func number(_ value: Int) -> JSONValue { .number(String(value)) }

    static func number(_ value: Int64?) -> JSONValue { value.map { .number(String($0)) } ?? .null }

    static func error(_ error: LinkError?) -> JSONValue {
        guard let error else { return .null }
        return [
            "code": .string(error.code), "message": .string(error.message), "fields": .array(error.fields.map(JSONValue.string)),
            "remoteBody": text(error.remoteBody), "further": .array(error.further.map(Self.error)),
        ]
    }

    static func row(_ row: StagedRowSummary) -> JSONValue {
        [
            "id": number(row.id), "status": .string(row.status.rawValue), "system": .string(row.system.rawValue), "resourceType": .string(row.resourceType),
            "sourceID": .string(row.sourceID), "name": text(row.personName), "version": text(row.version), "lastUpdated": instant(row.lastUpdated), "receivedAt": instant(row.receivedAt),
            "job": number(row.jobID), "attempts": number(row.attemptCount), "errorCode": text(row.errorCode), "errorMessage": text(row.errorMessage),
            "kind": .string(row.kind.rawValue), "survivor": text(row.survivorID),
        ]
    }


    static func job(_ job: Job) -> JSONValue { job.json }

    static func conflict(_ conflict: Conflict) -> JSONValue {
        [
            "id": number(conflict.id), "object": .string(conflict.object), "record": .string(conflict.recordKey), "name": text(conflict.personName),
            "field": .string(conflict.field), "kind": .string(conflict.kind.rawValue), "merge": conflict.merge.map(heldMerge) ?? .null,
            // Values the retention purge removed are null, with when.
            "row": number(conflict.rowID), "emrValue": conflict.valuesPurgedAt == nil ? conflict.emrValue.json : .null,
            "salesforceValue": conflict.valuesPurgedAt == nil ? conflict.salesforceValue.json : .null, "valuesPurgedAt": instant(conflict.valuesPurgedAt),
            "rule": .string(conflict.rule.rawValue), "status": .string(conflict.status.rawValue), "winner": text(conflict.winner?.rawValue),
            "createdAt": instant(conflict.createdAt), "resolvedBy": text(conflict.resolvedBy?.description), "resolvedAt": instant(conflict.resolvedAt),
            "reason": text(conflict.reason), "decision": text(conflict.mergeDecision?.rawValue),
        ]
    }

    /// A held merge: which system merged which records, their two counterparts, and how it was settled.
    static func heldMerge(_ merge: HeldMerge) -> JSONValue {
        [
            "mergedIn": .string(merge.mergedIn.rawValue), "type": .string(merge.type), "loser": .string(merge.loserID), "survivor": .string(merge.survivorID),
            "counterpartType": .string(merge.counterpartType), "loserCounterpart": .string(merge.loserCounterpartID),
            "survivorCounterpart": .string(merge.survivorCounterpartID),
        ]
    }

    static func rule(_ rule: PolicyRule) -> JSONValue {
        [
            "object": .string(rule.object), "field": .string(rule.field), "rule": .string(rule.rule.rawValue),
            "changedBy": .string(rule.changedBy.description), "changedAt": instant(rule.changedAt), "reason": text(rule.reason),
        ]
    }

    static func audit(_ entry: PolicyAuditEntry) -> JSONValue {
        [
            "id": number(entry.id), "at": instant(entry.at), "actor": .string(entry.actor.description), "object": .string(entry.object),
            "field": .string(entry.field), "oldRule": text(entry.oldRule?.rawValue), "newRule": .string(entry.newRule.rawValue), "reason": text(entry.reason),
        ]
    }

    static func write(_ write: FieldWrite) -> JSONValue {
        [
            "object": .string(write.record.object), "record": .string(write.record.key), "field": .string(write.field), "value": write.value.json,
            "writtenTo": .string(write.writtenTo.rawValue), "row": number(write.rowID), "job": number(write.jobID), "rule": .string(write.rule.rawValue),
            "actor": .string(write.actor.description), "at": instant(write.at), "reason": .string(write.reason),
        ]
    }
}

extension Date {
    /// `2026-11-26 07:26:25` in UTC, for tables.
    var shortText: String {
        let text = Timestamp.format(self)
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(8))
    }
}
