import Synchronization

/// A signed-in Salesforce session.
struct SalesforceSession: Sendable {
    var userID: String
    var username: String
}

/// A query's remaining pages, behind a `nextRecordsUrl` locator.
private struct QueryCursor: Sendable {
    var records: [WireJSON]
    var total: Int
    /// The batch size of the query's first answer, which its later batches keep: the
    /// `Sforce-Query-Options: batchSize` asked for (200 to 2,000; REST API "Query Options Header").
    var size: Int
}

/// A failed Salesforce call: the status and the JSON body the REST API answers with.
struct SalesforceAPIError: Error, Sendable {
    var status: Int
    var body: WireJSON

    init(status: Int, _ errors: [SalesforceError]) {
        self.status = status
        self.body = .array(errors.map(\.restJSON))
    }

    init(status: Int, body: WireJSON) {
        self.status = status
        self.body = body
    }
}

/// The simulated org: its records, sessions, query cursors and API usage, behind one lock.
final class SalesforceOrg: Sendable {
    struct State: Sendable {
        var store: SalesforceStore
        var userIDs: [String: String] = [:]
        fileprivate var cursors: [String: QueryCursor] = [:]
        var cursorOrder: [String] = []
        var cursorSequence = 0
        var apiUsage = 0
        /// Bulk API 2.0 ingest jobs by id.
        var bulkJobs: [String: BulkIngestJob] = [:]
        var bulkJobSequence = 0
    }

    let schema: SalesforceSchema
    let organizationID = "00D8d000000SbxQEAS"
    let state: Mutex<State>
    let clock: SandboxClock
    let ledger: WriteLedger
    let dailyLimit: Int
    let pageSize: Int
    private let sessions: SessionTable<SalesforceSession>
    /// Where Bulk API ingest jobs are processed, one at a time (``BulkProcessingLane``).
    let bulkLane = BulkProcessingLane()

    init(schema: SalesforceSchema, clock: SandboxClock, ledger: WriteLedger, dailyLimit: Int, pageSize: Int) {
        self.schema = schema
        self.clock = clock
        self.ledger = ledger
        self.dailyLimit = dailyLimit
        self.pageSize = pageSize
        self.state = Mutex(State(store: SalesforceStore(schema: schema)))
        self.sessions = SessionTable(clock: clock)
    }

    // MARK: - Users and sessions

    /// Every access token issued, for tests that check no log line holds one.
    var issuedTokens: [String] { sessions.tokens }

    /// The id of a user, created on first use.
    @discardableResult
    func user(named username: String, displayName: String) -> String {
        state.withLock { state in
            if let id = state.userIDs[username] { return id }
            let user = schema.object(named: "User")!
            let record = state.store.insert(
                user,
                values: ["Username": .string(username), "Name": .string(displayName), "IsActive": .bool(true)],
                actor: "", at: clock.now())
            state.userIDs[username] = record.id
            return record.id
        }
    }

    func openSession(token: String, userID: String, username: String, lifetime: Duration) {
        state.withLock { _ = $0.store.integrationUsers.insert(userID) }
        sessions.open(token, SalesforceSession(userID: userID, username: username), lifetime: lifetime)
    }

    /// The live session of a bearer token, or nil when unknown or expired.
    func session(token: String) -> SalesforceSession? { sessions.session(token) }

    // MARK: - Field-level security

    /// Gives the integration users' permission set Edit access to a field, or takes it away
    /// (Read only). Throws for an object or field the org does not have.
    func setFieldEditable(_ objectName: String, field fieldName: String, editable: Bool) throws(SalesforceAPIError) {
        let object = try object(objectName)
        guard let field = object.field(named: fieldName) else {
            throw SalesforceAPIError(status: 404, [.invalidField(fieldName, object: object.name)])
        }
        let key = "\(object.name).\(field.name)".lowercased()
        state.withLock { state in
            if editable { state.store.readOnlyFields.remove(key) } else { state.store.readOnlyFields.insert(key) }
        }
    }

    /// The fields the integration users may read but not write, as `Object.Field`.
    var readOnlyFields: [String] {
        let keys = state.withLock { $0.store.readOnlyFields }
        return schema.objects.values.flatMap { object in
            object.fields.filter { keys.contains("\(object.name).\($0.name)".lowercased()) }.map { "\(object.name).\($0.name)" }
        }.sorted()
    }

    /// The describe of an object as `actor` sees it (field-level security applied).
    func describe(_ objectName: String, for actor: String) throws(SalesforceAPIError) -> SObjectDescription {
        var object = try object(objectName)
        let name = object.name
        let names = object.fields.map(\.name)
        let readOnly = state.withLock { state in Set(names.filter { state.store.isReadOnly($0, of: name, for: actor) }) }
        for index in object.fields.indices where readOnly.contains(object.fields[index].name) {
            object.fields[index].readOnlyForUser = true
        }
        return object
    }

