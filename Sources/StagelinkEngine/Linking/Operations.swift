import Foundation
import Logging

/// The actions people take, in one place for the CLI and the console: retry, ignore, change a
/// policy rule, and ask why a field holds its value. Each names the operator in the audit trail.
///
/// For example:
///
/// ```swift
/// let operations = Operations(store: store, mapping: mapping, inbound: linker)
/// let report = try await operations.retry(.rows([42]), by: "alice")
/// ```
public struct Operations: Sendable {
    /// The roles of the store the actions use: each reads rows and history, and writes rows,
    /// links, the policy or a job (a conflict resolved or a push is staged and linked).
    public typealias Store = StagingStore & LinkingStore & PolicyStore & JobStore & RowReader & HistoryReader

    public var store: any Store
    public var mapping: MappingDocument
    /// Links EMR rows into Salesforce; nil when no Salesforce connection is configured.
    public var inbound: InboundLinker?
    /// Processes Salesforce rows into the EMR; nil when no EMR connection is configured.
    public var outbound: (any OutboundRowLinker)?
    /// Fetches one Salesforce record by id, for a manual push.
    public var salesforceLookup: (any RecordLookup)?
    /// Writes a resolved value into the EMR.
    public var emrWriter: (any ResourceWriter)?
    public var meters: [APIMeter]
    public var logger: Logger

    public init(
        store: any Store, mapping: MappingDocument, inbound: InboundLinker?, outbound: (any OutboundRowLinker)? = nil,
        salesforceLookup: (any RecordLookup)? = nil, emrWriter: (any ResourceWriter)? = nil, meters: [APIMeter] = [],
        logger: Logger = Logger(label: "stagelink.operations")
    ) {
        self.store = store
        self.mapping = mapping
        self.inbound = inbound
        self.outbound = outbound
        self.salesforceLookup = salesforceLookup
        self.emrWriter = emrWriter
        self.meters = meters
        self.logger = logger
    }

    /// Which rows a retry takes.
    public enum RetrySelection: Sendable, Hashable {
        case rows([Int64])
        case errorCode(String)
        case allFailed
    }

    /// What a retry did to each row it took.
    public struct RetryReport: Sendable {
        public var job: Job
        public var rows: [StagedRowSummary]
        /// Rows asked for that were not retryable (linked, ignored, being linked by someone else).
        public var skipped: [Int64]
    }

    /// Re-runs the linker on the selected failed (or still staged) rows, as a retry job.
    public func retry(_ selection: RetrySelection, by operatorName: String, stop: StopSignal = StopSignal()) async throws -> RetryReport {
        let mark = try await store.lastAttemptID()
        let recorder = try await JobRecorder.start(.retry, direction: nil, actor: .operator(operatorName), trigger: .manual, store: store, meters: meters, logger: logger)
        var asked: [Int64] = []
        var refreshed: [Int64: Int64] = [:]
        do {
            switch selection {
            case .rows(let ids):
                asked = ids
                refreshed = try await relink(ids, recorder: recorder, stop: stop)
            case .errorCode(let code):
                try await link(ClaimRequest(statuses: [.failed], errorCodes: [code]), recorder: recorder, stop: stop)
            case .allFailed:
                try await link(ClaimRequest(statuses: [.failed]), recorder: recorder, stop: stop)
            }
        } catch {
            let job = try await recorder.finish(error is SyncStopped ? .interrupted : .failed, message: "\(error)")
            throw OperationError.retryStopped(job: job.id, reason: "\(error)")
        }
        let job = try await recorder.finish()
        let attempted = try await store.rowsAttempted(byJob: job.id, since: mark)
        let rows = try await rowSummaries(refreshed.keys.sorted() + attempted)
        let skipped = asked.filter { !attempted.contains($0) && refreshed[$0] == nil }
        try await recordAction(
            "\(operatorName) retried \(Self.rows(rows.count, ids: rows.map(\.id))): \(job.counts.linked) linked, \(job.counts.failed) failed", job: job.id,
            level: job.counts.failed > 0 ? .warning : .info)
        return RetryReport(job: job, rows: rows, skipped: skipped)
    }

