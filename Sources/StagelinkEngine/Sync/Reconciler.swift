import Foundation

/// A reconciliation: catches what a delta pull missed by comparing, for every linked record of one
/// type, the id and version its source holds now with what the store last saw of it.
///
/// - A record whose version differs (a `SystemModstamp` that became visible late, a change that
///   never moved the cursor) is fetched and staged verbatim, as a pull would have; the link step
///   then links it like any other row.
/// - A record the source reports deleted or merged (Salesforce's QueryAll: in the Recycle Bin; a
///   FHIR instance history ending in `DELETE`) is staged as its deletion or merge, and the
///   mapping's `onDelete` / `onMerge` rule handles it.
/// - A linked record absent from the source without a reported deletion is **not** a deletion:
///   it may have been purged from the Recycle Bin, moved out of the integration user's sharing or
///   hidden by a scope. It is staged as a deletion candidate (Stagelink's own notice, kind
///   `deletion`) that fails with `DELETION_CANDIDATE` and waits for a person: `retry` confirms the
///   deletion (the rule applies), `ignore` keeps the link.
///
/// The job counts `checked` (linked records compared), `changed` (versions that differed, reported
/// deletions included), `missing` (deletion candidates) and `staged`.
///
/// For example:
///
/// ```swift
/// let reconciler = Reconciler(store: store, source: salesforce)
/// try await reconciler.reconcile("Contact", fields: ["IsDeleted", "FirstName"], carrying: ["EMR_Patient_Id__c"], into: recorder, stop: stop)
/// ```
public struct Reconciler: Sendable {
    public var store: any SyncStore
    public var source: any ReconcileSource
    /// Records a listing page asks for (Salesforce keeps a query's batch between 200 and 2,000).
    public var pageSize: Int
    /// Ids a fetch asks for at once: they travel in the URL (a SOQL `IN` list, a FHIR `_id` list),
    /// which servers cap (Salesforce: 16,384 characters of URI).
    public var fetchSize: Int
    /// Where the listing comes from when not from `source` itself: a Bulk Data export (an EHR
    /// pulled by export refuses the population search a listing is).
    public var export: ExportListing?

    public init(store: any SyncStore, source: any ReconcileSource, pageSize: Int = 2000, fetchSize: Int = 200) {
        self.store = store
        self.source = source
        self.pageSize = pageSize
        self.fetchSize = fetchSize
    }

    /// Reconciles one type into the job. `fields` are what a pull of the type selects (Salesforce);
    /// `carrying` are fields of the record's last staged payload that a deletion candidate keeps, so
    /// that the `onDelete` rule can find the counterpart once a person confirms it (a Contact's
    /// `EMR_Patient_Id__c`). A stop request ends it between pages; what it staged stays.
    public func reconcile(_ resourceType: String, fields: [String] = [], carrying: [String] = [], into recorder: JobRecorder, stop: StopSignal) async throws {
        let linked = try await store.linkedRecords(system: source.system, resourceType: resourceType)
        let phase = "reconciling \(resourceType)"
        await recorder.progress(phase: phase, done: 0, total: .some(linked.count))
        guard !linked.isEmpty else {
            await recorder.event(.info, "\(resourceType): no linked records to reconcile")
            return
        }
        let request = DeltaRequest(resourceType: resourceType, since: nil, fields: fields, pageSize: pageSize)
        var seen = Set<String>()
        var differing: [String] = []
        var cursor: PageCursor?
        repeat {
            if stop.isRequested { throw SyncStopped() }
            let page =
                if let export { try await export.page(of: resourceType, store: store, recorder: recorder, stop: stop) } else {
                    try await source.listing(request, after: cursor)
                }
            for record in page.records {
                guard let last = linked[record.sourceID], seen.insert(record.sourceID).inserted else { continue }
                if Self.differs(record, from: last) { differing.append(record.sourceID) }
            }
            await recorder.progress(phase: phase, done: seen.count)
            while differing.count >= fetchSize {
                try await stage(Array(differing.prefix(fetchSize)), request: request, recorder: recorder)
                differing.removeFirst(fetchSize)
            }
            cursor = page.next
        } while cursor != nil
        if !differing.isEmpty { try await stage(differing, request: request, recorder: recorder) }

        // Absent from the source. A record whose newest row is already its reported deletion or
        // merge (not linked yet) is not missing: the rule is on its way.
        let absent = linked.filter { id, last in
            !seen.contains(id) && !(last.kind != nil && last.kind != .record && last.errorCode != ErrorCode.deletionCandidate.rawValue)
        }.keys.sorted()
        var reported = Set<String>()
        for part in Self.slices(absent, fetchSize) {
            if stop.isRequested { throw SyncStopped() }
            let deletions = try await source.reportedDeletions(request, ids: Array(part))
            let result = try await store.stage(deletions, job: await recorder.id, advancing: nil)
            reported.formUnion(deletions.map(\.sourceID))
            await recorder.add(Job.Counts(pulled: deletions.count, staged: result.staged, deduplicated: result.deduplicated, changed: deletions.count))
        }
        let candidates = absent.filter { !reported.contains($0) }
        for part in Self.slices(candidates, fetchSize) {
            try await hold(Array(part), resourceType: resourceType, linked: linked, carrying: carrying, recorder: recorder)
        }
        await recorder.add(Job.Counts(checked: seen.count + absent.count))
        await recorder.progress(phase: phase, done: seen.count + absent.count)
        await recorder.event(
            candidates.isEmpty ? .info : .warning,
            "\(resourceType): \(seen.count + absent.count) linked records checked, \(candidates.count) missing at the source held as deletion candidates")
    }

