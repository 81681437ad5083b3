import Foundation
import GRDB
import StagelinkEngine

/// A row of `record_link`: a source record matched to its counterpart.
package struct RecordLinkRecord: Codable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "record_link"

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
    /// `deleted` or `merged` once the source record is gone; nil while the link carries updates.
    var retired: String?
    /// The survivor's id, for a link retired by a merge.
    var mergedInto: String?

    package init(_ link: RecordLink) {
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
        (retired, mergedInto) = Self.columns(link.retirement)
    }

    /// The two columns of a retirement.
    package static func columns(_ retirement: LinkRetirement?) -> (retired: String?, mergedInto: String?) {
        switch retirement {
        case nil: (nil, nil)
        case .deleted: ("deleted", nil)
        case .merged(let survivor): ("merged", survivor)
        case .counterpartRemoved: ("counterpart-removed", nil)
        }
    }

    /// The columns of ``select`` in its order, as another store (PostgreSQL) reads them.
    package typealias Values = (String, String, String, String, String, String, Int64?, String?, Double?, Double, String?, String?)

    /// A link read by another store, column for column in the order of ``select``.
    package init(_ c: Values) {
        (system, resourceType, sourceID, targetType, targetID, recordKey) = (c.0, c.1, c.2, c.3, c.4, c.5)
        (linkedRowID, linkedVersion, linkedLastUpdated, updatedAt, retired, mergedInto) = (c.6, c.7, c.8, c.9, c.10, c.11)
    }

    /// Decoded by column position, from ``select``: a batch looks up hundreds of links at once.
    package init(row: Row) throws {
        system = row[0]
        resourceType = row[1]
        sourceID = row[2]
        targetType = row[3]
        targetID = row[4]
        recordKey = row[5]
        linkedRowID = row[6]
        linkedVersion = row[7]
        linkedLastUpdated = row[8]
        updatedAt = row[9]
        retired = row[10]
        mergedInto = row[11]
    }

    /// The columns `init(row:)` reads, in its order.
    package static let columns = """
        system, resourceType, sourceID, targetType, targetID, recordKey, linkedRowID, linkedVersion, linkedLastUpdated, updatedAt, \
        retired, mergedInto
        """

    /// Selects what `init(row:)` reads; add a `WHERE`.
    package static let select = "SELECT \(columns) FROM record_link"

    package func link() throws -> RecordLink {
        var link = try RecordLink(
            source: SourceKey(system: StoredValue.decode(system, "record_link.system"), resourceType: resourceType, sourceID: sourceID),
            targetType: targetType, targetID: targetID, recordKey: recordKey, linkedRowID: linkedRowID,
            linkedVersion: RecordVersion(version: linkedVersion, lastUpdated: linkedLastUpdated.map(Date.init(timeIntervalSince1970:))),
            updatedAt: Date(timeIntervalSince1970: updatedAt))
        switch (retired, mergedInto) {
        case (nil, _): break
        case ("deleted", _): link.retirement = .deleted
        case ("merged", let survivor?): link.retirement = .merged(into: survivor)
        case ("counterpart-removed", _): link.retirement = .counterpartRemoved
        default: throw StoreError.unreadable("record_link.retired \"\(retired ?? "")\" of \(resourceType)/\(sourceID)")
        }
        return link
    }
}

/// A row of `record_state`: per mapped record, each field's synced and last-seen values, as JSON
/// (`{"Birthdate":{"synced":"1980-02-29","emr":"1980-02-29","salesforce":"1980-02-29"}}`).
package struct RecordStateRecord: Codable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "record_state"

    var object: String
    var recordKey: String
    var fields: String
    var updatedAt: Double

    package static func decode(_ text: String) -> [String: FieldState] {
        guard let root = try? JSONValue(parsing: Array(text.utf8)), let object = root.objectValue else { return [:] }
        var states: [String: FieldState] = [:]
        for member in object.members {
            func value(_ key: String) -> FieldValue? { member.value[key].flatMap(FieldValue.init(json:)) }
            states[member.key] = FieldState(synced: value("synced"), emr: value("emr"), salesforce: value("salesforce"))
        }
        return states
    }

    /// The states as stored (UTF-8 JSON), fields in the order given (callers sort them).
    package static func encode(_ states: some Sequence<(String, FieldState)>) -> [UInt8] {
        var text = JSONTextBuilder()
        text.beginObject()
        for (field, state) in states {
            text.key(field)
            text.beginObject()
            if let synced = state.synced {
                text.plainKey("synced")
                text.value(synced)
            }
            if let emr = state.emr {
                text.plainKey("emr")
                text.value(emr)
            }
            if let salesforce = state.salesforce {
                text.plainKey("salesforce")
                text.value(salesforce)
            }
            text.endObject()
        }
        text.endObject()
        return text.utf8
    }
}

