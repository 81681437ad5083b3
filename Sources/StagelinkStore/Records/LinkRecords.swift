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

    static func encode(_ states: [String: FieldState]) -> String {
        var object = JSONObject()
        for field in states.keys.sorted() {
            let state = states[field]!
            var entry = JSONObject()
            if let synced = state.synced { entry["synced"] = synced.json }
            if let emr = state.emr { entry["emr"] = emr.json }
            if let salesforce = state.salesforce { entry["salesforce"] = salesforce.json }
            object[field] = .object(entry)
        }
        return JSONWriter.compactString(.object(object))
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
        var grouped: [(key: String, writes: [FieldWrite])] = []
        for write in writes {
            let key = "\(write.record.object)\u{1F}\(write.record.key)\u{1F}\(write.writtenTo.rawValue)\u{1F}\(write.actor)"
            if let index = grouped.firstIndex(where: { $0.key == key }) {
                grouped[index].writes.append(write)
            } else {
                grouped.append((key, [write]))
            }
        }
        return grouped.map { group in
            let first = group.writes[0]
            let entries: [JSONValue] = group.writes.map { write in
                .object(JSONObject([
                    .init(key: "field", value: .string(write.field)), .init(key: "value", value: write.value.json),
                    .init(key: "rule", value: .string(write.rule.rawValue)), .init(key: "reason", value: .string(write.reason)),
                ]))
            }
            return RecordWriteRecord(
                id: nil, object: first.record.object, recordKey: first.record.key, writtenTo: first.writtenTo.rawValue, rowID: first.rowID,
                jobID: first.jobID, actor: first.actor.description, at: first.at.timeIntervalSince1970,
                fields: JSONWriter.compactString(.array(entries)))
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
