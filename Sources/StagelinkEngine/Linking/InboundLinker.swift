import Foundation
import Logging

/// Links staged EMR rows into Salesforce: maps each payload, applies the per-field policy, and
/// upserts by external id in batches, recording per row what happened.
///
/// One bad row never stops the others: it fails alone with its error (the mapping's, or
/// Salesforce's with the remote body), and the rest of its batch links. A record is never half
/// written: its fields go in one upsert, and the store records the outcome of a batch in one
/// transaction. A row older than the version already linked is superseded, never applied.
///
/// For example:
///
/// ```swift
/// let linker = InboundLinker(store: store, target: salesforce, mapping: mapping)
/// try await linker.linkPending(recorder: recorder, stop: StopSignal())
/// ```
public struct InboundLinker: Sendable {
    public var store: any SyncStore
    public var target: any UpsertTarget
    public var mapping: MappingDocument
    /// Rows taken from the store at once; split into upserts of `target.maxBatchSize`.
    public var claimSize: Int
    public var logger: Logger

    public init(store: any SyncStore, target: any UpsertTarget, mapping: MappingDocument, claimSize: Int = 1_000, logger: Logger = Logger(label: "stagelink.link")) {
        self.store = store
        self.target = target
        self.mapping = mapping
        self.claimSize = claimSize
        self.logger = logger
    }

    /// Links every staged EMR row, mapping by mapping in the file's order.
    public func linkPending(recorder: JobRecorder, stop: StopSignal) async throws {
        for inbound in mapping.inbound {
            await recorder.progress(phase: "linking \(inbound.resource)")
            try await link(ClaimRequest(system: .emr, resourceType: inbound.resource, statuses: [.staged]), recorder: recorder, stop: stop)
        }
    }

    /// Links the rows a claim request selects until none is left (a retry passes row ids or
    /// error codes and the failed status).
    public func link(_ request: ClaimRequest, recorder: JobRecorder, stop: StopSignal) async throws {
        let actor = await recorder.actor
        let jobID = await recorder.id
        while true {
            if stop.isRequested { throw SyncStopped() }
            let rows = try await store.claimRows(request, limit: claimSize, actor: actor)
            guard !rows.isEmpty else { return }
            var remaining = rows[...]
            while !remaining.isEmpty {
                let byType = Dictionary(grouping: remaining, by: \.resourceType)
                let resourceType = remaining.first!.resourceType
                let sameType = byType[resourceType]!
                remaining = remaining.filter { $0.resourceType != resourceType }[...]
                guard let inbound = mapping.inbound(forResource: resourceType) else {
                    let error = LinkError(code: "MAPPING_NO_MAPPING", message: "no inbound mapping for \(resourceType) in \(mapping.file)")
                    let outcomes = sameType.map { LinkOutcome(rowID: $0.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: error) }
                    try await store.record(outcomes)
                    await recorder.add(Job.Counts(failed: outcomes.count))
                    continue
                }
                var pendingRows = sameType[...]
                while !pendingRows.isEmpty {
                    if stop.isRequested {
                        try await store.releaseClaims(rowIDs: pendingRows.map(\.id) + remaining.map(\.id), actor: actor)
                        throw SyncStopped()
                    }
                    let chunk = Array(pendingRows.prefix(target.maxBatchSize))
                    pendingRows = pendingRows.dropFirst(chunk.count)
                    let deferred: [StagedRow]
                    do {
                        deferred = try await linkChunk(chunk, inbound: inbound, actor: actor, jobID: jobID, recorder: recorder)
                    } catch let error as RemoteCallError where error.stopsJob {
                        try await store.releaseClaims(rowIDs: chunk.map(\.id) + pendingRows.map(\.id) + remaining.map(\.id), actor: actor)
                        throw error
                    }
                    // Rows of a record already in this batch go in the next one, after it is written.
                    pendingRows = (deferred + pendingRows)[...]
                }
            }
        }
    }

