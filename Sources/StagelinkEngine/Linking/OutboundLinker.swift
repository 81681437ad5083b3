import Foundation
import Logging

/// Links staged Salesforce rows into the EMR.
///
/// - A Contact that is linked to an EMR Patient: its values are observed (conflict detection
///   compares against them), and changes of fields that Salesforce may write go to the Patient as
///   an update naming the version read (`If-Match`).
/// - An Admission that reached the ready stage, or is pushed by hand: its Patient is created once,
///   keyed on the Contact's Salesforce id, by conditional create or by a search then a create
///   (`createOnce`: a retry or a crash can never make a second one), then its ServiceRequest, and
///   both EMR ids are written back to Salesforce.
/// - Changes to a Patient go as a PUT of the whole resource or as JSON Patch operations naming
///   only what changed, both with `If-Match`, as the EMR takes updates (`emr.writes.update`).
///
/// An echo of Stagelink's own write (the integration user changed it and every value equals the
/// last sync) is recognised and sends nothing.
public struct OutboundLinker: OutboundRowLinker {
    /// The roles of the store a linker uses: it claims and records rows, reads them, the policy, and
    /// the held merges (conflicts) that a merge from the other side settles.
    public typealias Store = LinkingStore & RowReader & PolicyReader & HistoryReader

    public var store: any Store
    public var mapping: MappingDocument
    /// The EMR; nil when only observing (then rows that need a write fail with a clear error).
    public var emr: (any ResourceWriter)?
    /// Salesforce, for writing the EMR's ids back.
    public var salesforce: (any UpsertTarget)?
    /// The Salesforce user Stagelink writes as.
    public var integrationUserID: @Sendable () async -> String?
    /// The most rows being written to the EMR at once (`emr.concurrency`); a
    /// ``ConcurrencyWindow`` narrows it while the EMR throttles.
    public var concurrency: Int
    public var logger: Logger

    public init(
        store: any Store, mapping: MappingDocument, emr: (any ResourceWriter)?, salesforce: (any UpsertTarget)?,
        integrationUserID: @escaping @Sendable () async -> String? = { nil }, concurrency: Int = 4, logger: Logger = Logger(label: "stagelink.outbound")
    ) {
        self.store = store
        self.mapping = mapping
        self.emr = emr
        self.salesforce = salesforce
        self.integrationUserID = integrationUserID
        self.concurrency = max(1, concurrency)
        self.logger = logger
    }

    /// The Salesforce objects pulled for the outbound direction, Contacts first.
    public var objects: [String] {
        [mapping.outbound.contacts?.object, mapping.outbound.admissions?.object].compactMap { $0 }
    }

    /// The fields to select for an object's delta pull.
    public func pullFields(for object: String) -> [String] {
        // IsDeleted makes the pull a QueryAll: deletions and merges arrive with the changes.
        var fields = ["Id", "SystemModstamp", "LastModifiedById", "IsDeleted"]
        func add(_ field: String) { if !fields.contains(field) { fields.append(field) } }
        if let contacts = mapping.outbound.contacts, contacts.object == object, let patients = mapping.inbound(named: contacts.mapping) {
            for field in patients.fields where !field.field.contains(".") { add(field.field) }
            // The objects Salesforce merges carry MasterRecordId (Contact, Account, Lead, Case).
            if ["Contact", "Account", "Lead", "Case"].contains(object) { add("MasterRecordId") }
        }
        if let admissions = mapping.outbound.admissions, admissions.object == object {
            add(admissions.stageField)
            add(admissions.contactField)
            add(admissions.serviceRequest.externalIDField)
            for field in admissions.serviceRequest.fields { add(field.field) }
            if let patients = mapping.inbound(named: admissions.patientMapping) {
                let relationship = Self.relationshipName(admissions.contactField)
                for field in patients.fields where !field.field.contains(".") { add("\(relationship).\(field.field)") }
            }
        }
        return fields
    }

    /// `Contact__c` → `Contact__r`; a standard lookup `ContactId` → `Contact`.
    static func relationshipName(_ lookupField: String) -> String {
        if lookupField.hasSuffix("__c") { return String(lookupField.dropLast(3)) + "__r" }
        if lookupField.hasSuffix("Id") { return String(lookupField.dropLast(2)) }
        return lookupField
    }

    /// Records the values of staged (not yet linked) Contact rows as Salesforce's last-seen values,
    /// so that linking the EMR's changes next recognises fields both sides changed. Row statuses
    /// do not change here.
    public func observePending() async throws {
        guard let contacts = mapping.outbound.contacts, let patients = mapping.inbound(named: contacts.mapping) else { return }
        var cursor: RowCursor?
        while true {
            let page = try await store.rows(
                RowQuery(filter: RowFilter(statuses: [.staged], system: .salesforce, resourceType: contacts.object, kind: .record), after: cursor, limit: 500))
            guard let last = page.last else { return }
            cursor = last.cursor(for: RowSort())
            var observed: [MappedRecordKey: [String: FieldValue]] = [:]
            for row in try await store.rows(ids: page.map(\.id)) {
                guard let record = try? JSONValue(parsing: row.payload),
                    case .text(let patientID) = FieldConversion.salesforceValue(record[patients.externalID], for: patients.externalIDField!),
                    FHIRID.isValid(patientID)
                else { continue }
                let key = MappedRecordKey(object: patients.object, key: patientID)
                for field in patients.fields where !field.type.isComputed {
                    observed[key, default: [:]][field.field] = FieldConversion.salesforceValue(record[field.field], for: field)
                }
            }
            let states = try await store.fieldStates(for: Array(observed.keys))
            var changes: [FieldStateChange] = []
            for (key, values) in observed {
                for (field, value) in values {
                    var state = states[key]?[field] ?? FieldState()
                    guard state.salesforce != value else { continue }
                    state.salesforce = value
                    changes.append(FieldStateChange(record: key, field: field, state: state))
                }
            }
            try await store.updateFieldStates(changes)
        }
    }

