/// Writes through the REST API and sObject Collections, each recorded in the ledger with its actor.
extension SalesforceOrg {
    private func writeRecord(
        _ outcome: RecordWriteOutcome, object: String, operation: String, actor: String, endpoint: SandboxEndpoint?,
        at now: SandboxInstant
    ) -> WriteRecord? {
        guard outcome.success, let id = outcome.id else { return nil }
        return WriteRecord(
            at: now, system: .salesforce, type: object, id: id,
            operation: operation == "upsert" ? (outcome.created ? "upsert-create" : "upsert-update") : operation,
            actor: actor, endpoint: endpoint, changes: outcome.changes)
    }

    private func fail(_ outcome: RecordWriteOutcome) -> SalesforceAPIError {
        let status = outcome.errors.first?.code == "ENTITY_IS_DELETED" ? 404 : 400
        return SalesforceAPIError(status: status, outcome.errors)
    }

    /// `POST /sobjects/{Object}`: the new record's id.
    func create(_ objectName: String, body: WireObject, actor: String, endpoint: SandboxEndpoint? = .salesforceSObjects)
        throws(SalesforceAPIError) -> String
    {
        let object = try object(objectName)
        let now = clock.now()
        let outcome = state.withLock { $0.store.create(object, body: body, actor: actor, at: now) }
        guard let id = outcome.id, outcome.success else { throw fail(outcome) }
        ledger.record(
            [writeRecord(outcome, object: object.name, operation: "create", actor: actor, endpoint: endpoint, at: now)]
                .compactMap { $0 }, mutation: endpoint == nil)
        return id
    }

    /// `PATCH /sobjects/{Object}/{Id}`.
    func update(
        _ objectName: String, id: String, body: WireObject, actor: String,
        endpoint: SandboxEndpoint? = .salesforceSObjects
    ) throws(SalesforceAPIError) {
        let object = try object(objectName)
        let now = clock.now()
        let outcome = state.withLock { $0.store.update(object, id: id, body: body, actor: actor, at: now) }
        guard outcome.success else { throw fail(outcome) }
        ledger.record(
            [writeRecord(outcome, object: object.name, operation: "update", actor: actor, endpoint: endpoint, at: now)]
                .compactMap { $0 }, mutation: endpoint == nil)
    }

    /// `PATCH /sobjects/{Object}/{Field}/{Value}`: the id and whether it was created; 300 on several matches.
    func upsert(
        _ objectName: String, field fieldName: String, value: String, body: WireObject, actor: String,
        apiVersion: String
    ) throws(SalesforceAPIError) -> (id: String, created: Bool) {
        let object = try object(objectName)
        let field = try externalIDField(fieldName, of: object)
        let now = clock.now()
        let outcome = try state.withLock { state throws(SalesforceAPIError) in
            let matches = state.store.ids(object: object.name, field: field.name, value: value)
            if matches.count > 1 {
                throw SalesforceAPIError(
                    status: 300,
                    body: .array(matches.map { .string("/services/data/\(apiVersion)/sobjects/\(object.name)/\($0)") }))
            }
            return state.store.upsert(object, field: field, value: value, body: body, actor: actor, at: now)
        }
        guard let id = outcome.id, outcome.success else { throw fail(outcome) }
        ledger.record(
            [
                writeRecord(
                    outcome, object: object.name, operation: "upsert", actor: actor, endpoint: .salesforceSObjects,
                    at: now)
            ].compactMap { $0 })
        return (id, outcome.created)
    }

    /// The body of a collections call: up to 200 records and the `allOrNone` flag.
    func collectionRecords(_ body: WireJSON) throws(SalesforceAPIError) -> (records: [WireObject], allOrNone: Bool) {
        guard let records = body["records"]?.arrayValue else {
            throw SalesforceAPIError(
                status: 400,
                [SalesforceError(code: "JSON_PARSER_ERROR", message: "The request body needs a records array")])
        }
        guard records.count <= 200 else {
            throw SalesforceAPIError(
                status: 400,
                [
                    SalesforceError(
                        code: "EXCEEDED_ID_LIMIT",
                        message: "record limit reached. cannot submit more than 200 records into this call")
                ])
        }
        let objects = try records.map { record throws(SalesforceAPIError) in
            guard let object = record.objectValue else {
                throw SalesforceAPIError(
                    status: 400, [SalesforceError(code: "JSON_PARSER_ERROR", message: "Each record must be an object")])
            }
            return object
        }
        return (objects, body["allOrNone"]?.boolValue ?? false)
    }

