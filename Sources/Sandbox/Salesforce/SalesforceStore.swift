/// One record of the simulated org: its object, id and field values in wire form (absent means null).
struct SObjectRecord: Sendable {
    var object: String
    var id: String
    var fields: [String: WireJSON]

    subscript(field: String) -> WireJSON {
        fields[field] ?? .null
    }

    /// Whether the record is in the Recycle Bin: deleted, or the loser of a merge.
    var isDeleted: Bool { fields["IsDeleted"] == .bool(true) }
}

/// One entry of an object's delete log, which `GET /sobjects/{type}/deleted` reads.
struct DeletedRecord: Sendable, Hashable {
    var id: String
    var deletedDate: SandboxInstant
}

/// The org's records, with the external-id indexes that upserts and relationship references use.
struct SalesforceStore: Sendable {
    let schema: SalesforceSchema
    private(set) var records: [String: SObjectRecord] = [:]
    private(set) var idsByObject: [String: [String]] = [:]
    private var externalIndex: [String: [String: [String]]] = [:]
    private var sequences: [String: Int] = [:]
    private var autoNumbers: [String: Int] = [:]
    /// Each object's delete log, oldest first.
    private(set) var deleteLog: [String: [DeletedRecord]] = [:]
    /// Each object's records by `SystemModstamp`, which delta queries read.
    private var modstamps: [String: ModstampIndex] = [:]
    /// Each record's place in creation order (the order of `idsByObject`).
    private var creationOrder: [String: Int] = [:]

    /// Field-level security of the integration users' permission set: the fields it leaves
    /// read-only (lowercased `object.field`). Describe reports them to those users as neither
    /// `createable` nor `updateable`, and their writes of them fail with
    /// `INVALID_FIELD_FOR_INSERT_UPDATE` ("Enforce Security with Field and SObject Describe
    /// Methods": describe answers for the current user's access; "API Field Properties").
    var readOnlyFields: Set<String> = []
    /// The users who signed in through the token endpoint: the permission set's users.
    var integrationUsers: Set<String> = []

    init(schema: SalesforceSchema) {
        self.schema = schema
        insertRecordTypes()
    }

    /// Whether `actor` may not write `field` of `object` (field-level security).
    func isReadOnly(_ field: String, of object: String, for actor: String) -> Bool {
        integrationUsers.contains(actor) && readOnlyFields.contains("\(object).\(field)".lowercased())
    }

    /// How many records each object holds, those in the Recycle Bin included.
    var recordCounts: [String: Int] { idsByObject.mapValues(\.count) }

    /// The live records of one object in creation order; with `includingDeleted`, those in the
    /// Recycle Bin too (what queryAll sees).
    func records(of object: String, includingDeleted: Bool = false) -> [SObjectRecord] {
        (idsByObject[object] ?? []).compactMap { id in
            records[id].flatMap { includingDeleted || !$0.isDeleted ? $0 : nil }
        }
    }

    /// The records of one object stamped at or after `since` (`SystemModstamp`) and, with `end`,
    /// before it, in creation order like ``records(of:includingDeleted:)``, read from the object's
    /// ``ModstampIndex``.
    func records(of object: String, stampedSince since: SandboxInstant, before end: SandboxInstant? = nil, includingDeleted: Bool = false)
        -> [SObjectRecord]
    {
        let ids = modstamps[object]?.ids(stampedSince: since.milliseconds, before: end?.milliseconds) ?? []
        return ids.map { (creationOrder[$0] ?? 0, $0) }.sorted { $0.0 < $1.0 }.compactMap { _, id in
            records[id].flatMap { includingDeleted || !$0.isDeleted ? $0 : nil }
        }
    }

    /// The live record with this id, or nil when there is none or it is in the Recycle Bin.
    func liveRecord(_ id: String) -> SObjectRecord? {
        SalesforceID.normalize(id).flatMap { records[$0] }.flatMap { $0.isDeleted ? nil : $0 }
    }

    /// The ids whose external-id (or any indexed) field holds `value`.
    func ids(object: String, field: String, value: String) -> [String] {
        externalIndex["\(object).\(field)"]?[value] ?? []
    }

    mutating func nextID(for object: SObjectDescription) -> String {
        let next = sequences[object.keyPrefix, default: 0] + 1
        sequences[object.keyPrefix] = next
        return SalesforceID.make(prefix: object.keyPrefix, sequence: next)
    }

