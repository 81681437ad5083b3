/// A system that upserts records in batches by an external-id field and answers per record.
///
/// Results come back in the order of the records sent. A record's failure is a
/// `RecordResult.failure`; a failure of the call as a whole is thrown.
public protocol UpsertTarget: Sendable {
    var meter: APIMeter { get }
    /// The most records one call may carry (200 for Salesforce sObject Collections).
    var maxBatchSize: Int { get }

    /// Upsert by external id; a field named `Parent__r.External__c` is a reference by external id.
    func upsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult]

    /// Update records by their own id (writing the EMR's ids back onto Salesforce records).
    func update(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult]

    /// The id of the active record type of `object` whose DeveloperName is `developerName`
    /// (`PersonAccount`), which a mapping's `recordType` writes into `RecordTypeId`. Throws a
    /// rejected `RECORD_TYPE_NOT_FOUND` when the org has none.
    func recordTypeID(object: String, developerName: String) async throws(RemoteCallError) -> String

    /// The ids of `object`'s records whose `externalIDField` holds `value` (an external id is
    /// unique: none or one). A deletion or merge of a record whose link is not known (an upsert's
    /// answer lost in a crash) finds its counterpart this way.
    func recordIDs(object: String, externalIDField: String, value: String) async throws(RemoteCallError) -> [String]

    /// Deletes one record by its id (an `onDelete: delete` rule). A record already deleted counts
    /// as deleted: sending it again is safe.
    func delete(object: String, id: String) async throws(RemoteCallError)

    /// Above this many rows for one object in a cycle, the linker hands them to ``bulkUpsert``
    /// and ``bulkUpdate`` in batches of ``bulkBatchSize`` (nil: never).
    var bulkThreshold: Int? { get }
    /// The most records one ``bulkUpsert`` or ``bulkUpdate`` call carries.
    var bulkBatchSize: Int { get }

    /// Upsert by external id of a large batch (Salesforce Bulk API 2.0). Results come back in the
    /// order of `records`, each matched to its record by the external id, never by position.
    func bulkUpsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult]

    /// Update by id of a large batch (a Salesforce Bulk API 2.0 `update` job). Results come back
    /// in the order of `records`, each matched to its record by its id, never by position; a
    /// record whose id is not an id of the target's shape fails alone, unsent.
    func bulkUpdate(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult]
}

extension UpsertTarget {
    /// A target without a bulk API: batches stay at ``maxBatchSize``.
    public var bulkThreshold: Int? { nil }
    public var bulkBatchSize: Int { maxBatchSize }

    public func bulkUpsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        try await upsert(object: object, externalIDField: externalIDField, records: records)
    }

    public func bulkUpdate(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        try await update(object: object, records: records)
    }
}

/// The fields to write into one record; the external id is among them.
public struct TargetRecord: Sendable, Hashable {
    public var fields: [MappedField]

    public init(fields: [MappedField]) { self.fields = fields }
}

/// The fields to write into the record with this id.
public struct TargetRecordUpdate: Sendable, Hashable {
    public var id: String
    public var fields: [MappedField]

    public init(id: String, fields: [MappedField]) {
        self.id = id
        self.fields = fields
    }
}

/// What the other system said about one record of a batch.
public enum RecordResult: Sendable, Hashable {
    case success(id: String, created: Bool)
    case failure(LinkError)
}