    static func slices(_ ids: [String], _ size: Int) -> [ArraySlice<String>] {
        stride(from: 0, to: ids.count, by: max(1, size)).map { ids[$0..<min($0 + max(1, size), ids.count)] }
    }

    /// Whether the listed record is other than the store last saw: another version, a deletion or
    /// merge not staged yet, or a record never read back from its source.
    static func differs(_ record: IncomingRecord, from last: LastSeen) -> Bool {
        guard last.rowID != nil, let version = last.version else { return true }
        if record.kind != .record { return last.kind != record.kind }
        return last.kind != .record || version != record.recordVersion
    }

    /// Fetches the records that differ and stages them verbatim.
    private func stage(_ ids: [String], request: DeltaRequest, recorder: JobRecorder) async throws {
        let records = try await source.records(request, ids: ids)
        let result = try await store.stage(records, job: await recorder.id, advancing: nil)
        await recorder.add(Job.Counts(pulled: records.count, staged: result.staged, deduplicated: result.deduplicated, changed: ids.count))
    }

    /// Stages a deletion candidate for each id and holds it for a person: failed with
    /// `DELETION_CANDIDATE`, which no cycle retries by itself. A candidate already staged (the
    /// record was missing at an earlier reconciliation) is deduplicated and keeps its status.
    private func hold(_ ids: [String], resourceType: String, linked: [String: LastSeen], carrying: [String], recorder: JobRecorder) async throws {
        var notices: [IncomingRecord] = []
        for id in ids {
            var carried: [JSONObject.Member] = []
            if !carrying.isEmpty, let rowID = linked[id]?.rowID, let row = try await store.row(id: rowID),
                let last = try? JSONValue(parsing: row.payload)
            {
                carried = carrying.compactMap { field in last[field].map { JSONObject.Member(key: field, value: $0) } }
            }
            notices.append(
                IncomingRecord(
                    system: source.system, resourceType: resourceType, sourceID: id, version: nil, lastUpdated: nil,
                    payload: Self.notice(system: source.system, resourceType: resourceType, id: id, carried: carried), kind: .deletion))
        }
        let result = try await store.stage(notices, job: await recorder.id, advancing: nil)
        let jobID = await recorder.id
        let now = Date()
        let system = source.system == .salesforce ? "Salesforce" : "the EMR"
        let outcomes = result.rowIDs.enumerated().map { index, rowID in
            LinkOutcome(
                rowID: rowID, actor: .job(jobID), at: now, status: .failed, attempt: .failed,
                error: LinkError(
                    .deletionCandidate,
                    message: "reconciliation job \(jobID) found \(resourceType)/\(notices[index].sourceID) linked here but absent from \(system), "
                        + "which did not report it deleted; nothing was written. Retry to apply onDelete, ignore to keep the link"))
        }
        // Rows and their hold in one step each: the candidate rows are the job's own until held.
        try await store.record(outcomes)
        await recorder.add(Job.Counts(staged: result.staged, deduplicated: result.deduplicated, missing: ids.count))
    }

    /// Stagelink's notice of a record missing at its source: the record's type and id, the carried
    /// fields, and `"stagelink": {"reconciliation": "missing"}`, so that nobody takes it for a payload
    /// the source sent. Its bytes depend on nothing else, so that a record still missing at the next
    /// reconciliation is deduplicated.
    static func notice(system: SourceSystem, resourceType: String, id: String, carried: [JSONObject.Member]) -> [UInt8] {
        var members: [JSONObject.Member] =
            switch system {
            case .salesforce:
                [.init(key: "attributes", value: .object(JSONObject(["type": .string(resourceType)]))), .init(key: "Id", value: .string(id))]
            case .emr: [.init(key: "resourceType", value: .string(resourceType)), .init(key: "id", value: .string(id))]
            }
        members += carried
        members.append(.init(key: "stagelink", value: .object(JSONObject(["reconciliation": .string("missing")]))))
        return JSONWriter.compact(.object(JSONObject(members)))
    }
}