    /// Links these rows again, fetching first the current version of those that failed: a record
    /// fixed at its source since is linked in its new version, the failed one superseded by it.
    /// Returns the rows so replaced (old id → new id).
    @discardableResult
    func relink(_ ids: [Int64], recorder: JobRecorder, stop: StopSignal) async throws -> [Int64: Int64] {
        let refreshed = try await refreshFromSource(ids, recorder: recorder)
        CrashPoints.reach(.retryRefreshed)
        try await link(ClaimRequest(statuses: [.failed, .staged], rowIDs: ids.map { refreshed[$0] ?? $0 }), recorder: recorder, stop: stop)
        return refreshed
    }

    /// Links the rows a claim selects, each by the linker of its direction, type by type in the
    /// mapping's order: a Contact is retried before the assessments that refer to it.
    func link(_ request: ClaimRequest, recorder: JobRecorder, stop: StopSignal) async throws {
        for system in SourceSystem.allCases where request.system == nil || request.system == system {
            let types: [String?] =
                request.resourceType.map { [$0] }
                ?? (system == .emr ? mapping.inboundResources : [mapping.outbound.contacts?.object, mapping.outbound.admissions?.object].compactMap { $0 })
            for type in types {
                var scoped = request
                scoped.system = system
                scoped.resourceType = type
                switch system {
                case .emr:
                    guard let inbound else { continue }
                    try await inbound.link(scoped, recorder: recorder, stop: stop)
                    // A parent that links now takes the rows that waited on it along.
                    try await inbound.linkWaitingChildren(recorder: recorder, stop: stop)
                case .salesforce:
                    guard let outbound else { continue }
                    try await outbound.link(scoped, recorder: recorder, stop: stop)
                    try await outbound.linkWaitingChildren(recorder: recorder, stop: stop)
                }
            }
        }
    }

    /// For each failed row whose record has other content at its source, stages that content and
    /// supersedes the row; returns old row id → new row id. A source that cannot be read leaves the
    /// row to be retried as it is.
    ///
    /// Content at the same version as the row's is a copy damaged somewhere (a page broken in
    /// transit, an EMR that answers badly once), and the bytes cannot say which copy it is. The
    /// source decides by answering the same twice: two equal reads replace the row, a second read
    /// equal to the row keeps it. A copy already staged (the version linked, or failed with its
    /// own error) supersedes the row instead of being staged again.
    private func refreshFromSource(_ ids: [Int64], recorder: JobRecorder) async throws -> [Int64: Int64] {
        var replaced: [Int64: Int64] = [:]
        for id in ids {
            guard let row = try await store.row(id: id), row.status == .failed else { continue }
            guard let current = await readAtSource(row), current.payload != row.payload,
                !(current.recordVersion < row.recordVersion)
            else { continue }
            if !(row.recordVersion < current.recordVersion) {
                guard let again = await readAtSource(row), again.contentHash == current.contentHash else { continue }
            }
            let staged = try await store.stage([current], job: await recorder.id, advancing: nil)
            if let newID = staged.rowIDs.first {
                await recorder.add(Job.Counts(pulled: 1, staged: 1))
                _ = try await store.setStatus(
                    rowIDs: [id], to: .superseded, from: [.failed], actor: await recorder.actor,
                    note: "superseded by row \(newID), the version fetched from the source on retry")
                replaced[id] = newID
            } else if let holder = try await store.row(of: row.recordKey, contentHash: current.contentHash), holder.id != id,
                holder.status != .superseded
            {
                let what = holder.status == .linked ? "already linked" : "staged before, \(holder.status.rawValue)"
                _ = try await store.setStatus(
                    rowIDs: [id], to: .superseded, from: [.failed], actor: await recorder.actor,
                    note: "superseded by row \(holder.id): the source's current version, \(what)")
                replaced[id] = holder.id
            }
        }
        return replaced
    }

