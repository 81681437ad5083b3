import Foundation
import GRDB
import StagelinkEngine

/// A row of `record_link`: a source record matched to its counterpart.
struct RecordLinkRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "record_link"

    var system: String
    var resourceType: String
    var sourceID: String
    var targetType: String
    var targetID: String
    var recordKey: String
    var linkedRowID: Int64?
    var linkedVersion: String?
    var linkedLastUpdated: Double?
    var updatedAt: Double

    init(_ link: RecordLink) {
        system = link.source.system.rawValue
        resourceType = link.source.resourceType
        sourceID = link.source.sourceID
        targetType = link.targetType
        targetID = link.targetID
        recordKey = link.recordKey
        linkedRowID = link.linkedRowID
        linkedVersion = link.linkedVersion.version
        linkedLastUpdated = link.linkedVersion.lastUpdated?.timeIntervalSince1970
        updatedAt = link.updatedAt.timeIntervalSince1970
    }

    var link: RecordLink {
        RecordLink(
            source: SourceKey(system: SourceSystem(rawValue: system) ?? .emr, resourceType: resourceType, sourceID: sourceID),
            targetType: targetType, targetID: targetID, recordKey: recordKey, linkedRowID: linkedRowID,
            linkedVersion: RecordVersion(version: linkedVersion, lastUpdated: linkedLastUpdated.map(Date.init(timeIntervalSince1970:))),
            updatedAt: Date(timeIntervalSince1970: updatedAt))
    }
}

/// A row of `record_state`: per mapped record, each field's synced and last-seen values, as JSON
/// (`{"Birthdate":{"synced":"1980-02-29","emr":"1980-02-29","salesforce":"1980-02-29"}}`).
struct RecordStateRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "record_state"

    var object: String
    var recordKey: String
    var fields: String
    var updatedAt: Double

    static func decode(_ text: String) -> [String: FieldState] {
        guard let root = try? JSONValue(parsing: Array(text.utf8)), let object = root.objectValue else { return [:] }
        var states: [String: FieldState] = [:]
        for member in object.members {
            func value(_ key: String) -> FieldValue? { member.value[key].flatMap(FieldValue.init(json:)) }
            states[member.key] = FieldState(synced: value("synced"), emr: value("emr"), salesforce: value("salesforce"))
        }
        return states
    }

    /// The states as stored, fields in the order given (callers sort them).
    static func encode(_ states: [(String, FieldState)]) -> String {
        var text = JSONTextBuilder()
        text.beginObject()
        for (field, state) in states {
            text.key(field)
            text.beginObject()
            if let synced = state.synced {
                text.key("synced")
                text.value(synced)
            }
            if let emr = state.emr {
                text.key("emr")
                text.value(emr)
            }
            if let salesforce = state.salesforce {
                text.key("salesforce")
                text.value(salesforce)
            }
            text.endObject()
        }
        text.endObject()
        return text.text
    }
}

/// A row of `record_write`: the field values one link wrote into one record, with their rules.
struct RecordWriteRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "record_write"

    var id: Int64?
    var object: String
    var recordKey: String
    var writtenTo: String
    var rowID: Int64?
    var jobID: Int64?
    var actor: String
    var at: Double
    /// `[{"field":…,"value":…,"rule":…,"reason":…}]`
    var fields: String

    static func make(_ writes: [FieldWrite]) -> [RecordWriteRecord] {
        // One row per record written into: an outcome's writes nearly always share it.
        var grouped: [(key: FieldWrite, writes: [FieldWrite])] = []
        for write in writes {
            if let last = grouped.indices.last, grouped[last].key.record == write.record, grouped[last].key.writtenTo == write.writtenTo,
                grouped[last].key.actor == write.actor
            {
                grouped[last].writes.append(write)
            } else if let index = grouped.firstIndex(where: { $0.key.record == write.record && $0.key.writtenTo == write.writtenTo && $0.key.actor == write.actor }) {
                grouped[index].writes.append(write)
            } else {
                grouped.append((write, [write]))
            }
        }
        return grouped.map { group in
            let first = group.writes[0]
            var text = JSONTextBuilder()
            text.beginArray()
            for write in group.writes {
                text.beginObject()
                text.key("field")
                text.string(write.field)
                text.key("value")
                text.value(write.value)
                text.key("rule")
                text.string(write.rule.rawValue)
                text.key("reason")
                text.string(write.reason)
                text.endObject()
            }
            text.endArray()
            return RecordWriteRecord(
                id: nil, object: first.record.object, recordKey: first.record.key, writtenTo: first.writtenTo.rawValue, rowID: first.rowID,
                jobID: first.jobID, actor: first.actor.description, at: first.at.timeIntervalSince1970, fields: text.text)
        }
    }

    var writes: [FieldWrite] {
        guard let entries = (try? JSONValue(parsing: Array(fields.utf8)))?.arrayValue else { return [] }
        return entries.compactMap { entry in
            guard let field = entry["field"]?.stringValue else { return nil }
            return FieldWrite(
                record: MappedRecordKey(object: object, key: recordKey), field: field,
                value: entry["value"].flatMap(FieldValue.init(json:)) ?? .null, writtenTo: SourceSystem(rawValue: writtenTo) ?? .salesforce,
                rowID: rowID, jobID: jobID, rule: entry["rule"]?.stringValue.flatMap(OwnerRule.init(rawValue:)) ?? .emr, actor: Actor(actor),
                at: Date(timeIntervalSince1970: at), reason: entry["reason"]?.stringValue ?? "")
        }
    }
}
