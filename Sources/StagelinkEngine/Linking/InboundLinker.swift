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
    /// The roles of the store a linker uses: it claims and records rows, reads them, the policy, and
    /// the held merges (conflicts) that a merge from the other side settles.
    public typealias Store = LinkingStore & RowReader & PolicyReader & HistoryReader

    public var store: any Store
    public var target: any UpsertTarget
    public var mapping: MappingDocument
    /// Rows taken from the store at once; split into upserts of `target.maxBatchSize`.
    public var claimSize: Int
    /// The most upsert calls in flight at once (`salesforce.concurrency`); a ``ConcurrencyWindow``
    /// narrows it while Salesforce throttles.
    public var concurrency: Int
    /// Workers that link the staged rows at once, each its own share (``ClaimPartition``): a
    /// person's rows all go to one worker, in row order.
    public var workers = 1
    public var logger: Logger

    public init(
        store: any Store, target: any UpsertTarget, mapping: MappingDocument, claimSize: Int = 1_000, concurrency: Int = 4,
        logger: Logger = Logger(label: "stagelink.link")
    ) {
        self.store = store
        self.target = target
        self.mapping = mapping
        self.claimSize = claimSize
        self.concurrency = max(1, concurrency)
        self.logger = logger
    }

    /// Links every staged EMR row, mapping by mapping in the file's order.
    ///
    /// With `pulled` (a link beside the pulls), a mapping's rows are taken while its resource type
    /// is still pulled: `pulled(type, rows)` returns false each time ``rowsPerPassBesidePull`` more
    /// rows of the type are staged, and this links the whole bulk batches that wait then (once more
    /// than the target's bulk threshold waits: a pass beside the pull never sends a batch smaller
    /// than a bulk job, so the calls are those of one pass at the end); it returns true once the
    /// type's pull has ended, and the rest is linked. Rows are claimed in the order they were
    /// staged, so a record's versions still link in order, and a mapping's rows are all linked
    /// before the next mapping's (parents before children).
    public func linkPending(recorder: JobRecorder, stop: StopSignal, pulled: (@Sendable (_ type: String, _ rows: Int?) async throws -> Bool)? = nil) async throws {
        // How many rows wait is known before linking starts: progress has a total, a bar and an ETA.
        // Beside the pulls it is counted again at each pass: what is done, and what waits now.
        func total() async throws -> Int {
            try await store.countRows(RowFilter(statuses: [.staged], system: .emr)) + (await recorder.progressDone)
        }
        var waiting = pulled == nil ? try await store.countRows(RowFilter(statuses: [.staged], system: .emr)) : 0
        for inbound in mapping.inbound {
            let request = ClaimRequest(system: .emr, resourceType: inbound.resource, statuses: [.staged])
            // The type's bulk batch size once more than the threshold's rows waited for the object:
            // once a pass beside the pull went in bulk jobs, the rest of the type does too.
            var bulk: Int?
            func goesInBulk(_ size: Int, _ when: String) async {
                guard bulk == nil else { return }
                bulk = size
                await recorder.event(.info, "\(inbound.object): more than \(target.bulkThreshold ?? 0) rows wait, upserted in bulk jobs of up to \(size)\(when)")
            }
            if let pulled {
                while try await !pulled(inbound.resource, rowsPerPassBesidePull) {
                    guard let batch = try await bulkBatch(for: inbound) else { continue }
                    let whole = batch.typeWaiting / batch.size * batch.size
                    guard whole > 0 else { continue }
                    await goesInBulk(batch.size, " while \(inbound.resource) is pulled")
                    waiting = try await total()
                    await recorder.progress(phase: "linking \(inbound.resource) (beside its pull)", total: .some(waiting))
                    try await linkInShares(request, recorder: recorder, stop: stop, batchSize: batch.size, limit: whole)
                }
                waiting = try await total()
            }
            await recorder.progress(phase: "linking \(inbound.resource)", total: .some(waiting))
            if let batch = try await bulkBatch(for: inbound) { await goesInBulk(batch.size, "") }
            try await linkInShares(request, recorder: recorder, stop: stop, batchSize: bulk)
        }
    }

    /// How many more staged rows of a type a link beside its pull waits for before it looks again
    /// whether whole bulk batches wait (``linkPending(recorder:stop:pulled:)``): a bulk batch's
    /// rows (the target's bulk batch size, never under its collections batch), nil (only at the
    /// pull's end) when the target has no bulk path.
    public var rowsPerPassBesidePull: Int? {
        target.bulkThreshold == nil ? nil : max(target.bulkBatchSize, target.maxBatchSize)
    }

    /// Links what `request` selects with ``workers`` workers at once, each claiming its own share
    /// (one worker: all of it). A mapping's rows are all linked before the next mapping starts.
    /// `limit` (a pass beside the pull) is how many rows to take in all; the workers share it.
    private func linkInShares(_ request: ClaimRequest, recorder: JobRecorder, stop: StopSignal, batchSize: Int?, limit: Int? = nil) async throws {
        guard workers > 1 else { return try await link(request, recorder: recorder, stop: stop, batchSize: batchSize, limit: limit) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<workers {
                var share = request
                share.partition = ClaimPartition(index: index, of: workers)
                let shareLimit = limit.map { $0 / workers + (index < $0 % workers ? 1 : 0) }
                group.addTask { try await link(share, recorder: recorder, stop: stop, batchSize: batchSize, limit: shareLimit) }
            }
            try await group.waitForAll()
        }
    }

    /// The size of a bulk batch (``rowsPerPassBesidePull``) when more rows than the target's bulk
    /// threshold wait for this mapping's object (counting every mapping into that object), with how
    /// many of them are of this mapping's resource type; nil otherwise.
    private func bulkBatch(for inbound: InboundMapping) async throws -> (size: Int, typeWaiting: Int)? {
        guard let threshold = target.bulkThreshold, let size = rowsPerPassBesidePull else { return nil }
        var counted: [String: Int] = [:]
        var waiting = 0
        for other in mapping.inbound where other.object == inbound.object {
            if counted[other.resource] == nil {
                counted[other.resource] = try await store.countRows(RowFilter(statuses: [.staged], system: .emr, resourceType: other.resource))
            }
            waiting += counted[other.resource] ?? 0
        }
        return waiting > threshold ? (size, counted[inbound.resource] ?? 0) : nil
    }

    /// Links the rows a claim request selects until none is left (a retry passes row ids or
    /// error codes and the failed status).
    ///
    /// Batches are pipelined: while upserts are in flight (up to the ``ConcurrencyWindow``'s
    /// limit) the next batch is mapped and planned, and the store records the outcomes of those
    /// that came back. Rows of one record never race: a batch that touches a record still in
    /// flight or being recorded waits for it, so a record's rows are written in row order. A
    /// child never goes before its parent: batches in flight together are of one resource type,
    /// and a batch of another type (an Assessment after Patients) waits until they are done.
    ///
    /// `batchSize` (the target's bulk batch size for a large load) replaces the target's
    /// `maxBatchSize`: a batch larger than that goes through the target's bulk upsert. `limit`
    /// stops it after claiming that many rows (nil: until none is left).
    public func link(_ request: ClaimRequest, recorder: JobRecorder, stop: StopSignal, batchSize: Int? = nil, limit: Int? = nil) async throws {
        let batchSize = batchSize ?? target.maxBatchSize
        let actor = await recorder.actor
        let jobID = await recorder.id
        var writer = OutcomeWriter(store: store, recorder: recorder)
        var unprocessed: [Int64] = []
        var request = request
        let store = store
        let claimSize = max(claimSize, batchSize)
        let window = ConcurrencyWindow(maximum: concurrency, meter: target.meter)
        // Rows still to claim under `limit`.
        var unclaimed = limit ?? Int.max
        func claim(_ request: ClaimRequest) -> Task<[StagedRow], any Error>? {
            guard unclaimed > 0 else { return nil }
            let size = min(claimSize, unclaimed)
            return Task { try await store.claimRows(request, limit: size, actor: actor) }
        }
        // The next rows are claimed while these are linked: a claim is a write, and waiting for it
        // behind the outcomes being recorded would leave the linker idle for a whole transaction.
        var nextClaim = claim(request)
        do {
            try await withThrowingTaskGroup(of: SentBatch.self) { group in
                // The batches being sent, by number: what they write, and their resource type.
                var inFlight: [Int: (records: Set<MappedRecordKey>, sources: Set<SourceKey>)] = [:]
                var inFlightType = ""
                var sent = 0

                /// Takes the next batch that came back and hands its outcomes to the writer.
                func collect() async throws {
                    guard let batch = try await group.next() else { return }
                    let keys = inFlight.removeValue(forKey: batch.number)!
                    if let limit = window.end(batch.ticket, throttled: batch.throttled) {
                        await recorder.event(.info, "Salesforce: \(limit) upsert \(limit == 1 ? "call" : "calls") in flight at most now (of \(window.maximum))")
                    }
                    try await writer.submit(batch.outcomes, records: keys.records, sources: keys.sources)
                    let done = Set(batch.outcomes.map(\.rowID))
                    unprocessed.removeAll { done.contains($0) }
                }

                while true {
                    if stop.isRequested { throw SyncStopped() }
                    guard let claimed = nextClaim else { break }
                    let rows = try await claimed.value
                    nextClaim = nil
                    guard let lastRow = rows.last else { break }
                    unprocessed += rows.map(\.id)
                    unclaimed -= rows.count
                    // Rows still being sent or recorded stay claimed by us and lie before
                    // `afterRowID`: the next claim does not take them again.
                    request.afterRowID = lastRow.id
                    nextClaim = claim(request)
                    var pending = rows[...]
                    // Deletions and merges are linked by the mapping's onDelete and onMerge rules, after
                    // what is in flight and being recorded is written: they retire links the next batches read
                    // (and a version of this batch staged before its record's removal is superseded by it).
                    let removals = pending.filter { $0.kind != .record }
                    if !removals.isEmpty {
                        pending = pending.filter { $0.kind == .record }[...]
                        while !inFlight.isEmpty { try await collect() }
                        try await writer.drain()
                        let outcomes = try await linkRemovals(removals, actor: actor, jobID: jobID)
                        try await writer.submit(outcomes)
                        try await writer.drain()
                        let done = Set(outcomes.map(\.rowID))
                        unprocessed.removeAll { done.contains($0) }
                    }
                    while let first = pending.first {
                        if stop.isRequested { throw SyncStopped() }
                        guard let inbound = mapping.inbound(forResource: first.resourceType) else {
                            let error = LinkError(.mappingNoMapping, message: "no inbound mapping for \(first.resourceType) in \(mapping.file)")
                            let unmapped = pending.filter { $0.resourceType == first.resourceType }
                            pending = pending.filter { $0.resourceType != first.resourceType }[...]
                            try await writer.submit(unmapped.map { LinkOutcome(rowID: $0.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: error) })
                            unprocessed.removeAll { id in unmapped.contains { $0.id == id } }
                            continue
                        }
                        // One resource type per batch, in row order.
                        var chunk: [StagedRow] = []
                        var rest: [StagedRow] = []
                        for row in pending {
                            if row.resourceType == first.resourceType && chunk.count < batchSize { chunk.append(row) } else { rest.append(row) }
                        }
                        let batch = try await prepare(chunk, inbound: inbound, actor: actor)
                        // Wait for room in the window, for the batches of another type (parents before
                        // children), and for any batch in flight that writes one of these records.
                        while !inFlight.isEmpty
                            && (inFlight.count >= window.limit || inFlightType != first.resourceType
                                || inFlight.values.contains { !$0.records.isDisjoint(with: batch.records) || !$0.sources.isDisjoint(with: batch.sources) })
                        {
                            try await collect()
                        }
                        if writer.isRecording(batch.records, batch.sources) { try await writer.drain() }
                        let number = sent
                        sent += 1
                        inFlight[number] = (batch.records, batch.sources)
                        inFlightType = first.resourceType
                        let ticket = window.begin()
                        group.addTask {
                            let outcomes = try await send(batch, inbound: inbound, actor: actor, jobID: jobID, recorder: recorder)
                            return SentBatch(number: number, outcomes: outcomes, ticket: ticket)
                        }
                        // Rows of a record already in this batch go in a later one, after it is written.
                        pending = (batch.deferred + rest)[...]
                    }
                }
                while !inFlight.isEmpty { try await collect() }
            }
            try await writer.drain()
        } catch {
            if let prefetched = try? await nextClaim?.value { unprocessed += prefetched.map(\.id) }
            try? await writer.drain()
            try? await store.releaseClaims(rowIDs: unprocessed, actor: actor)
            throw error
        }
    }

    /// A batch that came back from Salesforce: its outcomes, and whether it was throttled.
    private struct SentBatch: Sendable {
        var number: Int
        var outcomes: [LinkOutcome]
        var ticket: ConcurrencyWindow.Ticket
        /// The call failed as a whole on a throttling answer its retries did not outlast.
        var throttled: Bool { outcomes.contains { $0.error.map { LinkError.throttleCodes.contains($0.code) } ?? false } }
    }

    /// Links again the rows that wait on a parent which has linked since (a Patient retried after
    /// a row lock, then its episode and assessments), round after round while there are such rows
    /// (a parent that links may have children waiting in turn), at most `rounds` times.
    public func linkWaitingChildren(recorder: JobRecorder, stop: StopSignal, rounds: Int = 5) async throws {
        try await ParentWait.relinkChildren(system: .emr, store: store, recorder: recorder, rounds: rounds) { ids in
            for inbound in mapping.inbound {
                try await link(
                    ClaimRequest(system: .emr, resourceType: inbound.resource, statuses: [.failed], rowIDs: ids, errorCodes: [ErrorCode.waitingOnParent.rawValue]),
                    recorder: recorder, stop: stop)
            }
        }
    }

    /// A batch mapped and checked against itself, before anything is read from the store.
    private struct PreparedBatch: Sendable {
        var failed: [LinkOutcome] = []
        var candidates: [(row: StagedRow, record: MappedRecord)] = []
        var deferred: [StagedRow] = []
        var records = Set<MappedRecordKey>()
        var sources = Set<SourceKey>()
    }

    private func prepare(_ rows: [StagedRow], inbound: InboundMapping, actor: Actor) async throws -> PreparedBatch {
        let now = Date()
        let mapper = Mapper(mapping: inbound, instruments: mapping.instruments)
        var batch = PreparedBatch()
        var mapped: [(row: StagedRow, record: MappedRecord)] = []
        var withheld: [(row: StagedRow, label: SecurityLabel)] = []
        for (row, result) in zip(rows, await Self.mapInParallel(rows, with: mapper, sensitivity: mapping.sensitivity)) {
            switch result {
            case .mapped(let record): mapped.append((row, record))
            case .failed(let error): batch.failed.append(LinkOutcome(rowID: row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error))
            case .withheld(let label): withheld.append((row, label))
            }
        }
        // Of two versions of a record in one batch only the newest is applied; a withheld newest
        // version applies nothing, and the older ones are superseded by it.
        var newest: [SourceKey: StagedRow] = [:]
        for row in mapped.map(\.row) + withheld.map(\.row) {
            if let current = newest[row.recordKey], !(current.recordVersion < row.recordVersion) { continue }
            newest[row.recordKey] = row
        }
        for (row, label) in withheld {
            if let newer = newest[row.recordKey], newer.id != row.id {
                batch.failed.append(Self.superseded(row, by: newer.id, actor: actor, at: now))
            } else {
                batch.failed.append(
                    LinkOutcome(rowID: row.id, actor: actor, at: now, status: .withheld, attempt: .withheld, error: .withheld(by: label), note: "withheld by \(label)"))
            }
        }
        for candidate in mapped {
            let row = candidate.row
            if let newer = newest[row.recordKey], newer.id != row.id {
                batch.failed.append(Self.superseded(row, by: newer.id, actor: actor, at: now))
            } else if !batch.records.insert(candidate.record.record).inserted {
                batch.deferred.append(row)
            } else {
                batch.candidates.append(candidate)
                batch.sources.insert(row.recordKey)
            }
        }
        return batch
    }

    /// Plans each record against the store, sends what must be written, and returns every outcome.
    private func send(_ batch: PreparedBatch, inbound: InboundMapping, actor: Actor, jobID: Int64, recorder: JobRecorder) async throws -> [LinkOutcome] {
        let now = Date()
        var outcomes = batch.failed
        let policy = PolicyTable(try await store.policyRules())
        // Never apply an older version over a newer one already linked.
        let links = try await store.links(for: Array(batch.sources))
        // Nor an older version after a newer one a security label withheld (a retry of a failed
        // version would otherwise send it after the record was labelled).
        let withheldRows = try await store.withheldRows(of: Array(batch.sources))
        // Nor a version staged before the record's deletion or merge, even where that removal
        // found no link (the record was never linked: it must not be created now).
        let removalRows = try await store.removalRows(of: Array(batch.sources))
        // Nor anything into a record whose source was deleted or merged away, by any mapping.
        let retired = try await store.retiredLinks(recordKeys: batch.candidates.map(\.record.record.key), targetType: inbound.object)
        var current: [(row: StagedRow, record: MappedRecord)] = []
        for candidate in batch.candidates {
            if let link = links[candidate.row.recordKey]?.retirement != nil ? links[candidate.row.recordKey] : retired[candidate.record.record.key] {
                outcomes.append(Self.retired(candidate.row, link: link, actor: actor, at: now))
            } else if let removal = removalRows[candidate.row.recordKey]?.first(where: { $0.id > candidate.row.id }) {
                outcomes.append(
                    LinkOutcome(
                        rowID: candidate.row.id, actor: actor, at: now, status: .superseded, attempt: .superseded,
                        note: "a newer row (\(removal.id)) says \(candidate.row.resourceType)/\(candidate.row.sourceID) was "
                            + "\(removal.kind == .merge ? "merged away" : "deleted"): nothing older is sent after it"))
            } else if let link = links[candidate.row.recordKey], candidate.row.recordVersion < link.linkedVersion {
                outcomes.append(Self.superseded(candidate.row, by: link.linkedRowID, actor: actor, at: now))
            } else if let newer = (withheldRows[candidate.row.recordKey] ?? []).filter({ candidate.row.recordVersion < RecordVersion(version: $0.version, lastUpdated: $0.lastUpdated) }).first {
                outcomes.append(
                    LinkOutcome(
                        rowID: candidate.row.id, actor: actor, at: now, status: .superseded, attempt: .superseded,
                        note: "a newer version (row \(newer.id)) is withheld by a security label: nothing older is sent after it"))
            } else {
                current.append(candidate)
            }
        }

        let states = try await store.fieldStates(for: current.map(\.record.record))
        let rules = policy.rules(object: inbound.object, fields: inbound.fields.map(\.field))
        var plans: [RecordPlan] = []
        for (row, record) in current {
            let plan = RecordPlan.make(
                row: row, record: record, externalID: inbound.externalID, states: states[record.record], rules: rules, from: .emr, actor: actor,
                jobID: jobID, at: now)
            if plan.writtenFields.isEmpty && states[record.record] != nil && links[row.recordKey] != nil {
                // Nothing differs from the last sync (an echo of our own write, or an overlap re-read
                // of new bytes with the same values): linked without a call. A record not linked yet
                // (its values observed through another mapping or from Salesforce) is upserted by its
                // external id all the same, so that its link is known (a later deletion flags it).
                outcomes.append(plan.outcome(link: links[row.recordKey].map { Self.moved($0, to: row, at: now) }))
            } else {
                plans.append(plan)
            }
        }

        // Records Stagelink created from Salesforce are written by their Salesforce id; the rest
        // are upserted by external id. The two groups are disjoint records: when both go to the
        // target's bulk API, their jobs run at once.
        let byExternalID = plans.filter { $0.record.salesforceID == nil }
        let byID = plans.filter { $0.record.salesforceID != nil }
        if byExternalID.count > target.maxBatchSize && byID.count > target.maxBatchSize {
            async let upserted = write(byExternalID, byID: false, inbound: inbound, actor: actor, at: now, recorder: recorder)
            async let updated = write(byID, byID: true, inbound: inbound, actor: actor, at: now, recorder: recorder)
            let (first, second) = try await (upserted, updated)
            outcomes += first + second
        } else {
            outcomes += try await write(byExternalID, byID: false, inbound: inbound, actor: actor, at: now, recorder: recorder)
            outcomes += try await write(byID, byID: true, inbound: inbound, actor: actor, at: now, recorder: recorder)
        }
        // A row refused while its parent is not linked waits for it instead of waiting for a person.
        outcomes = try await ParentWait.mark(outcomes, store: store)
        let waiting = outcomes.filter { $0.error?.isWaitingOnParent == true }.count
        if waiting > 0 {
            await recorder.event(.info, "\(inbound.resource): \(waiting) rows wait on their parent, and link once it links")
        }
        let failed = outcomes.filter { $0.status == .failed && $0.error?.isWaitingOnParent != true }
        if !failed.isEmpty {
            let codes = Set(failed.compactMap { $0.error?.code }).sorted().joined(separator: ", ")
            await recorder.event(.warning, "\(inbound.resource): \(failed.count) of \(outcomes.count) rows failed (\(codes))")
        }
        // Conflicts are events too, so that those held for a person never pile up unseen.
        let conflicts = outcomes.reduce(0) { $0 + $1.conflicts.count }
        if conflicts > 0 {
            let held = outcomes.filter { $0.status == .held }.count
            await recorder.event(
                held > 0 ? .warning : .info,
                "\(inbound.object): \(conflicts) \(conflicts == 1 ? "conflict" : "conflicts") found" + (held > 0 ? ", \(held) \(held == 1 ? "row" : "rows") held for review" : ", decided by the policy"))
        }
        let withheld = outcomes.filter { $0.status == .withheld }.count
        if withheld > 0 { await recorder.event(.info, "\(inbound.resource): \(withheld) rows withheld by security labels (stagelink rows --status withheld)") }
        return outcomes
    }

    /// Writes one group of a batch, upserted by external id or updated by Salesforce id, and
    /// returns an outcome for each of its rows. A group larger than `target.maxBatchSize` (only
    /// in a bulk-size batch) goes to the target's bulk API (Bulk API 2.0), the one place a large
    /// load does. A call that fails as a whole fails this group's rows only, unless it stops the
    /// job.
    private func write(
        _ group: [RecordPlan], byID: Bool, inbound: InboundMapping, actor: Actor, at now: Date, recorder: JobRecorder
    ) async throws -> [LinkOutcome] {
        guard !group.isEmpty else { return [] }
        let fields = group.map { [MappedField(name: inbound.externalID, value: .text($0.record.record.key))] + $0.writtenFields }
        let bulk = group.count > target.maxBatchSize
        var outcomes: [LinkOutcome] = []
        do {
            let results: [RecordResult]
            if byID {
                let records = zip(group, fields).map { TargetRecordUpdate(id: $0.record.salesforceID!, fields: $1) }
                results = bulk
                    ? try await target.bulkUpdate(object: inbound.object, records: records)
                    : try await target.update(object: inbound.object, records: records)
            } else {
                // A mapping with a record type (Person Accounts) creates every record with it; a
                // record Salesforce made keeps its own and is written by id.
                var upserted = fields
                if let recordType = inbound.recordType {
                    let id = try await target.recordTypeID(object: inbound.object, developerName: recordType)
                    upserted = fields.map { $0 + [MappedField(name: "RecordTypeId", value: .text(id))] }
                }
                let records = upserted.map(TargetRecord.init)
                results = bulk
                    ? try await target.bulkUpsert(object: inbound.object, externalIDField: inbound.externalID, records: records)
                    : try await target.upsert(object: inbound.object, externalIDField: inbound.externalID, records: records)
            }
            CrashPoints.reach(.upsertSent)
            for (index, plan) in group.enumerated() {
                let result = index < results.count ? results[index] : .failure(LinkError(.malformedResponse, message: "no result was returned for this record"))
                switch result {
                case .success(let id, _):
                    let link = RecordLink(
                        source: plan.row.recordKey, targetType: inbound.object, targetID: id, recordKey: plan.record.record.key,
                        linkedRowID: plan.row.id, linkedVersion: plan.row.recordVersion, updatedAt: now)
                    outcomes.append(plan.outcome(link: link, supersedes: [SourceKey(system: .salesforce, resourceType: inbound.object, sourceID: id)]))
                case .failure(let error):
                    let named = error.namingFields(amongst: fields[index].map(\.name).filter { $0 != inbound.externalID })
                    outcomes.append(LinkOutcome(rowID: plan.row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: named))
                }
            }
        } catch {
            if error.stopsJob { throw error }
            for plan in group {
                outcomes.append(LinkOutcome(rowID: plan.row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error.error))
            }
            await recorder.event(.warning, "\(inbound.object) write of \(group.count) rows failed as a whole: \(error.error.code)")
        }
        return outcomes
    }

    /// What screening and mapping made of one row.
    enum Screened: Sendable {
        case mapped(MappedRecord)
        case failed(LinkError)
        /// A security label blocks it: it is never sent.
        case withheld(SecurityLabel)
    }

    /// One row screened by its security labels, then mapped without the fields its labels strip.
    static func screen(_ row: StagedRow, with mapper: Mapper, sensitivity: SensitivityPolicy) -> Screened {
        guard !sensitivity.isEmpty else { return Screened(mapper.map(row.payload, stagedAs: row.sourceID)) }
        let resource: JSONValue
        do {
            resource = try JSONValue(parsing: row.payload)
        } catch {
            return Screened(mapper.map(row.payload, stagedAs: row.sourceID))
        }
        switch sensitivity.verdict(for: resource) {
        case .invalid(let error):
            // A resource the mapper refuses fails with the mapper's own, more precise error.
            if case .failure(let mappingError) = mapper.map(resource, stagedAs: row.sourceID) { return .failed(mappingError) }
            return .failed(error)
        case .withhold(let label): return .withheld(label)
        case .send(let stripped):
            var result = mapper.map(resource, stagedAs: row.sourceID)
            if case .success(var record) = result, !stripped.isEmpty {
                record.fields.removeAll { stripped.contains($0.name) }
                result = .success(record)
            }
            return Screened(result)
        }
    }

    /// Parsing and mapping payloads is the linker's heaviest work and needs nothing shared: it is
    /// spread over the machine's cores, results kept in row order.
    static func mapInParallel(_ rows: [StagedRow], with mapper: Mapper, sensitivity: SensitivityPolicy) async -> [Screened] {
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, rows.count / 50))
        guard parts > 1 else { return rows.map { screen($0, with: mapper, sensitivity: sensitivity) } }
        let size = (rows.count + parts - 1) / parts
        return await withTaskGroup(of: (Int, [Screened]).self) { group in
            for part in 0..<parts {
                let slice = Array(rows[min(rows.count, part * size)..<min(rows.count, (part + 1) * size)])
                group.addTask { (part, slice.map { screen($0, with: mapper, sensitivity: sensitivity) }) }
            }
            var results = Array(repeating: [Screened](), count: parts)
            for await (part, mapped) in group { results[part] = mapped }
            return results.flatMap { $0 }
        }
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

extension InboundLinker.Screened {
    init(_ result: Result<MappedRecord, LinkError>) {
        switch result {
        case .success(let record): self = .mapped(record)
        case .failure(let error): self = .failed(error)
        }
    }
}