    /// Links every staged Salesforce row: Contacts first, then admissions.
    public func linkPending(recorder: JobRecorder, stop: StopSignal) async throws {
        // As inbound: the rows waiting give the progress its total.
        let waiting = try await store.countRows(RowFilter(statuses: [.staged], system: .salesforce))
        for object in objects {
            await recorder.progress(phase: "linking \(object)", total: .some(waiting))
            try await link(ClaimRequest(system: .salesforce, resourceType: object, statuses: [.staged]), recorder: recorder, stop: stop)
        }
    }

    /// Links the Salesforce deletions and merges that are staged, ahead of the EMR's changes: a
    /// version of a Patient linked before its Contact's removal would upsert the Contact by external
    /// id after Salesforce removed it, and so make it again (found by the crash test with deletions).
    public func linkPendingRemovals(recorder: JobRecorder, stop: StopSignal) async throws {
        var ids: [Int64] = []
        for kind in [RecordKind.deletion, .merge] {
            var cursor: RowCursor?
            while true {
                let page = try await store.rows(RowQuery(filter: RowFilter(statuses: [.staged], system: .salesforce, kind: kind), after: cursor, limit: 500))
                guard let last = page.last else { break }
                cursor = last.cursor(for: RowSort())
                ids += page.map(\.id)
            }
        }
        guard !ids.isEmpty else { return }
        try await link(ClaimRequest(system: .salesforce, statuses: [.staged], rowIDs: ids.sorted()), recorder: recorder, stop: stop)
    }

    /// Links the rows a claim request selects, up to the ``ConcurrencyWindow``'s limit of rows at
    /// once, each recorded as it finishes.
    ///
    /// Rows of one record never race, and a child never goes before its parent: a row waits while
    /// a row sharing one of its keys is in flight (its own id; an admission's Contact, whose
    /// Patient it creates; a Contact's Patient), and rows start in row order, so those of one
    /// record are written in order. A deletion or merge runs alone.
    public func link(_ request: ClaimRequest, recorder: JobRecorder, stop: StopSignal) async throws {
        let actor = await recorder.actor
        var request = request
        let window = ConcurrencyWindow(maximum: concurrency, meter: emr?.meter)
        // How the EMR takes writes is read once (the client keeps it) before rows go out together,
        // not by each of the first rows at once; so is whether admissions go in batch Bundles.
        let batchLimit = try await admissionBatchLimit(for: request)
        // Contacts go in units of their own too: most of them write nothing to the EMR (an echo,
        // a change of fields the EMR owns), and a unit records its rows in one transaction.
        let contactLimit = mapping.outbound.contacts == nil ? 1 : Self.contactUnitLimit
        while true {
            if stop.isRequested { throw SyncStopped() }
            // Enough rows for every batch in flight to be full.
            let rows = try await store.claimRows(request, limit: max(200, min(max(batchLimit, contactLimit) * concurrency, 1_000)), actor: actor)
            guard let lastRow = rows.last else { return }
            request.afterRowID = lastRow.id
            var processed = Set<Int64>()
            do {
                try await withThrowingTaskGroup(of: (rows: [Int64], ticket: ConcurrencyWindow.Ticket, throttled: Bool).self) { group in
                    // The units being written (a row, or the rows of one batch) and their keys; nil for a row that runs alone.
                    var inFlight: [Int64: Set<String>?] = [:]
                    func collect() async throws {
                        guard let done = try await group.next() else { return }
                        inFlight[done.rows[0]] = nil
                        processed.formUnion(done.rows)
                        if let limit = window.end(done.ticket, throttled: done.throttled) {
                            let unit = batchLimit > 1 ? (limit == 1 ? "batch" : "batches") : (limit == 1 ? "row" : "rows")
                            await recorder.event(.info, "EMR: \(limit) \(unit) written at once at most now (of \(window.maximum))")
                        }
                    }
                    let limit = { (row: StagedRow) in isAdmission(row) ? batchLimit : isContact(row) ? contactLimit : 1 }
                    for unit in Self.units(rows, keys: orderingKeys, limit: limit) {
                        if stop.isRequested { throw SyncStopped() }
                        let keys = unit.keys
                        while !inFlight.isEmpty
                            && (inFlight.count >= window.limit || keys == nil
                                || inFlight.values.contains { other in other.map { !$0.isDisjoint(with: keys!) } ?? true })
                        {
                            try await collect()
                        }
                        inFlight[unit.rows[0].id] = .some(keys)
                        let ticket = window.begin()
                        group.addTask {
                            if unit.batch, isAdmission(unit.rows[0]) {
                                let throttled = try await processBatch(unit.rows, recorder: recorder)
                                return (unit.rows.map(\.id), ticket, throttled)
                            }
                            if unit.batch {
                                let outcomes = try await processInTurn(unit.rows, recorder: recorder)
                                return (unit.rows.map(\.id), ticket, outcomes.contains { $0.error.map { LinkError.throttleCodes.contains($0.code) } ?? false })
                            }
                            let outcome = try await process(unit.rows[0], forced: false, recorder: recorder)
                            return ([unit.rows[0].id], ticket, outcome.error.map { LinkError.throttleCodes.contains($0.code) } ?? false)
                        }
                    }
                    while !inFlight.isEmpty { try await collect() }
                }
            } catch {
                try await store.releaseClaims(rowIDs: rows.map(\.id).filter { !processed.contains($0) }, actor: actor)
                throw error
            }
        }
    }

