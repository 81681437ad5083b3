import Foundation

/// Deletions and merges of Salesforce records, read from a QueryAll pull (`IsDeleted`,
/// `MasterRecordId`). A Contact deleted in Salesforce makes its Patient inactive by default
/// (`outbound.contacts.onDelete`); a Contact merged into another is never joined to that one's
/// Patient in the EMR automatically. Either way the links between the Contact and its Patient are
/// retired, both ways: nothing is written to the Patient from that Contact again, and no update of
/// the Patient recreates the Contact (an upsert by external id no longer finds a deleted one).
extension OutboundLinker {
    /// `Patient.active`: "Whether this patient record is in active use" (FHIR R4 Patient).
    static let activePath = try! FieldPath("active")

    func processRemoval(_ row: StagedRow, record: JSONValue, actor: Actor, jobID: Int64?) async throws -> LinkOutcome {
        let now = Date()
        func linked(_ note: String, links: [RecordLink] = []) -> LinkOutcome {
            LinkOutcome(rowID: row.id, actor: actor, at: now, status: .linked, attempt: .linked, note: note, links: links)
        }
        let what = "\(row.resourceType) \(row.sourceID)"
        let removed = row.kind == .merge ? "merged away" : "deleted"
        guard let contacts = mapping.outbound.contacts, row.resourceType == contacts.object, let patients = mapping.inbound(named: contacts.mapping) else {
            return linked("\(what) was \(removed) in Salesforce; the EMR is left as it is")
        }
        guard case .text(let patientID) = FieldConversion.salesforceValue(record[patients.externalID], for: patients.externalIDField!), !patientID.isEmpty else {
            return linked("\(what) was \(removed) in Salesforce; it had no EMR \(patients.resource)")
        }
        _ = try FHIRID.validated(patientID, field: patients.externalID, of: "the EMR \(patients.resource) id")
        let patientKey = SourceKey(system: .emr, resourceType: patients.resource, sourceID: patientID)
        let links = try await store.links(for: [row.recordKey, patientKey])
        if let retirement = links[row.recordKey]?.retirement {
            return linked("\(what) was already \(retirement.describe(resourceType: row.resourceType)): \(patients.resource)/\(patientID) is left as it is")
        }
        // Both directions of the pair are retired.
        var contactLink = links[row.recordKey]
            ?? RecordLink(
                source: row.recordKey, targetType: patients.resource, targetID: patientID, recordKey: patientID, linkedRowID: row.id,
                linkedVersion: row.recordVersion, updatedAt: now)
        contactLink.linkedRowID = row.id
        contactLink.linkedVersion = row.recordVersion
        contactLink.updatedAt = now
        var retired = [contactLink]
        if var patientLink = links[patientKey], patientLink.targetID == row.sourceID {
            patientLink.retirement = .counterpartRemoved
            patientLink.updatedAt = now
            retired.append(patientLink)
        }
        switch row.kind {
        case .record:
            preconditionFailure("processRemoval takes deletions and merges only")
        case .deletion:
            retired[0].retirement = .deleted
            if contacts.onDelete.action == .ignore {
                return linked("\(what) was deleted in Salesforce; onDelete: ignore leaves \(patients.resource)/\(patientID) as it is", links: retired)
            }
            guard let emr else { throw LinkError(.emrNotConfigured, message: "the deletion waits: no EMR connection is configured") }
            guard let current = try await emr.read(resourceType: patients.resource, id: patientID) else {
                return linked("\(what) was deleted in Salesforce; \(patients.resource)/\(patientID) is no longer in the EMR", links: retired)
            }
            var resource: JSONValue
            do {
                resource = try JSONValue(parsing: current.payload)
            } catch {
                throw LinkError(.malformedResponse, message: "the EMR's \(patients.resource) is not valid JSON: \(error)")
            }
            let original = resource
            Self.activePath.set(.bool(false), in: &resource)
            // PUT or JSON Patch, as the EMR takes updates (a certified EHR refuses PUT).
            try await Self.update(patients.resource, id: patientID, from: original, to: resource, version: current.version, emr: emr)
            var outcome = linked("\(what) was deleted in Salesforce: \(patients.resource)/\(patientID) is made inactive (active = false)", links: retired)
            // Lineage: `stagelink why Patient <id> active` and the row's detail name this deletion.
            outcome.writes = [
                FieldWrite(
                    record: MappedRecordKey(object: patients.resource, key: patientID), field: Self.activePath.description, value: .bool(false),
                    writtenTo: .emr, rowID: row.id, jobID: jobID, rule: .salesforce, actor: actor, at: now,
                    reason: "deletion: \(what) was deleted in Salesforce (onDelete: \(contacts.onDelete.action.rawValue))")
            ]
            return outcome
        case .merge:
            guard let master = row.survivorID else {
                throw LinkError(.mergeWithoutSurvivor, message: "\(what) is in the Recycle Bin with a MasterRecordId that is not a Salesforce id")
            }
            retired[0].retirement = .merged(into: master)
            let masterKey = SourceKey(system: .salesforce, resourceType: row.resourceType, sourceID: master)
            let masterPatient = try await store.links(for: [masterKey])[masterKey]?.targetID
            let record = MappedRecordKey(object: patients.object, key: patientID)
            if let masterPatient, masterPatient != patientID, links[patientKey]?.retirement == .merged(into: masterPatient) {
                // The EMR merged the two Patients first: this merge completes the one held there.
                var outcome = linked(
                    "\(what) was merged into \(row.resourceType) \(master) in Salesforce, as \(patients.resource)/\(patientID) was merged into "
                        + "\(patients.resource)/\(masterPatient) in the EMR",
                    links: [retired[0]])
                outcome.resolvedConflicts = try await HeldMerges.completed(
                    by: .salesforce, loser: row.sourceID, survivor: master, record: record, store: store, rowID: row.id, actor: actor)
                return outcome
            }
            if let masterPatient, masterPatient != patientID {
                let held = HeldMerge(
                    mergedIn: .salesforce, type: row.resourceType, loserID: row.sourceID, survivorID: master, counterpartType: patients.resource,
                    loserCounterpartID: patientID, survivorCounterpartID: masterPatient)
                return LinkOutcome(
                    rowID: row.id, actor: actor, at: now, status: .held, attempt: .linked,
                    note: "\(what) was merged into \(row.resourceType) \(master) in Salesforce: \(patients.resource)/\(patientID) and "
                        + "\(patients.resource)/\(masterPatient) stay two records in the EMR and \(patientID) receives nothing from Salesforce; "
                        + "held until a person merges them in the EMR",
                    links: retired, conflicts: [.heldMerge(held, record: record, rowID: row.id)])
            }
            return linked(
                "\(what) was merged into \(row.resourceType) \(master) in Salesforce: \(patients.resource)/\(patientID) receives nothing "
                    + "from \(what) again; \(master) links to it once it carries \(patients.externalID) = \(patientID)",
                links: retired)
        }
    }
}