    /// The record of a row as its source holds it now, or nil when the source cannot be read.
    /// A source id that is not an id of its system (a row staged from a damaged resource) is never
    /// read: it would name another URL.
    private func readAtSource(_ row: StagedRow) async -> IncomingRecord? {
        switch row.system {
        case .emr:
            guard FHIRID.isValid(row.sourceID) else { return nil }
            return try? await emrWriter?.read(resourceType: row.resourceType, id: row.sourceID)
        case .salesforce:
            guard SalesforceID(row.sourceID) != nil else { return nil }
            let fields = (outbound as? OutboundLinker)?.pullFields(for: row.resourceType) ?? []
            return try? await salesforceLookup?.record(type: row.resourceType, id: row.sourceID, fields: fields)
        }
    }

    private func rowSummaries(_ ids: [Int64]) async throws -> [StagedRowSummary] {
        var summaries: [StagedRowSummary] = []
        for id in ids {
            if let row = try await store.row(id: id) { summaries.append(row.summary) }
        }
        return summaries
    }

    /// Sets failed rows aside with a reason; they stay visible as ignored.
    public func ignore(rows ids: [Int64], reason: String, by operatorName: String) async throws -> [Int64] {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw OperationError.reasonRequired }
        let changed = try await store.setStatus(rowIDs: ids, to: .ignored, from: [.failed], actor: .operator(operatorName), note: reason)
        if !changed.isEmpty { try await recordAction("\(operatorName) ignored \(Self.rows(changed.count, ids: changed))") }
        return changed
    }

    /// Puts ignored rows back among the failures, with their error, for someone to fix; audited
    /// like `ignore` (the operator and the reason go into the row's history). Returns the rows
    /// changed: a row that is not ignored is left as it is.
    public func unignore(rows ids: [Int64], reason: String, by operatorName: String) async throws -> [Int64] {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw OperationError.reasonRequired }
        let changed = try await store.setStatus(rowIDs: ids, to: .failed, from: [.ignored], actor: .operator(operatorName), note: reason)
        if !changed.isEmpty { try await recordAction("\(operatorName) un-ignored \(Self.rows(changed.count, ids: changed))") }
        return changed
    }

    /// Puts an operator's action among the service's events (the console's Events view), beside
    /// the audit trail that keeps its reason. Counts, ids and codes only: never a reason someone
    /// typed, which may name a patient.
    func recordAction(_ message: String, job: Int64? = nil, level: SyncEvent.Level = .info) async throws {
        try await store.appendEvents([SyncEvent(at: Date(), jobID: job, level: level, message: message)])
    }

    /// `3 rows (12, 13, 14)`, the ids cut after ten.
    static func rows(_ count: Int, ids: [Int64]) -> String {
        let shown = ids.prefix(10).map(String.init).joined(separator: ", ") + (ids.count > 10 ? ", …" : "")
        return (count == 1 ? "1 row" : "\(count) rows") + (ids.isEmpty ? "" : " (\(shown))")
    }

    /// Changes a field's rule (audited with the operator and reason).
    public func setPolicy(_ qualifiedField: String, to rule: OwnerRule, reason: String, by operatorName: String) async throws -> PolicyAuditEntry? {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw OperationError.reasonRequired }
        let parts = qualifiedField.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw OperationError.badFieldName(qualifiedField) }
        guard mapping.declaredPolicy.contains(where: { $0.object == parts[0] && $0.field == parts[1] }) else {
            throw OperationError.unknownField(qualifiedField)
        }
        let entry = try await store.setPolicyRule(object: parts[0], field: parts[1], rule: rule, actor: .operator(operatorName), reason: reason)
        if let entry {
            try await recordAction("\(operatorName) changed the policy of \(qualifiedField): \(entry.oldRule?.rawValue ?? "none") → \(entry.newRule)")
        }
        return entry
    }

    /// Which staged row, job, rule and actor put the value a field holds. `id` is the Salesforce
    /// record id or the record's key (the EMR patient id of a Contact).
    public func why(object: String, id: String, field: String) async throws -> WhyAnswer {
        try await WhyAnswer.find(in: store, object: object, id: id, field: field)
    }
}