    /// Rows cut into what goes out together: consecutive rows of one type whose keys do not meet
    /// (two rows of one record never share a unit, and the later waits for the earlier), up to
    /// `limit` of their type a unit; a row whose type's limit is 1, or without keys (a deletion or
    /// a merge), alone. `batch` says whether a unit goes together (even of one row) or alone.
    static func units(
        _ rows: [StagedRow], keys: (StagedRow) -> Set<String>?, limit: (StagedRow) -> Int
    ) -> [(rows: [StagedRow], keys: Set<String>?, batch: Bool)] {
        var units: [(rows: [StagedRow], keys: Set<String>?, batch: Bool)] = []
        var current: (rows: [StagedRow], keys: Set<String>) = ([], [])
        for row in rows {
            let rowKeys = keys(row)
            let rowLimit = limit(row)
            let together = rowLimit > 1 && rowKeys != nil
            if together, let rowKeys, let first = current.rows.first, first.resourceType == row.resourceType, current.rows.count < rowLimit,
                current.keys.isDisjoint(with: rowKeys)
            {
                current.rows.append(row)
                current.keys.formUnion(rowKeys)
                continue
            }
            if !current.rows.isEmpty { units.append((current.rows, current.keys, true)) }
            current = ([], [])
            if together, let rowKeys {
                current = ([row], rowKeys)
            } else {
                units.append(([row], rowKeys, false))
            }
        }
        if !current.rows.isEmpty { units.append((current.rows, current.keys, true)) }
        return units
    }

    /// ``units(_:keys:limit:)`` with one limit for the rows `batchable` admits (1 for the others).
    static func units(
        _ rows: [StagedRow], batchLimit: Int, keys: (StagedRow) -> Set<String>?, batchable: (StagedRow) -> Bool = { _ in true }
    ) -> [(rows: [StagedRow], keys: Set<String>?, batch: Bool)] {
        units(rows, keys: keys) { batchable($0) ? batchLimit : 1 }
    }

    /// The most Contact rows linked in one unit: one after another, recorded together.
    static let contactUnitLimit = 50

    /// Whether a row is a Contact record (not a deletion or a merge).
    func isContact(_ row: StagedRow) -> Bool {
        row.kind == .record && row.resourceType == mapping.outbound.contacts?.object
    }

    /// What a row writes, as keys two rows share when they must not be written at the same time:
    /// its own id, an admission's Contact (the Patient it creates is keyed on it), a Contact's
    /// Patient. Nil for a deletion or a merge, which runs alone.
    func orderingKeys(of row: StagedRow) -> Set<String>? {
        guard row.kind == .record else { return nil }
        var keys: Set<String> = ["\(row.resourceType)/\(row.sourceID)"]
        let record = try? JSONValue(parsing: row.payload)
        if let admissions = mapping.outbound.admissions, row.resourceType == admissions.object,
            let contactID = record?[admissions.contactField]?.stringValue, !contactID.isEmpty
        {
            keys.insert("Contact/\(contactID)")
        }
        if let contacts = mapping.outbound.contacts, row.resourceType == contacts.object, let patients = mapping.inbound(named: contacts.mapping) {
            keys.insert("Contact/\(row.sourceID)")
            if let patientID = record?[patients.externalID]?.stringValue, !patientID.isEmpty { keys.insert("Patient/\(patientID)") }
        }
        return keys
    }

    /// Links again the admissions that wait on a Contact which has linked since (its change to its
    /// Patient retried), in the same job as the Contact where possible.
    public func linkWaitingChildren(recorder: JobRecorder, stop: StopSignal) async throws {
        guard let admissions = mapping.outbound.admissions else { return }
        try await ParentWait.relinkChildren(system: .salesforce, store: store, recorder: recorder, rounds: 5) { ids in
            try await link(
                ClaimRequest(system: .salesforce, resourceType: admissions.object, statuses: [.failed], rowIDs: ids, errorCodes: [ErrorCode.waitingOnParent.rawValue]),
                recorder: recorder, stop: stop)
        }
    }

    /// Sends one staged Salesforce row to the EMR now, whatever its stage (a manual push).
    @discardableResult
    public func push(rowID: Int64, recorder: JobRecorder) async throws -> LinkOutcome {
        let actor = await recorder.actor
        let rows = try await store.claimRows(ClaimRequest(statuses: Set(RowStatus.allCases), rowIDs: [rowID]), limit: 1, actor: actor)
        guard let row = rows.first else { throw OperationError.noSuchRecord("staged row \(rowID) (or it is being linked right now)") }
        return try await process(row, forced: true, recorder: recorder)
    }

    @discardableResult
    private func process(_ row: StagedRow, forced: Bool, recorder: JobRecorder) async throws -> LinkOutcome {
        let outcome = try await outcome(of: row, forced: forced, actor: await recorder.actor, jobID: await recorder.id)
        try await report([outcome], of: [row], recorder: recorder)
        return outcome
    }

    /// Links rows that share no key one after another and records their outcomes together, in one
    /// transaction (what most Contact rows need: they send nothing). When the job stops midway,
    /// what was linked before is recorded all the same.
    func processInTurn(_ rows: [StagedRow], recorder: JobRecorder) async throws -> [LinkOutcome] {
        let actor = await recorder.actor
        let jobID = await recorder.id
        var outcomes: [LinkOutcome] = []
        do {
            let reads = try await contactReads(rows)
            for row in rows { outcomes.append(try await outcome(of: row, forced: false, actor: actor, jobID: jobID, reads: reads)) }
        } catch {
            try await report(outcomes, of: rows, recorder: recorder)
            throw error
        }
        try await report(outcomes, of: rows, recorder: recorder)
        return outcomes
    }

