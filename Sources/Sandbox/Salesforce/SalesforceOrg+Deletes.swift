/// Deletion, merge and the delete log, as the REST API documents them:
///
/// - `DELETE /sobjects/{type}/{id}` moves the record to the Recycle Bin (`IsDeleted = true`) and answers
///   204; Query leaves it out, QueryAll returns it (REST API "QueryAll"), and reading, updating or
///   deleting it again fails with `ENTITY_IS_DELETED`.
/// - A merge deletes the losing records and sets their `MasterRecordId` to the winner, reparents
///   their related records and updates the winner ("Triggers and Merge Statements"; SOAP API
///   `merge()`: up to three records, the master included). REST has no merge resource: people merge
///   in the UI, so only the mutation driver and the inspection API merge.
/// - `GET /sobjects/{type}/deleted/?start=…&end=…` lists the delete log between two instants
///   (REST API "sObject Get Deleted": `deletedRecords[{id, deletedDate}]`, `earliestDateAvailable`,
///   `latestDateCovered`; results for no more than 15 days before the call; the seconds of start and
///   end are ignored). SOAP API `getDeleted()`: a start that does not precede the end, or that lies
///   before what the log still holds, is refused with `INVALID_REPLICATION_DATE`.
extension SalesforceOrg {
    /// How far back the delete log answers ("no more than 15 days previous to the day the call is executed").
    static let deleteLogWindowDays = 15

    /// `DELETE /sobjects/{Object}/{Id}`.
    func delete(_ objectName: String, id: String, actor: String, endpoint: SandboxEndpoint? = .salesforceSObjects)
        throws(SalesforceAPIError)
    {
        let object = try object(objectName)
        let now = clock.now()
        let deleted = try state.withLock { state throws(SalesforceAPIError) -> SObjectRecord? in
            guard let live = state.store.liveRecord(id), live.object == object.name else { return nil }
            if let refusal = state.store.personContactRefusal(live) { throw SalesforceAPIError(status: 400, [refusal]) }
            return state.store.moveToRecycleBin(id: id, actor: actor, at: now)
        }
        guard let deleted else { throw SalesforceAPIError(status: 404, [.entityIsDeleted]) }
        ledger.record(
            [
                WriteRecord(
                    at: now, system: .salesforce, type: object.name, id: deleted.id, operation: "delete", actor: actor,
                    endpoint: endpoint, changes: ["IsDeleted": true])
            ], mutation: endpoint == nil)
    }

    /// Merges `losers` (one or two) into `master`: each loser is deleted with `MasterRecordId` set to the
    /// master, records that looked up a loser look up the master, and the master is updated (its
    /// `SystemModstamp` moves). A UI action, never an API call: the ledger records it as a mutation.
    func merge(_ objectName: String, master: String, losers: [String], actor: String) throws(SalesforceAPIError) {
        let object = try object(objectName)
        guard (1...2).contains(losers.count), !losers.contains(master) else {
            throw SalesforceAPIError(
                status: 400,
                [SalesforceError(code: "INVALID_OPERATION", message: "A merge takes a master and one or two other records")])
        }
        let now = clock.now()
        let writes = try state.withLock { state throws(SalesforceAPIError) -> [WriteRecord] in
            let ids = [master] + losers
            guard ids.allSatisfy({ state.store.liveRecord($0)?.object == object.name }),
                let masterID = state.store.liveRecord(master)?.id
            else { throw SalesforceAPIError(status: 404, [.entityIsDeleted]) }
            var writes: [WriteRecord] = []
            for loser in losers {
                guard let deleted = state.store.moveToRecycleBin(
                    id: loser, values: ["MasterRecordId": .string(masterID)], actor: actor, at: now)
                else { continue }
                writes.append(
                    WriteRecord(
                        at: now, system: .salesforce, type: object.name, id: deleted.id, operation: "merge-delete",
                        actor: actor, endpoint: nil, changes: ["IsDeleted": true, "MasterRecordId": .string(masterID)]))
                writes += reparent(&state.store, from: deleted.id, to: masterID, object: object, actor: actor, at: now)
            }
            state.store.update(id: masterID, values: [:], actor: actor, at: now)
            writes.append(
                WriteRecord(
                    at: now, system: .salesforce, type: object.name, id: masterID, operation: "merge-update",
                    actor: actor, endpoint: nil, changes: [:]))
            return writes
        }
        ledger.record(writes, mutation: true)
    }

