import Foundation
import Logging

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
        } else if links[patientKey] == nil {
            // The Patient's own link is not known (the upsert that made this Contact was answered to a
            // process killed before it recorded the link): retired all the same, so that no later
            // version of the Patient makes its Contact again.
            var patientLink = RecordLink(
                source: patientKey, targetType: row.resourceType, targetID: row.sourceID, recordKey: patientID, linkedRowID: nil,
                linkedVersion: RecordVersion(version: nil, lastUpdated: nil), updatedAt: now)
            patientLink.retirement = .counterpartRemoved
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
            // The master's Patient: its own link, or (its row not linked from Salesforce yet) the
            // Patient its newest staged version carries, or the Patient linked to it. (The newest
            // link to the Contact may be another mapping's, such as an episode's: it is no answer.)
            var masterPatient = try await store.links(for: [masterKey])[masterKey]?.targetID
            if masterPatient == nil {
                let versions = try await store.rows(
                    RowQuery(filter: RowFilter(system: .salesforce, resourceType: row.resourceType, sourceID: master, kind: .record), sort: RowSort(descending: true), limit: 1))
                if let newestID = versions.first?.id, let newest = try await store.row(id: newestID),
                    let carried = (try? JSONValue(parsing: newest.payload))?[patients.externalID]?.stringValue, !carried.isEmpty
                {
                    masterPatient = try FHIRID.validated(carried, field: patients.externalID, of: "the \(patients.resource) \(row.resourceType) \(master) stands for").value
                }
            }
            if masterPatient == nil, let back = try await store.link(targetType: row.resourceType, targetID: master), back.retirement == nil,
                back.source.system == .emr, back.source.resourceType == patients.resource
            {
                masterPatient = back.source.sourceID
            }
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

extension OutboundLinker {
    /// The Patient an admission of the Contact `contactID` goes to: `found` itself while it is in
    /// use, or the survivor it was merged into (the store's retired link, or the EMR's `replaced-by`
    /// link when the merge is not pulled yet), so that nothing is ever written into a Patient merged
    /// away. A survivor that stands for another Contact (the merge is held for a person), and a
    /// Patient deleted in the EMR, take nothing: the admission fails with `COUNTERPART_REMOVED`,
    /// naming both records, before anything is written (no ServiceRequest, no write-back).
    func admissionPatient(
        _ found: WrittenResource, contactID: String, patients: InboundMapping, row: StagedRow, emr: any ResourceWriter
    ) async throws -> String {
        let type = patients.resource
        var id = found.id
        var trail: [String] = []
        // A created Patient is new: nobody merged it yet. A found one may be merged away.
        var mustRead = !found.created
        while trail.count < 8 {
            let key = SourceKey(system: .emr, resourceType: type, sourceID: id)
            let link = try await store.links(for: [key])[key]
            var survivor: String?
            switch link?.retirement {
            case .deleted?:
                throw LinkError(
                    .counterpartRemoved,
                    message: "\(type)/\(id), the \(type) of \(patients.object) \(contactID), was deleted in the EMR: the admission "
                        + "(row \(row.id)) creates nothing and writes nothing back")
            case .merged(let into)?:
                survivor = into
            case .counterpartRemoved?, nil:
                if mustRead {
                    guard let current = try await emr.read(resourceType: type, id: id) else {
                        throw LinkError(
                            .counterpartRemoved,
                            message: "\(type)/\(id), the \(type) of \(patients.object) \(contactID), is no longer in the EMR: the admission "
                                + "(row \(row.id)) creates nothing and writes nothing back")
                    }
                    survivor = (try? JSONValue(parsing: current.payload)).flatMap(Self.replacedBy).map { reference in
                        reference.hasPrefix("\(type)/") ? String(reference.dropFirst(type.count + 1)) : reference
                    }
                }
            }
            guard let survivor else { break }
            _ = try FHIRID.validated(survivor, field: patients.externalID, of: "the \(type) \(type)/\(id) was merged into")
            trail.append(id)
            id = survivor
            mustRead = true
        }
        guard let merged = trail.first else { return id }
        // The survivor's own counterpart, if it has one: the merge moved the Contact's link to it, or
        // it stands for another Contact and the merge waits for a person.
        let survivorKey = SourceKey(system: .emr, resourceType: type, sourceID: id)
        if let other = try await store.links(for: [survivorKey])[survivorKey], other.retirement == nil, !other.targetID.isEmpty,
            other.targetType == patients.object, other.targetID != contactID
        {
            throw LinkError(
                .counterpartRemoved,
                message: "\(type)/\(merged), the \(type) of \(patients.object) \(contactID), was merged into \(type)/\(id) in the EMR, which stands "
                    + "for \(patients.object) \(other.targetID): the merge is held for a person (stagelink conflicts --kind merge); the admission "
                    + "(row \(row.id)) creates nothing and writes nothing back until it is settled")
        }
        logger.notice(
            "an admission's Patient was merged away: it goes to the survivor",
            metadata: ["row": "\(row.id)", "mergedAway": "\(type)/\(merged)", "survivor": "\(type)/\(id)"])
        return id
    }

    /// Of these Patients, those still in use: not merged away or deleted, by the store's links or
    /// (when the store has not seen it yet) the EMR's own `replaced-by` link.
    func inUse(_ ids: [String], patients: InboundMapping, emr: any ResourceWriter) async throws -> [String] {
        var live: [String] = []
        for id in ids {
            let key = SourceKey(system: .emr, resourceType: patients.resource, sourceID: id)
            switch try await store.links(for: [key])[key]?.retirement {
            case .deleted?, .merged?: continue
            case .counterpartRemoved?, nil:
                guard let current = try await emr.read(resourceType: patients.resource, id: id) else { continue }
                if (try? JSONValue(parsing: current.payload)).flatMap(Self.replacedBy) == nil { live.append(id) }
            }
        }
        return live
    }
}
