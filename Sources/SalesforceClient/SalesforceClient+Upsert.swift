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
