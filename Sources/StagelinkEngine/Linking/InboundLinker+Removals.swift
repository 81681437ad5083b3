import Foundation

/// Deletions and merges of EMR records, linked by the mapping's `onDelete` and `onMerge` rules
/// (see ``DeletionRule`` and ``MergeRule``). Whatever the rule, the link of a deleted or merged-away
/// record is retired: no update reaches its Salesforce record again.
extension InboundLinker {
    /// One outcome per row, in order.
    func linkRemovals(_ rows: [StagedRow], actor: Actor, jobID: Int64?) async throws -> [LinkOutcome] {
        var outcomes: [LinkOutcome] = []
        for row in rows {
            guard let inbound = mapping.inbound(forResource: row.resourceType) else {
                let error = LinkError(.mappingNoMapping, message: "no inbound mapping for \(row.resourceType) in \(mapping.file)")
                outcomes.append(LinkOutcome(rowID: row.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: error))
                continue
            }
            outcomes.append(try await linkRemoval(row, inbound: inbound, actor: actor, jobID: jobID))
        }
        return outcomes
    }

    private func linkRemoval(_ row: StagedRow, inbound: InboundMapping, actor: Actor, jobID: Int64?) async throws -> LinkOutcome {
        let now = Date()
        /// Lineage of a field the rule writes: `why` and the row's detail say which deletion or
        /// merge put it there. The rule is the EMR's: its deletion or merge decides the value.
        func lineage(_ field: MappedField, key: String, reason: String) -> FieldWrite {
            FieldWrite(
                record: MappedRecordKey(object: inbound.object, key: key), field: field.name, value: field.value, writtenTo: .salesforce,
                rowID: row.id, jobID: jobID, rule: .emr, actor: actor, at: now, reason: reason)
        }
        let survivorKey = row.survivorID.map { SourceKey(system: row.system, resourceType: row.resourceType, sourceID: $0) }
        var links = try await store.links(for: [row.recordKey] + (survivorKey.map { [$0] } ?? []))
        // A record not linked itself may have a counterpart already: made by another mapping keyed
        // by its id, the admission's Contact a Patient was created from, or an upsert whose answer
        // was lost (killed after Salesforce made the Contact, before the link was recorded).
        do {
            for key in [row.recordKey] + (survivorKey.map { [$0] } ?? []) where links[key] == nil {
                links[key] = try await createdFrom(key, inbound: inbound, row: row, at: now)
            }
        } catch let error as RemoteCallError {
            if error.stopsJob { throw error }
            return LinkOutcome(rowID: row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error.error)
        }
        let what = "\(row.resourceType)/\(row.sourceID)"
        func linked(_ note: String, links: [RecordLink] = []) -> LinkOutcome {
            LinkOutcome(rowID: row.id, actor: actor, at: now, status: .linked, attempt: .linked, note: note, links: links)
        }
        guard var link = links[row.recordKey] else {
            // No counterpart yet: the link is kept retired all the same, without one, so that no
            // mapping makes one afterwards (an episode upserting the Contact of a deleted Patient).
            var retired: [RecordLink] = []
            if inbound.isKeyedByOwnID {
                var none = RecordLink(
                    source: row.recordKey, targetType: inbound.object, targetID: "", recordKey: row.sourceID, linkedRowID: row.id,
                    linkedVersion: row.recordVersion, updatedAt: now)
                none.retirement = row.survivorID.map { .merged(into: $0) } ?? .deleted
                retired = [none]
            }
            return linked("\(what) \(row.kind == .merge ? "was merged away" : "was deleted") in the EMR; it has no \(inbound.object) to update", links: retired)
        }
        if let retirement = link.retirement {
            var outcome = linked("\(what) was already \(retirement.describe(resourceType: row.resourceType)): \(inbound.object) \(link.targetID) is left as it is")
            if row.kind == .merge, let survivor = row.survivorID {
                // Salesforce merged the two Contacts first: this merge completes the one held there.
                outcome.resolvedConflicts = try await HeldMerges.completed(
                    by: .emr, loser: row.sourceID, survivor: survivor, record: MappedRecordKey(object: inbound.object, key: link.recordKey), store: store,
                    rowID: row.id, actor: actor)
            }
            return outcome
        }
        link.linkedRowID = row.id
        link.linkedVersion = row.recordVersion
        link.updatedAt = now
        switch row.kind {
        case .record:
            preconditionFailure("linkRemoval takes deletions and merges only")
        case .deletion:
            link.retirement = .deleted
            switch inbound.onDelete.action {
            case .ignore, .deactivate:
                return linked("\(what) was deleted in the EMR; onDelete: ignore leaves \(inbound.object) \(link.targetID) as it is", links: [link])
            case .flag:
                let field = inbound.onDelete.field ?? DeletionRule.defaultFlagField
                let flag = MappedField(name: field, value: .bool(true))
                var success = linked("\(what) was deleted in the EMR: \(inbound.object) \(link.targetID) is flagged \(field)", links: [link])
                success.writes = [lineage(flag, key: link.recordKey, reason: "deletion: \(what) was deleted in the EMR (onDelete: flag)")]
                return try await write([flag], to: link, row: row, inbound: inbound, actor: actor, success: success)
            case .delete:
                do {
                    try await target.delete(object: inbound.object, id: link.targetID)
                    CrashPoints.reach(.upsertSent)
                    return linked("\(what) was deleted in the EMR: \(inbound.object) \(link.targetID) was deleted (onDelete: delete)", links: [link])
                } catch {
                    if error.stopsJob { throw error }
                    return LinkOutcome(rowID: row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error.error)
                }
            }
        case .merge:
            guard let survivor = row.survivorID, let survivorKey, let rule = inbound.onMerge else {
                let error = LinkError(.mergeWithoutSurvivor, message: "\(what) is marked merged but names no record it was merged into")
                return LinkOutcome(rowID: row.id, actor: actor, at: now, status: .failed, attempt: .failed, error: error)
            }
            link.retirement = .merged(into: survivor)
            if let survivorLink = links[survivorKey], survivorLink.targetID != link.targetID {
                // Two Salesforce records for one person now: never joined automatically. The
                // loser's is flagged and written to no more; a person merges them in Salesforce.
                let flag = MappedField(name: rule.field, value: .text(survivorLink.targetID))
                let held = HeldMerge(
                    mergedIn: .emr, type: row.resourceType, loserID: row.sourceID, survivorID: survivor, counterpartType: inbound.object,
                    loserCounterpartID: link.targetID, survivorCounterpartID: survivorLink.targetID)
                return try await write(
                    [flag], to: link, row: row, inbound: inbound, actor: actor,
                    success: LinkOutcome(
                        rowID: row.id, actor: actor, at: now, status: .held, attempt: .linked,
                        note: "\(what) was merged into \(row.resourceType)/\(survivor) in the EMR: \(inbound.object) \(link.targetID) is flagged "
                            + "\(rule.field) = \(survivorLink.targetID) and receives no more updates; held until a person merges "
                            + "\(inbound.object) \(link.targetID) into \(survivorLink.targetID) in Salesforce",
                        links: [link],
                        writes: [
                            lineage(flag, key: link.recordKey, reason: "merge: \(what) was merged into \(row.resourceType)/\(survivor) in the EMR (onMerge: relink)")
                        ],
                        conflicts: [.heldMerge(held, record: MappedRecordKey(object: inbound.object, key: link.recordKey), rowID: row.id)]))
            }
            // The survivor has no Salesforce record yet (or shares this one): the loser's becomes
            // the survivor's, its external id rewritten to the survivor's id.
            var moved = link
            moved.source = survivorKey
            moved.recordKey = survivor
            moved.retirement = nil
            let relinked = MappedField(name: inbound.externalID, value: .text(survivor))
            var success = linked(
                "\(what) was merged into \(row.resourceType)/\(survivor) in the EMR: \(inbound.object) \(link.targetID) now stands for "
                    + "\(row.resourceType)/\(survivor) (\(inbound.externalID) rewritten)",
                links: [link, moved])
            success.writes = [
                lineage(relinked, key: survivor, reason: "merge: \(what) was merged into \(row.resourceType)/\(survivor) in the EMR (onMerge: relink moved its link)")
            ]
            return try await write([relinked], to: link, row: row, inbound: inbound, actor: actor, success: success)
        }
    }