    // MARK: - API usage

    /// Counts one API request; nil when it is past the daily limit.
    func countRequest() -> Int? {
        state.withLock { state in
            state.apiUsage += 1
            return state.apiUsage <= dailyLimit ? state.apiUsage : nil
        }
    }

    var apiUsage: Int { state.withLock { $0.apiUsage } }

    var limitInfo: String { "api-usage=\(min(apiUsage, dailyLimit))/\(dailyLimit)" }

    // MARK: - Reads

    func object(_ name: String) throws(SalesforceAPIError) -> SObjectDescription {
        guard let object = schema.object(named: name) else {
            throw SalesforceAPIError(
                status: 404,
                [SalesforceError(code: "NOT_FOUND", message: "The requested resource does not exist")])
        }
        return object
    }

    /// A record with all its fields, or the `fields` asked for.
    func record(_ objectName: String, id: String, fields: [String]?, apiVersion: String) throws(SalesforceAPIError)
        -> WireJSON
    {
        let object = try object(objectName)
        return try state.withLock { state throws(SalesforceAPIError) in
            guard let id = SalesforceID.normalize(id), let record = state.store.records[id],
                record.object == object.name
            else { throw SalesforceAPIError(status: 404, [.notFound]) }
            if record.isDeleted { throw SalesforceAPIError(status: 404, [.entityIsDeleted]) }
            return try Self.render(record, object: object, fields: fields, apiVersion: apiVersion)
        }
    }

    /// A record in the Recycle Bin with all its fields (`IsDeleted`, `MasterRecordId`), as QueryAll
    /// would return it; nil for a live or unknown record. For the inspection API only.
    func recycledRecord(_ objectName: String, id: String) -> WireJSON? {
        guard let object = try? object(objectName) else { return nil }
        return state.withLock { state in
            guard let id = SalesforceID.normalize(id), let record = state.store.records[id], record.object == object.name, record.isDeleted
            else { return nil }
            return try? Self.render(record, object: object, fields: nil, apiVersion: "v60.0")
        }
    }

    /// The record whose external-id field holds `value`; 300 with the candidates' URLs when several do.
    func record(_ objectName: String, field: String, value: String, fields: [String]?, apiVersion: String)
        throws(SalesforceAPIError) -> WireJSON
    {
        let object = try object(objectName)
        let externalField = try externalIDField(field, of: object)
        return try state.withLock { state throws(SalesforceAPIError) in
            let ids = state.store.ids(object: object.name, field: externalField.name, value: value)
            switch ids.count {
            case 0: throw SalesforceAPIError(status: 404, [.notFound])
            case 1:
                return try Self.render(
                    state.store.records[ids[0]]!, object: object, fields: fields, apiVersion: apiVersion)
            default:
                throw SalesforceAPIError(
                    status: 300,
                    body: .array(ids.map { .string("/services/data/\(apiVersion)/sobjects/\(object.name)/\($0)") }))
            }
        }
    }

    func externalIDField(_ name: String, of object: SObjectDescription) throws(SalesforceAPIError) -> SObjectField {
        guard let field = object.field(named: name), field.externalId || field.name == "Id" else {
            throw SalesforceAPIError(
                status: 404,
                [
                    SalesforceError(
                        code: "NOT_FOUND",
                        message: "Provided external ID field does not exist or is not accessible: \(name)")
                ])
        }
        return field
    }

    private static func render(_ record: SObjectRecord, object: SObjectDescription, fields: [String]?, apiVersion: String)
        throws(SalesforceAPIError) -> WireJSON
    {
        var output = WireObject()
        output["attributes"] = [
            "type": .string(object.name),
            "url": .string("/services/data/\(apiVersion)/sobjects/\(object.name)/\(record.id)"),
        ]
        let chosen: [SObjectField]
        if let fields {
            chosen = try fields.map { name throws(SalesforceAPIError) in
                guard let field = object.field(named: name) else {
                    throw SalesforceAPIError(status: 400, [.invalidField(name, object: object.name)])
                }
                return field
            }
        } else {
            chosen = object.fields
        }
        for field in chosen { output[field.name] = record[field.name] }
        return .object(output)
    }

    // MARK: - Queries