    /// Points every live record's reference to `from` (of `object`) at `to`.
    private func reparent(
        _ store: inout SalesforceStore, from: String, to: String, object: SObjectDescription, actor: String,
        at now: SandboxInstant
    ) -> [WriteRecord] {
        var writes: [WriteRecord] = []
        for child in store.schema.objects.values {
            for field in child.fields where field.referenceTo == object.name && !field.system {
                for record in store.records(of: child.name) where record[field.name].stringValue == from {
                    store.update(id: record.id, values: [field.name: .string(to)], actor: actor, at: now)
                    writes.append(
                        WriteRecord(
                            at: now, system: .salesforce, type: child.name, id: record.id, operation: "update",
                            actor: actor, endpoint: nil, changes: [field.name: .string(to)]))
                }
            }
        }
        return writes
    }

    /// `GET /sobjects/{Object}/deleted/?start=…&end=…`: the delete log between the two instants.
    func deleted(_ objectName: String, start startText: String?, end endText: String?) throws(SalesforceAPIError)
        -> WireJSON
    {
        let object = try object(objectName)
        guard let startText, let endText else {
            throw SalesforceAPIError(
                status: 400,
                [SalesforceError(code: "MISSING_ARGUMENT", message: "start and end are both required")])
        }
        guard let requestedStart = SandboxInstant(iso8601: startText), let requestedEnd = SandboxInstant(iso8601: endText)
        else {
            throw SalesforceAPIError(
                status: 400,
                [SalesforceError(code: "INVALID_REPLICATION_DATE", message: "start and end must be ISO 8601 date-times")])
        }
        // The seconds of both are ignored: the log answers by whole minutes.
        let start = requestedStart.truncatedToMinute
        let end = requestedEnd.truncatedToMinute
        let now = clock.now()
        let earliest = now.adding(seconds: -Double(Self.deleteLogWindowDays) * 86_400).truncatedToMinute
        guard start < end else {
            throw SalesforceAPIError(
                status: 400,
                [
                    SalesforceError(
                        code: "INVALID_REPLICATION_DATE", message: "startDate must chronologically precede endDate")
                ])
        }
        guard !(start < earliest) else {
            throw SalesforceAPIError(
                status: 400,
                [
                    SalesforceError(
                        code: "INVALID_REPLICATION_DATE",
                        message: "startDate cannot be more than \(Self.deleteLogWindowDays) days ago; "
                            + "the earliest date available is \(earliest.salesforceDateTime)")
                ])
        }
        let covered = min(end, now.truncatedToMinute)
        let log = state.withLock { $0.store.deleteLog[object.name] ?? [] }
        let records: [WireJSON] = log.filter { !($0.deletedDate < start) && $0.deletedDate < covered }.map { entry in
            ["id": .string(entry.id), "deletedDate": .string(entry.deletedDate.salesforceDateTime)]
        }
        return [
            "deletedRecords": .array(records), "earliestDateAvailable": .string(earliest.salesforceDateTime),
            "latestDateCovered": .string(covered.salesforceDateTime),
        ]
    }
}

extension SandboxInstant {
    /// The instant with its seconds and milliseconds dropped.
    var truncatedToMinute: SandboxInstant {
        SandboxInstant(milliseconds: milliseconds - ((milliseconds % 60_000) + 60_000) % 60_000)
    }
}