extension WhyAnswer {
    /// Finds the answer in the store alone (lineage needs neither the mapping nor a connection).
    public static func find(in store: any LinkingStore & RowReader & HistoryReader, object: String, id: String, field: String) async throws -> WhyAnswer {
        let key = try await store.link(targetType: object, targetID: id)?.recordKey ?? id
        let record = MappedRecordKey(object: object, key: key)
        guard let write = try await store.lastWrite(record: record, field: field) else {
            throw OperationError.noLineage(object: object, id: id, field: field)
        }
        let row = try await write.rowID.asyncMap { try await store.row(id: $0) }
        let job = try await write.jobID.asyncMap { try await store.job(id: $0) }
        let state = try await store.fieldStates(for: [record])[record]?[field]
        let retired = try await store.retiredLinks(recordKeys: [key], targetType: object).values.sorted { $0.updatedAt < $1.updatedAt }
        return WhyAnswer(record: record, field: field, write: write, row: row ?? nil, job: job ?? nil, state: state, retired: retired)
    }
}

/// The answer to `why`: the write that put a field's value there, and its evidence.
public struct WhyAnswer: Sendable {
    public var record: MappedRecordKey
    public var field: String
    public var write: FieldWrite
    public var row: StagedRow?
    public var job: Job?
    /// What is known of the field now (synced and last-seen values).
    public var state: FieldState?
    /// The record's source deleted or merged away (or its counterpart removed): since then nothing
    /// is written into it, so its values stay as the last write left them.
    public var retired: [RecordLink] = []
}

/// An action that cannot be done as asked.
public enum OperationError: Error, Sendable, Hashable, CustomStringConvertible {
    case reasonRequired
    case badFieldName(String)
    case unknownField(String)
    case noLineage(object: String, id: String, field: String)
    case retryStopped(job: Int64, reason: String)
    case noSuchConflict(Int64)
    case conflictNotOpen(Int64, Conflict.Status)
    /// A held merge asked to take one side's value: it is settled as merged or kept apart.
    case heldMerge(Int64)
    /// A field conflict asked to be settled as a merge.
    case notAHeldMerge(Int64)
    case notConfigured(String)
    case noSuchRecord(String)
    /// An id typed by an operator that is not of its kind (nothing was asked of the other system).
    case invalidIdentifier(String)

    public var description: String {
        switch self {
        case .reasonRequired: "a reason is required: it goes into the audit trail"
        case .badFieldName(let name): "\"\(name)\" is not Object.Field (for example Contact.Phone)"
        case .unknownField(let name): "\(name) is not a mapped field (see `stagelink policy`)"
        case .noLineage(let object, let id, let field): "no sync has written \(object) \(id) \(field)"
        case .retryStopped(let job, let reason): "retry job \(job) stopped: \(reason)"
        case .noSuchConflict(let id): "no conflict has id \(id)"
        case .conflictNotOpen(let id, let status): "conflict \(id) is \(status.rawValue), not open"
        case .heldMerge(let id):
            "conflict \(id) is a held merge, not a field: settle it as merged or apart (stagelink resolve \(id) --merged|--apart, or m / d in the console)"
        case .notAHeldMerge(let id): "conflict \(id) is a field conflict, not a held merge: take the EMR's or Salesforce's value (--take emr|salesforce)"
        case .notConfigured(let what): "\(what) is not configured"
        case .noSuchRecord(let what): "\(what) was not found"
        case .invalidIdentifier(let what): "\(what): nothing was sent"
        }
    }
}

/// Links staged Salesforce rows into the EMR (implemented by the outbound processor).
public protocol OutboundRowLinker: Sendable {
    func link(_ request: ClaimRequest, recorder: JobRecorder, stop: StopSignal) async throws
    /// Links again the rows that wait on a parent which has linked since.
    func linkWaitingChildren(recorder: JobRecorder, stop: StopSignal) async throws
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        switch self {
        case .some(let value): try await transform(value)
        case .none: nil
        }
    }
}