    /// What linking one row comes to, written to the other system but not recorded yet: a refusal
    /// or a bad record is the row's failure; only an error that stops the job is thrown.
    private func outcome(of row: StagedRow, forced: Bool, actor: Actor, jobID: Int64, reads: ContactReads? = nil) async throws -> LinkOutcome {
        do {
            let record = try reads?.records[row.id] ?? Self.payload(of: row)
            if row.kind != .record {
                return try await processRemoval(row, record: record, actor: actor, jobID: jobID)
            } else if let admissions = mapping.outbound.admissions, row.resourceType == admissions.object {
                return try await processAdmission(row, record: record, admissions: admissions, forced: forced, actor: actor, jobID: jobID)
            } else if let contacts = mapping.outbound.contacts, row.resourceType == contacts.object {
                return try await processContact(row, record: record, contacts: contacts, forced: forced, actor: actor, jobID: jobID, reads: reads)
            } else {
                throw LinkError(.mappingNoMapping, message: "no outbound mapping for \(row.resourceType) in \(mapping.file)")
            }
        } catch {
            return LinkOutcome(rowID: row.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: try Self.rowError(error))
        }
    }

    /// Records outcomes in one transaction and counts them in the job; each failure is an event.
    func report(_ outcomes: [LinkOutcome], of rows: [StagedRow], recorder: JobRecorder) async throws {
        guard !outcomes.isEmpty else { return }
        try await store.record(outcomes)
        await recorder.add(Job.Counts(outcomes: outcomes))
        await recorder.advance(by: outcomes.count)
        for outcome in outcomes where outcome.status == .failed {
            if let error = outcome.error, let row = rows.first(where: { $0.id == outcome.rowID }) {
                await recorder.event(.warning, "\(row.resourceType) row \(row.id) failed: \(error.code)")
            }
        }
    }

    /// The row's payload as JSON; a payload that is not JSON fails the row.
    static func payload(of row: StagedRow) throws(LinkError) -> JSONValue {
        do {
            return try JSONValue(parsing: row.payload)
        } catch {
            throw LinkError(.mappingInvalidJSON, message: "the payload is not valid JSON: \(error)")
        }
    }

    // MARK: - Contacts

    /// What linking a unit of Contact rows reads from the store, read for all of them at once: the
    /// links of each Contact and of its Patient, the Patients' field states, the policy. The rows
    /// of a unit share no record (``orderingKeys(of:)``) and their outcomes are recorded together
    /// after the last, so each row reads here what it would have read by itself.
    struct ContactReads: Sendable {
        /// The payloads of the rows whose records were read (a Contact naming a valid EMR Patient),
        /// by row id: parsed once for the reads and the linking.
        var records: [Int64: JSONValue]
        var links: [SourceKey: RecordLink]
        var states: [MappedRecordKey: [String: FieldState]]
        var policy: PolicyTable
    }

    /// ``ContactReads`` for the Contact rows among `rows`, nil when there are none.
    func contactReads(_ rows: [StagedRow]) async throws -> ContactReads? {
        guard let contacts = mapping.outbound.contacts, let patients = mapping.inbound(named: contacts.mapping) else { return nil }
        var covered: [Int64: JSONValue] = [:]
        var keys: [SourceKey] = []
        var patientRecords: [MappedRecordKey] = []
        for row in rows where isContact(row) {
            guard let record = try? Self.payload(of: row), let patientID = try? Self.patientID(of: record, patients: patients) else { continue }
            covered[row.id] = record
            keys += [row.recordKey, SourceKey(system: .emr, resourceType: patients.resource, sourceID: patientID)]
            patientRecords.append(MappedRecordKey(object: patients.object, key: patientID))
        }
        guard !covered.isEmpty else { return nil }
        return ContactReads(
            records: covered, links: try await store.links(for: keys), states: try await store.fieldStates(for: patientRecords),
            policy: PolicyTable(try await store.policyRules()))
    }

    /// The EMR Patient a Contact names, nil when it names none yet; an id that is no FHIR id
    /// throws: it names the Patient in every URL (a path, `1011/../1015`, is no id).
    private static func patientID(of record: JSONValue, patients: InboundMapping) throws(LinkError) -> String? {
        guard case .text(let patientID) = FieldConversion.salesforceValue(record[patients.externalID], for: patients.externalIDField!), !patientID.isEmpty else {
            return nil
        }
        return try FHIRID.validated(patientID, field: patients.externalID, of: "the EMR \(patients.resource) id").description
    }