    /// The first page of a query, with a `nextRecordsUrl` when more pages follow.
    /// With `includingDeleted` it is the QueryAll resource: records in the Recycle Bin are returned too.
    func query(_ soql: String, apiVersion: String, pageSize requested: Int?, includingDeleted: Bool = false)
        throws(SalesforceAPIError) -> WireJSON
    {
        let parsed: SOQLQuery
        do {
            parsed = try SOQLParser.parse(soql)
        } catch {
            throw SalesforceAPIError(status: 400, [SalesforceError(code: error.code, message: error.message)])
        }
        let size = min(max(requested ?? pageSize, 200), pageSize)
        let purgedBefore = clock.now().adding(seconds: -Double(Self.deleteLogWindowDays) * 86_400)
        return try state.withLock { state throws(SalesforceAPIError) in
            // What has been in the Recycle Bin for 15 days is gone before anyone can query it.
            if includingDeleted { state.store.emptyRecycleBin(deletedBefore: purgedBefore) }
            let result: (total: Int, records: [WireJSON])
            do throws(SOQLError) {
                result = try SOQLEvaluator(
                    store: state.store, apiVersion: apiVersion, includingDeleted: includingDeleted
                ).run(parsed)
            } catch {
                throw SalesforceAPIError(status: 400, [SalesforceError(code: error.code, message: error.message)])
            }
            return Self.page(
                &state, records: result.records, total: result.total, offset: 0, size: size, apiVersion: apiVersion)
        }
    }

    /// The page after `locator` (`01g…-2000`).
    func queryMore(_ locator: String, apiVersion: String) throws(SalesforceAPIError) -> WireJSON {
        let parts = locator.split(separator: "-")
        guard parts.count == 2, let offset = Int(parts[1]), offset >= 0 else {
            throw SalesforceAPIError(
                status: 400, [SalesforceError(code: "INVALID_QUERY_LOCATOR", message: "invalid query locator")])
        }
        return try state.withLock { state throws(SalesforceAPIError) in
            guard let cursor = state.cursors[String(parts[0])], offset < cursor.records.count else {
                throw SalesforceAPIError(
                    status: 400, [SalesforceError(code: "INVALID_QUERY_LOCATOR", message: "invalid query locator")])
            }
            let size = min(cursor.size, cursor.records.count - offset)
            var page = WireObject([
                ("totalSize", .int(cursor.total)), ("done", .bool(offset + size >= cursor.records.count)),
            ])
            if offset + size < cursor.records.count {
                page["nextRecordsUrl"] = .string("/services/data/\(apiVersion)/query/\(parts[0])-\(offset + size)")
            }
            page["records"] = .array(Array(cursor.records[offset..<(offset + size)]))
            return .object(page)
        }
    }

    private static func page(
        _ state: inout State, records: [WireJSON], total: Int, offset: Int, size: Int, apiVersion: String
    ) -> WireJSON {
        var page = WireObject([("totalSize", .int(total)), ("done", .bool(records.count <= size))])
        if records.count > size {
            state.cursorSequence += 1
            let locator = String(SalesforceID.make(prefix: "01g", sequence: state.cursorSequence).prefix(15))
            state.cursors[locator] = QueryCursor(records: records, total: total, size: size)
            state.cursorOrder.append(locator)
            if state.cursorOrder.count > 50 { state.cursors[state.cursorOrder.removeFirst()] = nil }
            page["nextRecordsUrl"] = .string("/services/data/\(apiVersion)/query/\(locator)-\(size)")
        }
        page["records"] = .array(Array(records.prefix(size)))
        return .object(page)
    }

    /// A snapshot of the store, for the mutation driver and inspection.
    var store: SalesforceStore { state.withLock { $0.store } }

    var recordCounts: [String: Int] { state.withLock { $0.store.recordCounts } }
}

extension SalesforceOrg {
    /// Empties the org and its API usage; sessions stay, and the re-created users keep their ids.
    func reset() {
        state.withLock { state in
            let users = state.store.integrationUsers
            state.store = SalesforceStore(schema: schema)
            state.store.integrationUsers = users
            state.userIDs = [:]
            state.cursors = [:]
            state.cursorOrder = []
            state.apiUsage = 0
        }
    }
}

extension SalesforceOrg {
    /// Inserts a seed record as it stands, unvalidated (seeded bad records must exist), created by `actor` at `instant`.
    /// A person account (a `RecordTypeId` naming a person account record type by its developer name)
    /// gets its person contact as through the API.
    func seedInsert(_ objectName: String, values: [String: WireJSON], actor: String, at instant: SandboxInstant) -> String {
        state.withLock { state in
            var values = values
            let recordType = values["RecordTypeId"]?.stringValue.flatMap { state.store.recordTypeID(developerName: $0) }
            if let recordType { values["RecordTypeId"] = .string(recordType) }
            let id = state.store.insert(schema.object(named: objectName)!, values: values, actor: actor, at: instant).id
            if objectName == "Account" {
                let person = recordType.flatMap { state.store.records[$0] }?["IsPersonType"] == .bool(true)
                state.store.settlePersonAccount(id, person: person, created: true, actor: actor, at: instant)
            }
            return id
        }
    }
}
