import Foundation

extension Operations {
    /// Settles a conflict by a person's choice: the chosen side's value is written into the other
    /// system, becomes the synced value, and the conflict is marked resolved with the operator and
    /// reason. A row held for this conflict is linked once none of its conflicts is open.
    ///
    /// For example: `try await operations.resolve(conflict: 12, take: .emr, reason: "EMR is current", by: "dana")`.
    @discardableResult
    public func resolve(conflict id: Int64, take winner: SourceSystem, reason: String, by operatorName: String) async throws -> Conflict {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw OperationError.reasonRequired }
        guard let conflict = try await store.conflict(id: id) else { throw OperationError.noSuchConflict(id) }
        guard conflict.status == .open else { throw OperationError.conflictNotOpen(id, conflict.status) }
        guard conflict.kind == .field else { throw OperationError.heldMerge(id) }
        let actor = Actor.operator(operatorName)
        let value = winner == .emr ? conflict.emrValue : conflict.salesforceValue
        let record = MappedRecordKey(object: conflict.object, key: conflict.recordKey)
        let row = try await conflict.rowID.asyncMap { try await store.row(id: $0) } ?? nil

        switch winner {
        case .emr:
            try await writeIntoSalesforce(value, field: conflict.field, record: record)
        case .salesforce:
            try await writeIntoEMR(value, field: conflict.field, record: record, row: row)
        }

        let now = Date()
        let rule = PolicyTable(try await store.policyRules()).rule(object: conflict.object, field: conflict.field)
        let write = FieldWrite(
            record: record, field: conflict.field, value: value, writtenTo: winner.other, rowID: conflict.rowID, jobID: nil, rule: rule, actor: actor,
            at: now, reason: "\(FieldDecision.Reason.resolution.rawValue): \(reason)")
        let state = FieldStateChange(record: record, field: conflict.field, state: FieldState(synced: value, emr: value, salesforce: value))
        let resolution = ConflictResolution(conflictID: id, winner: winner, actor: actor, reason: reason)
        if let row {
            let stillOpen = try await store.conflicts(ConflictQuery(statuses: [.open], rowID: row.id)).filter { $0.id != id }
            let status: RowStatus = row.status == .held && stillOpen.isEmpty ? .linked : row.status
            try await store.record([
                LinkOutcome(
                    rowID: row.id, actor: actor, at: now, status: status, attempt: status == .held ? .held : .linked,
                    note: "conflict \(id) on \(conflict.field) resolved: \(winner.rawValue) value taken", fieldStates: [state], writes: [write],
                    resolvedConflicts: [resolution])
            ])
        } else {
            try await store.updateFieldStates([state])
        }
        guard let resolved = try await store.conflict(id: id) else { throw OperationError.noSuchConflict(id) }
        try await recordAction("\(operatorName) resolved conflict \(id) (\(conflict.object) \(conflict.field)): the \(winner.rawValue) value taken")
        return resolved
    }

    /// Settles a held merge (a conflict of kind `merge`) by a person's decision, with a reason:
    /// `merged` once the two counterparts were merged in the other system too, `apart` when they
    /// stay two records. Nothing is written to either system: the loser's link stays retired
    /// either way (its counterpart receives nothing more), and the merge's row is linked once none
    /// of its conflicts is open. The conflict keeps who decided, when and why.
    ///
    /// For example: `try await operations.settle(merge: 14, .merged, reason: "merged in Salesforce", by: "dana")`.
    @discardableResult
    public func settle(merge id: Int64, _ decision: HeldMerge.Decision, reason: String, by operatorName: String) async throws -> Conflict {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw OperationError.reasonRequired }
        guard let conflict = try await store.conflict(id: id) else { throw OperationError.noSuchConflict(id) }
        guard let merge = conflict.merge, conflict.kind == .merge else { throw OperationError.notAHeldMerge(id) }
        guard conflict.status == .open else { throw OperationError.conflictNotOpen(id, conflict.status) }
        let actor = Actor.operator(operatorName)
        let now = Date()
        let resolution = ConflictResolution(
            conflictID: id, winner: decision == .merged ? merge.mergedIn : merge.mergedIn.other, actor: actor, reason: "\(decision.rawValue): \(reason)")
        if let rowID = conflict.rowID, let row = try await store.row(id: rowID) {
            let stillOpen = try await store.conflicts(ConflictQuery(statuses: [.open], rowID: row.id)).filter { $0.id != id }
            let status: RowStatus = row.status == .held && stillOpen.isEmpty ? .linked : row.status
            let settled = decision == .merged ? "merged in \(HeldMerge.place(merge.mergedIn.other)) too" : "kept apart"
            try await store.record([
                LinkOutcome(
                    rowID: row.id, actor: actor, at: now, status: status, attempt: status == .held ? .held : .linked,
                    note: "held merge \(id) settled: \(settled); \(merge.type) \(merge.loserID)'s counterpart still receives nothing",
                    resolvedConflicts: [resolution])
            ])
        } else {
            throw OperationError.noSuchRecord("the staged row of held merge \(id)")
        }
        guard let settled = try await store.conflict(id: id) else { throw OperationError.noSuchConflict(id) }
        try await recordAction("\(operatorName) settled held merge \(id) (\(conflict.object) \(conflict.recordKey)): \(decision.rawValue)")
        return settled
    }

    private func writeIntoSalesforce(_ value: FieldValue, field: String, record: MappedRecordKey) async throws {
        guard let target = inbound?.target else { throw OperationError.notConfigured("Salesforce") }
        guard let mapping = mapping.inbound.first(where: { $0.object == record.object && $0.fields.contains { $0.field == field } }) else {
            throw OperationError.unknownField("\(record.object).\(field)")
        }
        let fields = [MappedField(name: mapping.externalID, value: .text(record.key)), MappedField(name: field, value: value)]
        let results = try await target.upsert(object: record.object, externalIDField: mapping.externalID, records: [TargetRecord(fields: fields)])
        if case .failure(let error)? = results.first { throw error }
    }

    /// Into the EMR resource the conflict came from (the staged EMR row's resource), or the Patient
    /// of a Contact.
    private func writeIntoEMR(_ value: FieldValue, field: String, record: MappedRecordKey, row: StagedRow?) async throws {
        guard let writer = emrWriter else { throw OperationError.notConfigured("the EMR") }
        let (resourceType, resourceID): (String, String)
        if let row, row.system == .emr {
            (resourceType, resourceID) = (row.resourceType, row.sourceID)
        } else if let contacts = mapping.outbound.contacts, let patients = mapping.inbound(named: contacts.mapping), patients.object == record.object {
            (resourceType, resourceID) = (patients.resource, record.key)
        } else {
            throw OperationError.notConfigured("a way to write \(record.object).\(field) into the EMR")
        }
        guard let fieldMapping = mapping.inbound(forResource: resourceType)?.fields.first(where: { $0.field == field }), let path = fieldMapping.path,
            !fieldMapping.type.isComputed
        else {
            throw OperationError.notConfigured("a path for \(field) in \(resourceType)")
        }
        guard FHIRID.isValid(resourceID) else {
            throw OperationError.invalidIdentifier("the \(resourceType) id of \(record.object) \(field) is not a FHIR id")
        }
        guard let current = try await writer.read(resourceType: resourceType, id: resourceID) else {
            throw OperationError.noSuchRecord("\(resourceType)/\(resourceID) in the EMR")
        }
        var resource = try JSONValue(parsing: current.payload)
        path.set(try FieldConversion.json(from: value, for: fieldMapping), in: &resource)
        if case .failure(let error) = try await writer.update(
            resourceType: resourceType, id: resourceID, resource: JSONWriter.compact(resource), ifMatch: current.version)
        {
            throw error
        }
    }
}