    private func processContact(
        _ row: StagedRow, record: JSONValue, contacts: ContactOutbound, forced: Bool, actor: Actor, jobID: Int64, reads: ContactReads?
    ) async throws -> LinkOutcome {
        guard let patients = mapping.inbound(named: contacts.mapping) else {
            throw LinkError(.mappingNoMapping, message: "no inbound mapping named \(contacts.mapping)")
        }
        let now = Date()
        guard let patientID = try Self.patientID(of: record, patients: patients) else {
            return LinkOutcome(rowID: row.id, actor: actor, at: now, status: .linked, attempt: .unchanged, note: "not linked to an EMR patient yet: nothing to send")
        }
        let reads = reads.flatMap { $0.records[row.id] != nil ? $0 : nil }
        let patientKey = SourceKey(system: .emr, resourceType: patients.resource, sourceID: patientID)
        let links = if let reads { reads.links } else { try await store.links(for: [row.recordKey, patientKey]) }
        // Nothing is written through a retired link: not from a Contact deleted or merged away in
        // Salesforce, not into a Patient deleted or merged away in the EMR.
        if let link = links[row.recordKey], link.retirement != nil {
            return InboundLinker.retired(row, link: link, actor: actor, at: now)
        }
        if let link = links[patientKey], let retirement = link.retirement {
            return LinkOutcome(
                rowID: row.id, actor: actor, at: now, status: .superseded, attempt: .superseded,
                note: "\(patients.resource)/\(patientID) was \(retirement.describe(resourceType: patients.resource)) in the EMR: nothing from "
                    + "\(row.resourceType) \(row.sourceID) is written into it again")
        }
        if let link = links[row.recordKey], row.recordVersion < link.linkedVersion {
            return InboundLinker.superseded(row, by: link.linkedRowID, actor: actor, at: now)
        }
        let key = MappedRecordKey(object: patients.object, key: patientID)
        let states = if let reads { reads.states[key] } else { try await store.fieldStates(for: [key])[key] }
        let policy = if let reads { reads.policy } else { PolicyTable(try await store.policyRules()) }
        let values = patients.fields.map { MappedField(name: $0.field, value: FieldConversion.salesforceValue(record[$0.field], for: $0)) }
        // Only fields whose rule lets Salesforce write into the EMR are sent; the others are observed.
        let writable = Set(
            patients.fields.filter {
                policy.rule(object: patients.object, field: $0.field).salesforceMayWriteEMR && $0.path != nil && !$0.type.isComputed
                    && $0.field != patients.externalID
            }.map(\.field))
        let plan = RecordPlan.make(
            row: row, record: MappedRecord(record: key, fields: values), externalID: patients.externalID, states: states, policy: policy, from: .salesforce,
            writable: writable, actor: actor, jobID: jobID, at: now)
        let link = RecordLink(
            source: row.recordKey, targetType: patients.resource, targetID: patientID, recordKey: patientID, linkedRowID: row.id,
            linkedVersion: row.recordVersion, updatedAt: now)
        guard !plan.writtenFields.isEmpty else {
            var outcome = plan.outcome(link: link)
            let ownUser = await integrationUserID()
            let isOwnWrite = ownUser != nil && record["LastModifiedById"]?.stringValue == ownUser
            if isOwnWrite && outcome.status == .linked { outcome.note = "echo of Stagelink's own write: nothing to send" }
            return outcome
        }
        // Every value passes the inbound checks before anything is sent (control characters,
        // lengths, types): a value the EMR would hand back as unreadable never goes out.
        // Every field's problem is found in one pass; the first is the row's code.
        var problems = OutgoingProblems()
        var outgoing: [(path: FieldPath, json: JSONValue?)] = []
        for field in plan.writtenFields {
            guard let mappingField = patients.fields.first(where: { $0.field == field.name }), let path = mappingField.path else { continue }
            guard let json = problems.value({ () throws(LinkError) in try FieldConversion.json(from: field.value, for: mappingField) }) else { continue }
            outgoing.append((path, json))
        }
        try problems.throwIfAny()
        guard let emr else { throw LinkError(.emrNotConfigured, message: "changes for the EMR wait: no EMR connection is configured") }
        guard let current = try await emr.read(resourceType: patients.resource, id: patientID) else {
            throw LinkError(.emrNotFound, message: "\(patients.resource)/\(patientID) is not in the EMR", fields: [patients.externalID])
        }
        var resource: JSONValue
        do {
            resource = try JSONValue(parsing: current.payload)
        } catch {
            throw LinkError(.malformedResponse, message: "the EMR's \(patients.resource) is not valid JSON: \(error)")
        }
        if let survivor = Self.replacedBy(resource) {
            // Merged away in the EMR since the row was pulled: never written, even before the
            // merge's own row is linked.
            return LinkOutcome(
                rowID: row.id, actor: actor, at: now, status: .superseded, attempt: .superseded,
                note: "\(patients.resource)/\(patientID) was merged into \(survivor) in the EMR (its link replaced-by): nothing from "
                    + "\(row.resourceType) \(row.sourceID) is written into it")
        }
        let original = resource
        for value in outgoing { value.path.set(value.json, in: &resource) }
        try await Self.update(patients.resource, id: patientID, from: original, to: resource, version: current.version, emr: emr)
        return plan.outcome(link: link, supersedes: [SourceKey(system: .emr, resourceType: patients.resource, sourceID: patientID)])
    }

    /// Writes `changed` over the EMR's current resource (`original`, read at `version`) as the EMR
    /// takes updates (`emr.writes.update` or its CapabilityStatement): a PUT with `If-Match`, or a
    /// JSON Patch of only what differs, with the version it was read at. Nothing is sent when
    /// nothing differs; the EMR's refusal is thrown.
    static func update(
        _ resourceType: String, id: String, from original: JSONValue, to changed: JSONValue, version: String?, emr: any ResourceWriter
    ) async throws {
        let result: Result<WrittenResource, LinkError>
        switch try await emr.writeModes(for: resourceType).update {
        case .put:
            result = try await emr.update(resourceType: resourceType, id: id, resource: JSONWriter.compact(changed), ifMatch: version)
        case .patch:
            let operations = JSONPatchOperation.changes(from: original, to: changed)
            if operations.isEmpty { return }
            guard let version else {
                throw LinkError(
                    .malformedResponse, message: "the EMR's \(resourceType)/\(id) came without a version: a JSON Patch is only sent with If-Match")
            }
            result = try await emr.patch(resourceType: resourceType, id: id, operations: operations, ifMatch: version)
        }
        if case .failure(let error) = result { throw error }
    }

    /// The record a Patient was merged into, from its `link` of type `replaced-by` (FHIR R4
    /// Patient.link, link-type `replaced-by`: "The patient resource containing this link must no
    /// longer be used"); nil for a Patient in use.
    static func replacedBy(_ resource: JSONValue) -> String? {
        guard let link = resource["link"]?.arrayValue?.first(where: { $0["type"]?.stringValue == "replaced-by" }) else { return nil }
        return link["other"]?["reference"]?.stringValue ?? "another Patient"
    }

    // MARK: - Admissions

    private func processAdmission(
        _ row: StagedRow, record: JSONValue, admissions: AdmissionOutbound, forced: Bool, actor: Actor, jobID: Int64
    ) async throws -> LinkOutcome {
        let plan: AdmissionPlan
        switch try await prepareAdmission(row, record: record, admissions: admissions, forced: forced, actor: actor) {
        case .done(let outcome): return outcome
        case .send(let ready): plan = ready
        }
        return try await sendAdmission(plan, actor: actor, jobID: jobID)
    }