    /// Links one batch; returns the rows deferred because their record already has a row in it.
    private func linkChunk(_ rows: [StagedRow], inbound: InboundMapping, actor: Actor, jobID: Int64, recorder: JobRecorder) async throws -> [StagedRow] {
        let now = Date()
        let mapper = Mapper(mapping: inbound, instruments: mapping.instruments)
        let policy = PolicyTable(try await store.policyRules())
        var outcomes: [LinkOutcome] = []
        var candidates: [(row: StagedRow, record: MappedRecord)] = []
        for row in rows {
            switch mapper.map(row.payload) {
            case .success(let record): candidates.append((row, record))
            case .failure(let error): outcomes.append(LinkOutcome(rowID: row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error))
            }
        }

        // Never apply an older version over a newer one, whether already linked or in this batch.
        let links = try await store.links(for: candidates.map(\.row.recordKey))
        var newestInBatch: [SourceKey: StagedRow] = [:]
        for (row, _) in candidates {
            if let newest = newestInBatch[row.recordKey], !(newest.recordVersion < row.recordVersion) { continue }
            newestInBatch[row.recordKey] = row
        }
        var current: [(row: StagedRow, record: MappedRecord)] = []
        var deferred: [StagedRow] = []
        var recordsInBatch = Set<MappedRecordKey>()
        for candidate in candidates {
            let row = candidate.row
            if let link = links[row.recordKey], row.recordVersion < link.linkedVersion {
                outcomes.append(Self.superseded(row, by: link.linkedRowID, actor: actor, at: now))
            } else if let newest = newestInBatch[row.recordKey], newest.id != row.id {
                outcomes.append(Self.superseded(row, by: newest.id, actor: actor, at: now))
            } else if !recordsInBatch.insert(candidate.record.record).inserted {
                deferred.append(row)
            } else {
                current.append(candidate)
            }
        }

        let states = try await store.fieldStates(for: current.map(\.record.record))
        var plans: [RecordPlan] = []
        for (row, record) in current {
            let plan = RecordPlan.make(
                row: row, record: record, externalID: inbound.externalID, states: states[record.record], policy: policy, from: .emr, actor: actor, jobID: jobID, at: now)
            if plan.writtenFields.isEmpty && states[record.record] != nil {
                // Nothing differs from the last sync (an echo of our own write, or an overlap re-read
                // of new bytes with the same values): linked without a call.
                outcomes.append(plan.outcome(link: links[row.recordKey].map { Self.moved($0, to: row, at: now) }))
            } else {
                plans.append(plan)
            }
        }

        if !plans.isEmpty {
            let sent = plans.map { TargetRecord(fields: [MappedField(name: inbound.externalID, value: .text($0.record.record.key))] + $0.writtenFields) }
            do {
                let results = try await target.upsert(object: inbound.object, externalIDField: inbound.externalID, records: sent)
                for (index, plan) in plans.enumerated() {
                    let result = index < results.count ? results[index] : .failure(LinkError(code: "MALFORMED_RESPONSE", message: "no result was returned for this record"))
                    switch result {
                    case .success(let id, _):
                        let link = RecordLink(
                            source: plan.row.recordKey, targetType: inbound.object, targetID: id, recordKey: plan.record.record.key,
                            linkedRowID: plan.row.id, linkedVersion: plan.row.recordVersion, updatedAt: now)
                        outcomes.append(plan.outcome(link: link, supersedes: [SourceKey(system: .salesforce, resourceType: inbound.object, sourceID: id)]))
                    case .failure(let error):
                        outcomes.append(LinkOutcome(rowID: plan.row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error))
                    }
                }
            } catch {
                if error.stopsJob { throw error }
                for plan in plans {
                    outcomes.append(LinkOutcome(rowID: plan.row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error.error))
                }
                await recorder.event(.warning, "\(inbound.object) upsert of \(plans.count) rows failed as a whole: \(error.error.code)")
            }
        }

        try await store.record(outcomes)
        let counts = Job.Counts(
            linked: outcomes.filter { $0.status == .linked || $0.status == .held }.count, failed: outcomes.filter { $0.status == .failed }.count,
            superseded: outcomes.filter { $0.status == .superseded }.count, conflicts: outcomes.reduce(0) { $0 + $1.conflicts.count })
        await recorder.add(counts)
        await recorder.advance(by: outcomes.count)
        if counts.failed > 0 {
            let codes = Set(outcomes.compactMap { $0.status == .failed ? $0.error?.code : nil }).sorted().joined(separator: ", ")
            await recorder.event(.warning, "\(inbound.resource): \(counts.failed) of \(outcomes.count) rows failed (\(codes))")
        }
        return deferred
    }

    static func superseded(_ row: StagedRow, by newer: Int64?, actor: Actor, at: Date) -> LinkOutcome {
        let note = newer.map { "a newer version (row \($0)) is already linked" } ?? "a newer version is already linked"
        return LinkOutcome(rowID: row.id, actor: actor, at: at, status: .superseded, attempt: .superseded, note: note)
    }

    /// The link moved forward to this row's version (when nothing needed writing).
    static func moved(_ link: RecordLink, to row: StagedRow, at: Date) -> RecordLink {
        var moved = link
        moved.linkedRowID = row.id
        moved.linkedVersion = row.recordVersion
        moved.updatedAt = at
        return moved
    }
}