    /// `PATCH /composite/sobjects/{Object}/{ExternalIdField}`: one result per record, in order.
    func collectionsUpsert(
        _ objectName: String, field fieldName: String, records: [WireObject], allOrNone: Bool, lockedRows: Set<Int>,
        actor: String, endpoint: SandboxEndpoint = .salesforceCollections
    ) throws(SalesforceAPIError) -> [RecordWriteOutcome] {
        let object = try object(objectName)
        let field = try externalIDField(fieldName, of: object)
        var valueCounts: [String: Int] = [:]
        let values = records.map { SalesforceStore.member($0, named: field.name)?.value.stringValue }
        for value in values.compactMap({ $0 }) { valueCounts[value, default: 0] += 1 }
        return applyCollection(records.count, allOrNone: allOrNone, lockedRows: lockedRows, actor: actor) {
            store, index, now in
            let record = records[index]
            if let type = record["attributes"]?["type"]?.stringValue, type.lowercased() != object.name.lowercased() {
                return .failed([
                    SalesforceError(
                        code: "INVALID_FIELD", message: "attributes.type \(type) does not match \(object.name)")
                ])
            }
            guard let value = values[index] else {
                return .failed([
                    SalesforceError(
                        code: "MISSING_ARGUMENT", message: "\(field.name) not specified", fields: [field.name])
                ])
            }
            if valueCounts[value, default: 0] > 1 {
                return .failed([
                    SalesforceError(
                        code: "DUPLICATE_EXTERNAL_ID", message: "Duplicate external id specified: \(value)",
                        fields: [field.name])
                ])
            }
            return store.upsert(object, field: field, value: value, body: record, actor: actor, at: now)
        } record: { outcome, now in
            self.writeRecord(
                outcome, object: object.name, operation: "upsert", actor: actor, endpoint: endpoint, at: now)
        }
    }

    /// `PATCH /composite/sobjects`: records carry `Id` and `attributes.type`.
    func collectionsUpdate(
        records: [WireObject], allOrNone: Bool, lockedRows: Set<Int>, actor: String, endpoint: SandboxEndpoint = .salesforceCollections
    ) -> [RecordWriteOutcome] {
        applyCollection(records.count, allOrNone: allOrNone, lockedRows: lockedRows, actor: actor) { store, index, now in
            let record = records[index]
            guard let typeName = record["attributes"]?["type"]?.stringValue,
                let object = self.schema.object(named: typeName)
            else {
                return .failed([
                    SalesforceError(code: "INVALID_TYPE", message: "Each record needs attributes.type naming an object")
                ])
            }
            guard let id = SalesforceStore.member(record, named: "Id")?.value.stringValue else {
                return .failed([
                    SalesforceError(code: "MISSING_ARGUMENT", message: "Id not specified in an update call", fields: ["Id"])
                ])
            }
            let idKey = SalesforceStore.member(record, named: "Id")!.key
            return store.update(object, id: id, body: record, actor: actor, at: now, ignoring: [idKey])
        } record: { outcome, now in
            guard let id = outcome.id, let object = self.state.withLock({ $0.store.records[id]?.object }) else {
                return nil
            }
            return self.writeRecord(
                outcome, object: object, operation: "update", actor: actor, endpoint: endpoint, at: now)
        }
    }

    /// Applies each record in order; with `allOrNone`, on a scratch copy that replaces the store only if all succeed.
    private func applyCollection(
        _ count: Int, allOrNone: Bool, lockedRows: Set<Int>, actor: String,
        apply: (inout SalesforceStore, Int, SandboxInstant) -> RecordWriteOutcome,
        record: (RecordWriteOutcome, SandboxInstant) -> WriteRecord?
    ) -> [RecordWriteOutcome] {
        let now = clock.now()
        let lockError = SalesforceError(
            code: "UNABLE_TO_LOCK_ROW", message: "unable to obtain exclusive access to this record or 1 records")
        let outcomes = state.withLock { state -> [RecordWriteOutcome] in
            func run(_ store: inout SalesforceStore) -> [RecordWriteOutcome] {
                (0..<count).map { index in lockedRows.contains(index) ? .failed([lockError]) : apply(&store, index, now) }
            }
            guard allOrNone else { return run(&state.store) }
            var scratch = state.store
            let outcomes = run(&scratch)
            if outcomes.contains(where: { !$0.success }) {
                let rolledBack = SalesforceError(
                    code: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    message: "Record rolled back because not all records were valid and the request was using "
                        + "AllOrNone header")
                return outcomes.map { $0.success ? .failed([rolledBack]) : $0 }
            }
            state.store = scratch
            return outcomes
        }
        ledger.record(outcomes.compactMap { record($0, now) })
        return outcomes
    }
}