    /// Sends one admission on its own: its Patient (the Contact's own when it stands for one, else
    /// created once), never a Patient merged away (``admissionPatient(_:contactID:patients:row:emr:)``),
    /// then its ServiceRequest, then the EMR's ids written back.
    func sendAdmission(_ plan: AdmissionPlan, actor: Actor, jobID: Int64) async throws -> LinkOutcome {
        let row = plan.row
        guard let emr else { throw LinkError(.emrNotConfigured, message: "the admission waits: no EMR connection is configured") }
        guard let salesforce else { throw LinkError(.salesforceNotConfigured, message: "the EMR ids cannot be written back: no Salesforce connection") }
        var createdPatient: WrittenResource
        if !plan.standing.isEmpty {
            // A Patient in the EMR carrying the Contact's identifier too makes two for one person: a person settles it.
            // (One merged away or deleted since is no second Patient: the Contact was handed to the survivor.)
            let matches = try await emr.search(resourceType: plan.patients.resource, identifier: plan.identifier)
            let others = try await inUse(matches.filter { $0 != plan.standing }, patients: plan.patients, emr: emr)
            if !others.isEmpty {
                throw LinkError.multipleMatches(plan.patients.resource, plan.identifier, ids: [plan.standing] + others)
            }
            createdPatient = WrittenResource(id: plan.standing, versionID: nil, lastUpdated: nil, created: false)
        } else {
            createdPatient = try await createOnce(plan.patients.resource, identifier: plan.identifier, resource: plan.patient, row: row, emr: emr)
        }
        // The EMR's answer names the Patient in the ServiceRequest and in Salesforce: it must be an id.
        try plan.checkPatientID(createdPatient.id)
        // A Patient found merged away is never written to: its survivor takes the admission, or nothing does.
        let foundID = createdPatient.id
        createdPatient.id = try await admissionPatient(createdPatient, contactID: plan.contactID, patients: plan.patients, row: row, emr: emr)
        CrashPoints.reach(.emrCreated)

        // The ServiceRequest for the admission itself.
        let createdRequest = try await createOnce(
            "ServiceRequest", identifier: plan.requestIdentifier, resource: plan.serviceRequest(patientID: createdPatient.id), row: row, emr: emr)
        try plan.checkRequestID(createdRequest.id)

        // The EMR's ids, written back so that every later round trip finds its counterpart (the
        // Contact's only when it does not carry it already).
        if plan.standing != createdPatient.id {
            let contactResult = try await salesforce.update(object: plan.patients.object, records: [plan.contactWriteBack(patientID: createdPatient.id)])
            if case .failure(let error)? = contactResult.first { throw error }
        }
        let admissionResult = try await salesforce.update(object: plan.admissions.object, records: [plan.admissionWriteBack(requestID: createdRequest.id)])
        if case .failure(let error)? = admissionResult.first { throw error }
        CrashPoints.reach(.writebackSent)
        return try await admissionOutcome(plan, patient: createdPatient, foundID: foundID, request: createdRequest, actor: actor, jobID: jobID)
    }

    /// What is left of an admission row once it is read and checked: an outcome already (nothing to
    /// send, or sent before), or the plan of what to send.
    enum AdmissionStep {
        case done(LinkOutcome)
        case send(AdmissionPlan)
    }