extension Operations {
    /// Sends one Salesforce record to the EMR now, whatever its stage: it is fetched, staged
    /// verbatim as a push job's row, and linked by the same code the service uses. Admissions
    /// create their Patient (by conditional create) and ServiceRequest; linked Contacts send
    /// their Salesforce-writable fields.
    public func push(salesforceID: String, by operatorName: String) async throws -> PushReport {
        guard SalesforceID(salesforceID) != nil else {
            throw OperationError.invalidIdentifier("the id to push is not a Salesforce id (15 or 18 letters and digits)")
        }
        guard let lookup = salesforceLookup else { throw OperationError.notConfigured("Salesforce") }
        guard let outbound = outbound as? OutboundLinker else { throw OperationError.notConfigured("the EMR") }
        let recorder = try await JobRecorder.start(.push, direction: .outbound, actor: .operator(operatorName), trigger: .manual, store: store, meters: meters, logger: logger)
        do {
            var found: IncomingRecord?
            for object in outbound.objects.reversed() {
                found = try await lookup.record(type: object, id: salesforceID, fields: outbound.pullFields(for: object))
                if found != nil { break }
            }
            guard let record = found else { throw OperationError.noSuchRecord("Salesforce record \(salesforceID)") }
            let staged = try await store.stage([record], job: await recorder.id, advancing: nil)
            await recorder.add(Job.Counts(pulled: 1, staged: staged.staged, deduplicated: staged.deduplicated))
            let rowID: Int64
            if let id = staged.rowIDs.first {
                rowID = id
            } else {
                // The same version was staged before: push that row again.
                let key = SourceKey(system: .salesforce, resourceType: record.resourceType, sourceID: record.sourceID)
                guard let row = try await store.row(of: key, contentHash: record.contentHash) else {
                    throw OperationError.noSuchRecord("the staged row of \(salesforceID)")
                }
                rowID = row.id
            }
            let outcome = try await outbound.push(rowID: rowID, recorder: recorder)
            let job = try await recorder.finish()
            try await recordAction(
                "\(operatorName) pushed Salesforce \(salesforceID) (row \(rowID)): \(outcome.status.rawValue)" + (outcome.error.map { " \($0.code)" } ?? ""),
                job: job.id, level: outcome.status == .failed ? .warning : .info)
            return PushReport(job: job, rowID: rowID, outcome: outcome)
        } catch {
            _ = try? await recorder.finish(.failed, message: "\(error)")
            throw error
        }
    }
}

/// What a manual push did: its job, the staged row, and the row's outcome (whose note names the
/// EMR ids, and whose links hold them).
public struct PushReport: Sendable {
    public var job: Job
    public var rowID: Int64
    public var outcome: LinkOutcome

    /// The EMR resources the push created or found, `Patient/…` and `ServiceRequest/…`.
    public var emrReferences: [String] {
        outcome.links.filter { ["Patient", "ServiceRequest"].contains($0.targetType) }.map { "\($0.targetType)/\($0.targetID)" }
    }
}
