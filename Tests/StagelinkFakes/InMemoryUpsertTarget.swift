import StagelinkEngine
import Synchronization

/// An `UpsertTarget` that keeps records in memory, for tests and benchmarks: kept out of the
/// engine library, only the tests and `stagelink bench` link it.
///
/// It behaves as Salesforce's collections upsert does for the engine: records matched by
/// external id, created or updated, per-record results in order. Failures can be scripted per
/// record, and every call is counted, so a test can assert "this record failed with that error,
/// the other 199 linked, in one call". Given a `bulkThreshold`, it has a bulk API too: its
/// ``bulkUpsert(object:externalIDField:records:)`` and ``bulkUpdate(object:records:)`` take any
/// number of records in one call, each counted in ``bulkCalls``, so a test can assert which path
/// a batch took.
///
/// For example:
///
/// ```swift
/// let target = InMemoryUpsertTarget()
/// target.failRecords { object, fields in fields["LastName"] == .text("Lock") ? LinkError(.unableToLockRow, message: "locked") : nil }
/// ```
public final class InMemoryUpsertTarget: UpsertTarget {
    public let meter = APIMeter()
    public let maxBatchSize: Int
    public let bulkThreshold: Int?
    public let bulkBatchSize: Int

    /// One call to the bulk API: what it did and how many records it carried.
    public struct BulkCall: Sendable, Hashable {
        public enum Operation: Sendable, Hashable { case upsert, update }
        public var operation: Operation
        public var records: Int

        public init(_ operation: Operation, records: Int) {
            self.operation = operation
            self.records = records
        }
    }

    public typealias FailureRule = @Sendable (_ object: String, _ fields: [String: FieldValue]) -> LinkError?

    private struct State {
        var records: [String: [String: [String: FieldValue]]] = [:]
        var idsByExternalID: [String: [String: String]] = [:]
        var nextID = 1
        var batchSizes: [Int] = []
        var bulkCalls: [BulkCall] = []
        var failureRule: FailureRule?
        var callFailure: RemoteCallError?
    }

    private let state = Mutex(State())

    /// `bulkThreshold` nil: no bulk API, as a target without one (the linker never goes to bulk).
    public init(maxBatchSize: Int = 200, bulkThreshold: Int? = nil, bulkBatchSize: Int = 10_000) {
        self.maxBatchSize = maxBatchSize
        self.bulkThreshold = bulkThreshold
        self.bulkBatchSize = bulkBatchSize
    }

    /// Makes matching records fail with the returned error (nil: succeed).
    public func failRecords(_ rule: FailureRule?) {
        state.withLock { $0.failureRule = rule }
    }

    /// Makes every call fail as a whole with this error until cleared.
    public func failCalls(with error: RemoteCallError?) {
        state.withLock { $0.callFailure = error }
    }

    /// The records of an object by id, as last written.
    public func records(of object: String) -> [String: [String: FieldValue]] {
        state.withLock { $0.records[object] ?? [:] }
    }

    /// The record with this external id.
    public func record(_ object: String, externalID: String) -> [String: FieldValue]? {
        state.withLock { state in state.idsByExternalID[object]?[externalID].flatMap { state.records[object]?[$0] } }
    }

    /// Puts a record in place under this id, as if it had always been there.
    public func seed(_ object: String, id: String, fields: [String: FieldValue] = [:]) {
        state.withLock { $0.records[object, default: [:]][id] = fields }
    }

    /// How many records each collections-sized call (upsert, update) carried, in order.
    public var batchSizes: [Int] { state.withLock { $0.batchSizes } }

    /// The bulk API calls, in order.
    public var bulkCalls: [BulkCall] { state.withLock { $0.bulkCalls } }

    public func upsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        try write(records.count, bulk: nil, limited: true) { state in Self.upsert(object: object, externalIDField: externalIDField, records: records, in: &state) }
    }

    public func bulkUpsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        try write(records.count, bulk: .upsert) { state in Self.upsert(object: object, externalIDField: externalIDField, records: records, in: &state) }
    }

    public func update(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        try write(records.count, bulk: nil) { state in Self.update(object: object, records: records, in: &state) }
    }

    public func bulkUpdate(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        try write(records.count, bulk: .update) { state in Self.update(object: object, records: records, in: &state) }
    }

    /// One counted call, in ``bulkCalls`` when it is a bulk one (`bulk` set), in ``batchSizes``
    /// otherwise; a `limited` one (an upsert) refuses more than ``maxBatchSize`` records.
    private func write(
        _ count: Int, bulk: BulkCall.Operation?, limited: Bool = false, _ apply: (inout State) -> [RecordResult]
    ) throws(RemoteCallError) -> [RecordResult] {
        meter.recordCall()
        let result: Result<[RecordResult], RemoteCallError> = state.withLock { state in
            if let failure = state.callFailure { return .failure(failure) }
            guard !limited || count <= maxBatchSize else {
                return .failure(RemoteCallError(.rejected, LinkError(.exceededIDLimit, message: "more than \(maxBatchSize) records in one call")))
            }
            if let bulk { state.bulkCalls.append(BulkCall(bulk, records: count)) } else { state.batchSizes.append(count) }
            return .success(apply(&state))
        }
        return try result.get()
    }

    private static func upsert(object: String, externalIDField: String, records: [TargetRecord], in state: inout State) -> [RecordResult] {
        records.map { record in
            let fields = Dictionary(record.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
            if let error = state.failureRule?(object, fields) { return .failure(error) }
            guard case .text(let externalID)? = fields[externalIDField] else {
                return .failure(LinkError(.missingArgument, message: "\(externalIDField) not specified", fields: [externalIDField]))
            }
            if let id = state.idsByExternalID[object]?[externalID] {
                state.records[object]![id]!.merge(fields) { _, new in new }
                return .success(id: id, created: false)
            }
            let id = "MEM" + String(state.nextID)
            state.nextID += 1
            state.records[object, default: [:]][id] = fields
            state.idsByExternalID[object, default: [:]][externalID] = id
            return .success(id: id, created: true)
        }
    }

    /// `RecordType-<object>-<developerName>`: the in-memory org has every record type asked for.
    public func recordTypeID(object: String, developerName: String) async throws(RemoteCallError) -> String {
        "RecordType-\(object)-\(developerName)"
    }

    public func recordIDs(object: String, externalIDField: String, value: String) async throws(RemoteCallError) -> [String] {
        meter.recordCall()
        let result: Result<[String], RemoteCallError> = state.withLock { state in
            if let failure = state.callFailure { return .failure(failure) }
            return .success((state.records[object] ?? [:]).filter { $0.value[externalIDField] == .text(value) }.map(\.key).sorted())
        }
        return try result.get()
    }

    public func delete(object: String, id: String) async throws(RemoteCallError) {
        meter.recordCall()
        let failure: RemoteCallError? = state.withLock { state in
            if let failure = state.callFailure { return failure }
            state.records[object]?[id] = nil
            return nil
        }
        if let failure { throw failure }
    }

    private static func update(object: String, records: [TargetRecordUpdate], in state: inout State) -> [RecordResult] {
        records.map { record in
            guard state.records[object]?[record.id] != nil else {
                return .failure(LinkError(.entityIsDeleted, message: "no \(object) has this id"))
            }
            for field in record.fields { state.records[object]![record.id]![field.name] = field.value }
            return .success(id: record.id, created: false)
        }
    }
}