    /// Reads and checks an admission row, building its Patient; writes nothing. Every problem of the
    /// record is found in one pass and thrown together.
    func prepareAdmission(
        _ row: StagedRow, record: JSONValue, admissions: AdmissionOutbound, forced: Bool, actor: Actor
    ) async throws -> AdmissionStep {
        let now = Date()
        let stage = record[admissions.stageField]?.stringValue
        if !forced && stage != admissions.readyValue {
            return .done(LinkOutcome(rowID: row.id, actor: actor, at: now, status: .linked, attempt: .unchanged, note: "stage is not \(admissions.readyValue): nothing to send"))
        }
        if !forced, let existing = record[admissions.serviceRequest.externalIDField]?.stringValue, !existing.isEmpty {
            return .done(LinkOutcome(rowID: row.id, actor: actor, at: now, status: .linked, attempt: .unchanged, note: "already in the EMR as ServiceRequest/\(existing)"))
        }
        guard let patients = mapping.inbound(named: admissions.patientMapping) else {
            throw LinkError(.mappingNoMapping, message: "no inbound mapping named \(admissions.patientMapping)")
        }
        // Every problem of the record is found in one pass, as inbound mapping finds them: the
        // first is the row's code, the others are kept with it (support staff fix them at once).
        var problems = OutgoingProblems()
        let contactID = record[admissions.contactField]?.stringValue ?? ""
        if contactID.isEmpty {
            problems.add(LinkError(.mappingMissingField, message: "\(admissions.contactField) is required to create the Patient", fields: [admissions.contactField]))
        } else {
            // Both Salesforce ids become identifiers in the EMR and keys of the write-back.
            problems.check { () throws(LinkError) in _ = try SalesforceID.validated(contactID, field: admissions.contactField, of: "the admission's Contact") }
        }
        problems.check { () throws(LinkError) in _ = try SalesforceID.validated(row.sourceID, field: "Id", of: "the \(admissions.object) id") }

        let contact = record[Self.relationshipName(admissions.contactField)] ?? .null
        // The Patient, from the Contact's values through the patient mapping read in reverse.
        var patient: JSONValue = ["resourceType": .string(patients.resource)]
        let identifier = ResourceIdentifier(system: admissions.patientIdentifierSystem, value: contactID)
        patient.setIdentifier(identifier)
        var sentValues: [MappedField] = []
        for field in patients.fields where field.field != patients.externalID && !field.type.isComputed {
            guard let path = field.path else { continue }
            let value = FieldConversion.salesforceValue(contact[field.field], for: field)
            guard let json = problems.value({ () throws(LinkError) in try FieldConversion.json(from: value, for: field) }) else { continue }
            path.set(json, in: &patient)
            sentValues.append(MappedField(name: field.field, value: value))
        }
        // The ServiceRequest's values are checked before anything is created.
        let request = admissions.serviceRequest
        var requestValues: [AdmissionPlan.RequestValue] = []
        for field in request.fields {
            guard let path = field.path else { continue }
            let value = FieldConversion.salesforceValue(record[field.field], for: field)
            guard let json = problems.value({ () throws(LinkError) in try FieldConversion.json(from: value, for: field) }) else { continue }
            requestValues.append(AdmissionPlan.RequestValue(path: path, json: json))
        }
        try problems.throwIfAny()
        guard emr != nil else { throw LinkError(.emrNotConfigured, message: "the admission waits: no EMR connection is configured") }
        guard salesforce != nil else { throw LinkError(.salesforceNotConfigured, message: "the EMR ids cannot be written back: no Salesforce connection") }
        // A Contact whose own row failed here (its change to its Patient was refused): nothing is
        // made for it until that row links. A Contact row still staged links before its
        // admissions in the same job (Contacts go first), so it is not waited on.
        if let parent = try await ParentWait.unlinkedParent(of: row.id, store: store), parent.row?.status == .failed {
            throw LinkError.waitingOnParent(parent, before: "its \(patients.resource) is made")
        }
        // A Contact that already stands for a Patient (pulled from the EMR, or made by an earlier
        // admission) is never given a second one: the admission joins its Patient. Salesforce
        // reparents the admissions of a Contact merged away to the master, which may be such a Contact.
        let standing = contact[patients.externalID]?.stringValue ?? ""
        if !standing.isEmpty {
            _ = try FHIRID.validated(
                standing, field: "\(Self.relationshipName(admissions.contactField)).\(patients.externalID)", of: "the \(patients.resource) the Contact stands for")
        }
        return .send(
            AdmissionPlan(
                row: row, admissions: admissions, patients: patients, contactID: contactID, identifier: identifier, patient: patient,
                sentValues: sentValues, requestIdentifier: ResourceIdentifier(system: request.identifierSystem, value: row.sourceID),
                requestValues: requestValues, standing: standing))
    }

    /// The outcome of an admission whose Patient and ServiceRequest the EMR holds and whose ids are
    /// written back: the links, the field states and the lineage of what was sent.
    /// `foundID` is the Patient the EMR answered for the Contact, which differs from
    /// `createdPatient` when that one was merged away into it.
    func admissionOutcome(
        _ plan: AdmissionPlan, patient createdPatient: WrittenResource, foundID: String, request createdRequest: WrittenResource, actor: Actor, jobID: Int64
    ) async throws -> LinkOutcome {
        let now = Date()
        let row = plan.row
        let patients = plan.patients
        let key = MappedRecordKey(object: patients.object, key: createdPatient.id)
        let policy = PolicyTable(try await store.policyRules())
        var states: [FieldStateChange] = []
        var writes: [FieldWrite] = []
        for field in plan.sentValues + [MappedField(name: patients.externalID, value: .text(createdPatient.id))] {
            states.append(FieldStateChange(record: key, field: field.name, state: FieldState(synced: field.value, emr: field.value, salesforce: field.value)))
            writes.append(
                FieldWrite(
                    record: key, field: field.name, value: field.value, writtenTo: .emr, rowID: row.id, jobID: jobID,
                    rule: policy.rule(object: patients.object, field: field.name), actor: actor, at: now,
                    reason: createdPatient.created
                        ? "patient created from the admission"
                        : foundID == createdPatient.id
                            ? "patient already existed (found by its identifier)" : "patient found merged into \(createdPatient.id) (its survivor)"))
        }
        let what =
            createdPatient.created
            ? "created"
            : foundID != createdPatient.id
                ? "found merged away: Patient/\(foundID) was merged into it in the EMR"
                : plan.standing == foundID ? "is the Contact's own (\(patients.externalID))" : "found (already created)"
        return LinkOutcome(
            rowID: row.id, actor: actor, at: now, status: .linked, attempt: .linked,
            note: "Patient/\(createdPatient.id) \(what), ServiceRequest/\(createdRequest.id)",
            links: [
                RecordLink(
                    source: SourceKey(system: .salesforce, resourceType: patients.object, sourceID: plan.contactID), targetType: patients.resource,
                    targetID: createdPatient.id, recordKey: createdPatient.id, linkedRowID: nil, linkedVersion: RecordVersion(version: nil, lastUpdated: nil),
                    updatedAt: now),
                RecordLink(
                    source: row.recordKey, targetType: "ServiceRequest", targetID: createdRequest.id, recordKey: row.sourceID, linkedRowID: row.id,
                    linkedVersion: row.recordVersion, updatedAt: now),
            ],
            fieldStates: states, writes: writes)
    }
}

/// An admission checked and ready to send: its Patient (keyed on the Contact's Salesforce id), the
/// values of its ServiceRequest, and what the write-back names.
struct AdmissionPlan: Sendable {
    /// A ServiceRequest value at its path.
    struct RequestValue: Sendable {
        var path: FieldPath
        var json: JSONValue?
    }

    var row: StagedRow
    var admissions: AdmissionOutbound
    var patients: InboundMapping
    var contactID: String
    var identifier: ResourceIdentifier
    var patient: JSONValue
    var sentValues: [MappedField]
    var requestIdentifier: ResourceIdentifier
    var requestValues: [RequestValue]
    /// The Patient the Contact already stands for (its `externalID` field), or empty: an admission
    /// of such a Contact joins that Patient and is never given a second one.
    var standing: String

