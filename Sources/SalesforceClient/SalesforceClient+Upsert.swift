import Foundation
import StagelinkEngine
import StagelinkHTTP

extension SalesforceClient {
    /// Upserts through `PATCH /composite/sobjects/{object}/{externalIDField}` with
    /// `allOrNone: false`, at most ``maxBatchSize`` records a call; results come back in the order
    /// of `records`, `created` kept.
    public func upsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        try await inBatches(records) { batch in
            CollectionRequest.upsertBody(object: object, records: batch)
        } url: { (session) throws(RemoteCallError) -> URL in
            try dataURL(session, ["composite", "sobjects", object, externalIDField])
        }
    }

    /// Updates records by their Salesforce ids through `PATCH /composite/sobjects`.
    public func update(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        try await inBatches(records) { batch in
            CollectionRequest.updateBody(object: object, records: batch)
        } url: { (session) throws(RemoteCallError) -> URL in
            try dataURL(session, ["composite", "sobjects"])
        }
    }

    /// `SELECT Id FROM {object} WHERE {externalIDField} = '{value}' LIMIT 2`: the records that an upsert
    /// by that external id would write (an External ID field marked unique holds each value once).
    public func recordIDs(object: String, externalIDField: String, value: String) async throws(RemoteCallError) -> [String] {
        let query: SOQLQuery
        do {
            query = try SOQLQuery(select: ["Id"], from: object).where(externalIDField, .equals, .string(value)).limit(2)
        } catch {
            throw RemoteCallError(.rejected, LinkError(.invalidQuery, message: error.description))
        }
        return try await self.query(query, pageSize: 200, after: nil).records.map(\.sourceID)
    }

    /// `DELETE /sobjects/{object}/{id}`: the record goes to the Recycle Bin. A 404
    /// `ENTITY_IS_DELETED` (it already went, perhaps by this same call before a dropped connection)
    /// counts as deleted.
    public func delete(object: String, id: String) async throws(RemoteCallError) {
        let validated: SalesforceID
        do {
            validated = try SalesforceID.validated(id, field: "Id", of: "the \(object) to delete")
        } catch {
            throw RemoteCallError(.rejected, error)
        }
        do {
            try await call { (session) throws(RemoteCallError) -> HTTPRequest in
                HTTPRequest(.delete, url: try dataURL(session, ["sobjects", object, validated.description]), headers: Self.jsonHeaders, retry: .idempotent)
            } decode: { _ in () }
        } catch where error.error.code == ErrorCode.entityIsDeleted.rawValue {
            return
        }
    }

    /// The id of `object`'s active record type named `developerName`: `SELECT Id FROM RecordType WHERE
    /// SobjectType = '…' AND DeveloperName = '…' AND IsActive = true` (Object Reference, RecordType;
    /// a person account is created with a person account record type's id in `RecordTypeId`: SOAP API
    /// Developer Guide, "Person Account Record Types").
    public func recordTypeID(object: String, developerName: String) async throws(RemoteCallError) -> String {
        guard let recordType = try await recordType(object: object, developerName: developerName) else {
            throw RemoteCallError(
                .rejected,
                LinkError(
                    .recordTypeNotFound, message: "\(object) has no active record type named \(developerName) (the mapping's recordType)",
                    fields: ["RecordTypeId"]))
        }
        return recordType.id
    }

    /// The active record type of `object` named `developerName`: its id and whether it is a person
    /// account record type (`RecordType.IsPersonType`); nil when the org has none.
    public func recordType(object: String, developerName: String) async throws(RemoteCallError) -> (id: String, isPersonType: Bool)? {
        let query: SOQLQuery
        do {
            query = try SOQLQuery(select: ["Id", "IsPersonType"], from: "RecordType").where("SobjectType", .equals, .string(object))
                .where("DeveloperName", .equals, .string(developerName)).where("IsActive", .equals, .boolean(true)).limit(1)
        } catch {
            throw RemoteCallError(.rejected, LinkError(.invalidQuery, message: error.description))
        }
        guard let record = try await self.query(query, pageSize: 200, after: nil).records.first else { return nil }
        let isPersonType = (try? JSONValue(parsing: record.payload))?["IsPersonType"] == .bool(true)
        return (record.sourceID, isPersonType)
    }

    /// One collections PATCH per batch of at most ``maxBatchSize`` records. Repeating a PATCH is
    /// safe: an upsert by external id or an update by id that already happened happens again to
    /// the same records.
    private func inBatches<Record>(
        _ records: [Record], body: ([Record]) -> [UInt8], url: (SalesforceSession) throws(RemoteCallError) -> URL
    ) async throws(RemoteCallError) -> [RecordResult] {
        var results: [RecordResult] = []
        results.reserveCapacity(records.count)
        for start in stride(from: 0, to: records.count, by: maxBatchSize) {
            let batch = Array(records[start..<min(start + maxBatchSize, records.count)])
            let bytes = body(batch)
            results += try await call { (session) throws(RemoteCallError) -> HTTPRequest in
                HTTPRequest(.patch, url: try url(session), headers: Self.jsonHeaders, body: bytes, retry: .idempotent, recordCount: batch.count)
            } decode: { (response) throws(RemoteCallError) -> [RecordResult] in
                try CollectionRequest.results(in: response.body, expected: batch.count)
            }
        }
        return results
    }
}