/// A row of `record_write`: the field values one link wrote into one record, with their rules.
/// Read with `fields` as a `String`; written with it already encoded as UTF-8 bytes.
package struct RecordWriteRow<Fields: Sendable>: Sendable {
    package var id: Int64?
    package var object: String
    package var recordKey: String
    package var writtenTo: String
    package var rowID: Int64?
    package var jobID: Int64?
    package var actor: String
    package var at: Double
    /// `[{"field":…,"value":…,"rule":…,"reason":…}]`
    package var fields: Fields

    package init(
        id: Int64?, object: String, recordKey: String, writtenTo: String, rowID: Int64?, jobID: Int64?, actor: String, at: Double, fields: Fields
    ) {
        (self.id, self.object, self.recordKey, self.writtenTo, self.rowID, self.jobID) = (id, object, recordKey, writtenTo, rowID, jobID)
        (self.actor, self.at, self.fields) = (actor, at, fields)
    }
}

package typealias RecordWriteRecord = RecordWriteRow<String>

extension RecordWriteRow: Codable, FetchableRecord, MutablePersistableRecord, PersistableRecord, TableRecord, EncodableRecord where Fields == String {
    package static var databaseTableName: String { "record_write" }

    /// Read by hand rather than decoded: `fields` is a BLOB in an encrypted store, read as its
    /// sealed text (``SealedFields``), which a decoded `String` would not be.
    package init(row: Row) throws {
        let id: Int64? = try row.decode(forColumn: "id")
        let object: String = try row.decode(forColumn: "object")
        let recordKey: String = try row.decode(forColumn: "recordKey")
        self.init(
            id: id, object: object, recordKey: recordKey, writtenTo: try row.decode(forColumn: "writtenTo"), rowID: try row.decode(forColumn: "rowID"),
            jobID: try row.decode(forColumn: "jobID"), actor: try row.decode(forColumn: "actor"), at: try row.decode(forColumn: "at"),
            fields: try SealedFields.text(row["fields"], what: "the values written into \(object) \(recordKey) (lineage \(id ?? 0))"))
    }

    /// The field writes of this record write. A `fields` text that is not a JSON array of writes
    /// each naming its field and rule is an error naming the record, never read as no writes.
    package var writes: [FieldWrite] {
        get throws {
            guard let entries = (try? JSONValue(parsing: Array(fields.utf8)))?.arrayValue else {
                throw UnreadableValue(column: "record_write.fields", value: "of \(object) \(recordKey): not a JSON array")
            }
            let system: SourceSystem = try StoredValue.decode(writtenTo, "record_write.writtenTo")
            return try entries.map { entry in try write(entry, system: system) }
        }
    }

    private func write(_ entry: JSONValue, system: SourceSystem) throws -> FieldWrite {
        guard let field = entry["field"]?.stringValue, let rule = entry["rule"]?.stringValue else {
            throw UnreadableValue(column: "record_write.fields", value: "of \(object) \(recordKey): a write without its field or rule")
        }
        var write = try FieldWrite(
            record: MappedRecordKey(object: object, key: recordKey), field: field,
            value: entry["value"].flatMap(FieldValue.init(json:)) ?? .null, writtenTo: system,
            rowID: rowID, jobID: jobID, rule: StoredValue.decode(rule, "record_write.fields.rule"), actor: Actor(actor),
            at: Date(timeIntervalSince1970: at), reason: entry["reason"]?.stringValue ?? "")
        if case .number(let seconds)? = entry["purged"], let seconds = Double(seconds) {
            write.valuePurgedAt = Date(timeIntervalSince1970: seconds)
        }
        return write
    }

    /// The same writes without their values, each marked `"purged"` at `at` (the retention purge):
    /// the field, rule and reason stay, so that lineage still says which row and rule wrote a field.
    package static func withoutValues(_ fields: String, purgedAt at: Double) -> [UInt8] {
        var text = JSONTextBuilder()
        text.beginArray()
        for entry in (try? JSONValue(parsing: Array(fields.utf8)))?.arrayValue ?? [] {
            text.beginObject()
            text.plainKey("field")
            text.string(entry["field"]?.stringValue ?? "")
            text.plainKey("rule")
            text.string(entry["rule"]?.stringValue ?? "")
            text.plainKey("reason")
            text.string(entry["reason"]?.stringValue ?? "")
            text.plainKey("purged")
            text.value(.number(String(at)))
            text.endObject()
        }
        text.endArray()
        return text.utf8
    }
}

extension RecordWriteRow where Fields == [UInt8] {
    /// One row per record written into by one writer: an outcome's writes nearly always share it.
    package static func encode(_ writes: [FieldWrite]) -> [Self] {
        let groups = writes.positionsGrouped { $0.record == $1.record && $0.writtenTo == $1.writtenTo && $0.actor == $1.actor }
        return groups.map { group in
            var text = JSONTextBuilder()
            text.beginArray()
            for index in group {
                let write = writes[index]
                text.beginObject()
                text.plainKey("field")
                text.string(write.field)
                text.plainKey("value")
                text.value(write.value)
                text.plainKey("rule")
                text.string(write.rule.rawValue)
                text.plainKey("reason")
                text.string(write.reason)
                text.endObject()
            }
            text.endArray()
            let first = writes[group[0]]
            return RecordWriteRow(
                id: nil, object: first.record.object, recordKey: first.record.key, writtenTo: first.writtenTo.rawValue, rowID: first.rowID,
                jobID: first.jobID, actor: first.actor.description, at: first.at.timeIntervalSince1970, fields: text.utf8)
        }
    }
}