    /// The link a record would have when it has none of its own yet: its counterpart made by
    /// another mapping keyed by its id (its episode of care upserted the Contact first), the
    /// Salesforce record that created it (an admission's Contact, whose `EMR_Patient_Id__c` names it),
    /// or, for a mapping keyed by the record's own id, the Salesforce record that carries that id
    /// as its external id (an upsert made it and its answer was lost in a crash).
    private func createdFrom(_ key: SourceKey, inbound: InboundMapping, row: StagedRow, at now: Date) async throws -> RecordLink? {
        var counterpart = try await store.links(recordKey: key.sourceID, targetType: inbound.object).first { $0.retirement == nil }?.targetID
        if counterpart == nil, let back = try await store.link(targetType: key.resourceType, targetID: key.sourceID), back.source.system == .salesforce,
            back.source.resourceType == inbound.object, back.retirement == nil
        {
            counterpart = back.source.sourceID
        }
        if counterpart == nil, inbound.isKeyedByOwnID {
            // One query, only for a removal of a record with no known counterpart.
            let found = try await target.recordIDs(object: inbound.object, externalIDField: inbound.externalID, value: key.sourceID)
            if found.count > 1 {
                throw RemoteCallError(
                    .rejected,
                    LinkError(
                        .multipleMatches, message: "\(found.count) \(inbound.object) records carry \(inbound.externalID) = \(key.sourceID): \(found.joined(separator: ", "))",
                        fields: [inbound.externalID]))
            }
            counterpart = found.first
        }
        guard let counterpart else { return nil }
        return RecordLink(
            source: key, targetType: inbound.object, targetID: counterpart, recordKey: key.sourceID, linkedRowID: nil,
            linkedVersion: RecordVersion(version: nil, lastUpdated: nil), updatedAt: now)
    }