    /// Inserts a record with these (already validated) values, stamped as created by `actor` at `now`.
    mutating func insert(_ object: SObjectDescription, values: [String: WireJSON], actor: String, at now: SandboxInstant)
        -> SObjectRecord
    {
        let id = nextID(for: object)
        var record = SObjectRecord(object: object.name, id: id, fields: values)
        record.fields["Id"] = .string(id)
        if let name = object.field(named: "Name"), name.autoNumber {
            let number = autoNumbers[object.name, default: 0] + 1
            autoNumbers[object.name] = number
            let digits = String(number)
            let prefix = String(object.label.prefix(1)).uppercased()
            record.fields["Name"] = .string("\(prefix)-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits)
        }
        if object.field(named: "IsDeleted") != nil { record.fields["IsDeleted"] = .bool(false) }
        if object.field(named: "CreatedDate") != nil {
            record.fields["CreatedDate"] = .string(now.salesforceDateTime)
            record.fields["CreatedById"] = .string(actor)
        }
        stamp(&record, object: object, actor: actor, at: now)
        records[id] = record
        creationOrder[id] = creationOrder.count
        idsByObject[object.name, default: []].append(id)
        index(record, object: object, previous: nil)
        return record
    }

    /// Applies validated values to an existing record, stamped as modified by `actor` at `now`.
    @discardableResult
    mutating func update(id: String, values: [String: WireJSON], actor: String, at now: SandboxInstant) -> SObjectRecord? {
        guard var record = records[id], let object = schema.object(named: record.object) else { return nil }
        let previous = record
        for (name, value) in values { record.fields[name] = value }
        stamp(&record, object: object, actor: actor, at: now)
        records[id] = record
        index(record, object: object, previous: previous)
        return record
    }

    /// Moves a live record to the Recycle Bin: `IsDeleted` true, `SystemModstamp` the deletion time (the
    /// delete log's `deletedDate` "is obtained using the SystemModstamp system field": SOAP API
    /// GetDeletedResult), out of the external-id index (so that an upsert no longer finds it), and
    /// into its object's delete log. `values` are set first (a merge's `MasterRecordId`).
    /// Nil when there is no live record with this id.
    @discardableResult
    mutating func moveToRecycleBin(
        id: String, values: [String: WireJSON] = [:], actor: String, at now: SandboxInstant
    ) -> SObjectRecord? {
        guard let live = liveRecord(id), let object = schema.object(named: live.object) else { return nil }
        var record = live
        for (name, value) in values { record.fields[name] = value }
        record.fields["IsDeleted"] = .bool(true)
        stamp(&record, object: object, actor: actor, at: now)
        records[record.id] = record
        indexStamp(of: record, object: object)
        for field in object.fields where field.externalId {
            if let value = live[field.name].stringValue {
                externalIndex["\(object.name).\(field.name)"]?[value]?.removeAll { $0 == record.id }
            }
        }
        deleteLog[object.name, default: []].append(DeletedRecord(id: record.id, deletedDate: now))
        // A person account's person contact goes with it (merged into the master's person contact).
        if let contactID = live["PersonContactId"].stringValue {
            var contactValues: [String: WireJSON] = [:]
            if let master = values["MasterRecordId"]?.stringValue, let masterContact = records[master]?["PersonContactId"].stringValue {
                contactValues["MasterRecordId"] = .string(masterContact)
            }
            moveToRecycleBin(id: contactID, values: contactValues, actor: actor, at: now)
        }
        return record
    }

    /// Empties the Recycle Bin of what was deleted before `cutoff`: "The Recycle Bin lets you view
    /// and restore recently deleted records for 15 days before they are permanently deleted" (SOAP
    /// API `emptyRecycleBin()`; Apex "Restoring Deleted Records"). A record so purged is gone for
    /// QueryAll too; the delete log keeps its entry (`GET …/deleted` answers by its own window).
    mutating func emptyRecycleBin(deletedBefore cutoff: SandboxInstant) {
        for (object, log) in deleteLog {
            let purged = Set(log.filter { $0.deletedDate < cutoff }.map(\.id)).filter { records[$0]?.isDeleted == true }
            guard !purged.isEmpty else { continue }
            for id in purged {
                records[id] = nil
                modstamps[object]?.remove(id)
            }
            idsByObject[object]?.removeAll { purged.contains($0) }
        }
    }

    /// Moves every delete-log entry `seconds` into the past (the inspection API's way to age the
    /// Recycle Bin without moving the clock).
    mutating func backdateDeletions(bySeconds seconds: Double) {
        deleteLog = deleteLog.mapValues { log in log.map { DeletedRecord(id: $0.id, deletedDate: $0.deletedDate.adding(seconds: -seconds)) } }
    }

    private func stamp(_ record: inout SObjectRecord, object: SObjectDescription, actor: String, at now: SandboxInstant) {
        if object.name == "Contact" {
            let parts = [record["FirstName"].stringValue, record["LastName"].stringValue].compactMap { $0 }
            record.fields["Name"] = .string(parts.joined(separator: " "))
        }
        guard object.field(named: "SystemModstamp") != nil else { return }
        record.fields["LastModifiedDate"] = .string(now.salesforceDateTime)
        record.fields["LastModifiedById"] = .string(actor)
        record.fields["SystemModstamp"] = .string(now.salesforceDateTime)
    }

    /// Keeps the record's `SystemModstamp` in its object's index (what ``stamp(_:object:actor:at:)`` set).
    private mutating func indexStamp(of record: SObjectRecord, object: SObjectDescription) {
        guard let stamp = record["SystemModstamp"].stringValue.flatMap(SandboxInstant.init(iso8601:)) else { return }
        modstamps[object.name, default: ModstampIndex()].stamp(record.id, at: stamp.milliseconds)
    }

    private mutating func index(_ record: SObjectRecord, object: SObjectDescription, previous: SObjectRecord?) {
        indexStamp(of: record, object: object)
        for field in object.fields where field.externalId {
            let key = "\(object.name).\(field.name)"
            let old = previous?[field.name].stringValue
            let new = record[field.name].stringValue
            guard old != new else { continue }
            if let old { externalIndex[key]?[old]?.removeAll { $0 == record.id } }
            if let new { externalIndex[key, default: [:]][new, default: []].append(record.id) }
        }
    }
}