    /// The ServiceRequest for the admission, naming its Patient.
    func serviceRequest(patientID: String) -> JSONValue {
        let request = admissions.serviceRequest
        var serviceRequest: JSONValue = [
            "resourceType": "ServiceRequest", "status": "active", "intent": "order", "code": ["text": .string(request.code)],
            "subject": ["reference": .string("\(patients.resource)/\(patientID)")],
        ]
        serviceRequest.setIdentifier(requestIdentifier)
        for value in requestValues { value.path.set(value.json, in: &serviceRequest) }
        return serviceRequest
    }

    /// The id the EMR returned for the Patient names it in the ServiceRequest and in Salesforce: it must be an id.
    func checkPatientID(_ id: String) throws(LinkError) {
        _ = try FHIRID.validated(id, field: patients.externalID, of: "the id the EMR returned for the \(patients.resource)")
    }

    func checkRequestID(_ id: String) throws(LinkError) {
        _ = try FHIRID.validated(id, field: admissions.serviceRequest.externalIDField, of: "the id the EMR returned for the ServiceRequest")
    }

    /// The Patient's id onto the Contact.
    func contactWriteBack(patientID: String) -> TargetRecordUpdate {
        TargetRecordUpdate(id: contactID, fields: [MappedField(name: patients.externalID, value: .text(patientID))])
    }

    /// The ServiceRequest's id onto the admission.
    func admissionWriteBack(requestID: String) -> TargetRecordUpdate {
        TargetRecordUpdate(id: row.sourceID, fields: [MappedField(name: admissions.serviceRequest.externalIDField, value: .text(requestID))])
    }
}

extension OutboundLinker {
    /// Creates `resource` in the EMR unless one with `identifier` is there already, the way the
    /// EMR takes creates (`emr.writes.create`):
    ///
    /// - `conditional`: `POST` with `If-None-Exist`; the EMR finds what an earlier attempt made.
    /// - `search-then-create`: a search by the identifier first, always (a resource entered by
    ///   hand, or made by an attempt whose answer was lost, is found, never duplicated); when none
    ///   matches, a create intent is recorded in the store, then the plain `POST` is sent, and the
    ///   intent is removed once the EMR answered. An intent still standing on the next attempt
    ///   says a `POST` may have landed unseen: the search settles it.
    ///
    /// Two or more matches are a lasting `MULTIPLE_MATCHES` naming the ids.
    func createOnce(
        _ resourceType: String, identifier: ResourceIdentifier, resource: JSONValue, row: StagedRow, emr: any ResourceWriter
    ) async throws -> WrittenResource {
        let bytes = JSONWriter.compact(resource)
        let result: Result<WrittenResource, LinkError>
        switch try await emr.writeModes(for: resourceType).create {
        case .conditional:
            result = try await emr.createIfNoneExist(resourceType: resourceType, identifier: identifier, resource: bytes)
        case .searchThenCreate:
            let interrupted = try await store.createIntent(resourceType: resourceType, identifier: identifier)
            let ids = try await emr.search(resourceType: resourceType, identifier: identifier)
            if ids.count > 1 {
                try await store.clearCreateIntent(resourceType: resourceType, identifier: identifier)
                throw LinkError.multipleMatches(resourceType, identifier, ids: ids)
            }
            if let id = ids.first {
                if let interrupted {
                    try await store.clearCreateIntent(resourceType: resourceType, identifier: identifier)
                    logger.notice(
                        "found the \(resourceType) an interrupted create made",
                        metadata: ["row": "\(row.id)", "intentRow": "\(interrupted.rowID)", "resource": "\(resourceType)/\(id)"])
                }
                return WrittenResource(id: id, versionID: nil, lastUpdated: nil, created: false)
            }
            try await store.recordCreateIntent(CreateIntent(resourceType: resourceType, identifier: identifier, rowID: row.id, recordedAt: Date()))
            CrashPoints.reach(.emrCreateIntent)
            // A transport failure leaves the intent standing: whether the POST landed is unknown.
            result = try await emr.create(resourceType: resourceType, resource: bytes)
            try await store.clearCreateIntent(resourceType: resourceType, identifier: identifier)
        }
        switch result {
        case .success(let written): return written
        case .failure(let error): throw error
        }
    }
}

extension JSONValue {
    /// Adds `identifier: [{system, value}]` (replacing one of the same system).
    mutating func setIdentifier(_ identifier: ResourceIdentifier) {
        guard var object = objectValue else { return }
        var identifiers = object["identifier"]?.arrayValue ?? []
        identifiers.removeAll { $0["system"]?.stringValue == identifier.system }
        identifiers.append(["system": .string(identifier.system), "value": .string(identifier.value)])
        object["identifier"] = .array(identifiers)
        self = .object(object)
    }
}

/// The problems of one outgoing record, gathered field after field so that all of them are
/// reported at once (``LinkError/further``), as the inbound mapping reports them.
struct OutgoingProblems {
    private(set) var found: [LinkError] = []

    mutating func add(_ error: LinkError) {
        if !found.contains(error) { found.append(error) }
    }

    /// Runs a check, keeping its problem.
    mutating func check(_ body: () throws(LinkError) -> Void) {
        do { try body() } catch { add(error) }
    }

    /// A converted value, or nil (`.some(nil)` is a value that is absent) with its problem kept.
    mutating func value(_ body: () throws(LinkError) -> JSONValue?) -> JSONValue?? {
        do { return .some(try body()) } catch {
            add(error)
            return nil
        }
    }

    /// Fails the record with every problem found, the first being its code.
    func throwIfAny() throws(LinkError) {
        if let error = LinkError(combining: found) { throw error }
    }
}