    /// Writes `fields` into the link's counterpart by its Salesforce id; `success` when it took,
    /// the row failed with Salesforce's error otherwise (the link then stays as it was).
    private func write(
        _ fields: [MappedField], to link: RecordLink, row: StagedRow, inbound: InboundMapping, actor: Actor, success: LinkOutcome
    ) async throws -> LinkOutcome {
        do {
            let results = try await target.update(object: inbound.object, records: [TargetRecordUpdate(id: link.targetID, fields: fields)])
            CrashPoints.reach(.upsertSent)
            switch results.first {
            case .success?: return success
            case .failure(let error)?:
                return LinkOutcome(rowID: row.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: error)
            case nil:
                let error = LinkError(.malformedResponse, message: "no result was returned for this record")
                return LinkOutcome(rowID: row.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: error)
            }
        } catch {
            if error.stopsJob { throw error }
            return LinkOutcome(rowID: row.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: error.error)
        }
    }

    /// A version of a record whose link was retired: never written.
    static func retired(_ row: StagedRow, link: RecordLink, actor: Actor, at: Date) -> LinkOutcome {
        let state = link.retirement?.describe(resourceType: link.source.resourceType) ?? "retired"
        return LinkOutcome(
            rowID: row.id, actor: actor, at: at, status: .superseded, attempt: .superseded,
            note: "\(link.source.resourceType)/\(link.source.sourceID) was \(state): nothing is written to "
                + (link.targetID.isEmpty ? "any \(link.targetType)" : "\(link.targetType) \(link.targetID)") + " again")
    }
}
