/// Bulk API 2.0 ingest (`/services/data/vXX.X/jobs/ingest`), as Salesforce documents it in the
/// Bulk API 2.0 and Bulk API Developer Guide
/// (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0.htm):
/// create a job, upload its CSV once (`PUT …/batches`, at most 150 MB once base64 encoded), close it
/// (`PATCH {"state":"UploadComplete"}`) or abort it, poll its info, then read
/// `successfulResults` (`sf__Id`, `sf__Created` and the row's columns), `failedResults`
/// (`sf__Id`, `sf__Error` and the row's columns) and `unprocessedrecords`.
///
/// Operations `insert`, `upsert` (by `externalIdFieldName`) and `update` (by each row's `Id`:
/// "The CSV file must include an Id column that contains the ID for each" record, "Prepare CSV
/// Files"). Each row is written exactly as the REST create, an sObject Collections upsert or an
/// sObject Collections update writes a record (the same validation, the same errors), so a row
/// refused here is refused there with the same code. A
/// closed job is processed asynchronously as far as a client can tell: the first poll after
/// `UploadComplete` finds it `InProgress`, a later one `JobComplete`.
extension SalesforceOrg {
    /// The upload limit: "CSV data that does not in total exceed 150 MB of base64 encoded content"
    /// (Upload Job Data), that is 112.5 MB of raw bytes.
    static let bulkUploadLimit = 150 * 1_000_000 * 3 / 4

    /// The records processed in one transaction: "each chunk of 200 records" (Bulk API Developer
    /// Guide, "Limits": Apex transactions; chunk size 200 from API version 21.0).
    static let bulkChunkSize = 200

    /// Create a Job: `{"object","externalIdFieldName","contentType","operation","lineEnding","columnDelimiter"}`;
    /// `externalIdFieldName` is read for an upsert only.
    func createBulkJob(_ body: WireJSON, actor: String, apiVersion: String) throws(SalesforceAPIError) -> WireJSON {
        func invalid(_ message: String) -> SalesforceAPIError {
            SalesforceAPIError(status: 400, [SalesforceError(code: "INVALIDJOB", message: "InvalidJob : \(message)")])
        }
        guard let objectName = body["object"]?.stringValue else { throw invalid("Object is required") }
        guard let object = schema.object(named: objectName) else { throw invalid("Invalid objectType specified: \(objectName)") }
        let operation = body["operation"]?.stringValue ?? ""
        // The sandbox models the ingest operations Stagelink and common loaders use.
        guard ["upsert", "insert", "update"].contains(operation) else {
            throw invalid("Operation \(operation.isEmpty ? "(none)" : operation) is not supported by the sandbox: use insert, update or upsert")
        }
        var externalIDField: String?
        if operation == "upsert" {
            guard let name = body["externalIdFieldName"]?.stringValue, !name.isEmpty else {
                throw invalid("External ID was blank for \(object.name). An External ID must be specified for upsert.")
            }
            externalIDField = try self.externalIDField(name, of: object).name
        }
        if let contentType = body["contentType"]?.stringValue, contentType != "CSV" {
            throw invalid("Content type \(contentType) is not supported: CSV is the only one")
        }
        let lineEnding = BulkCSV.LineEnding(rawValue: body["lineEnding"]?.stringValue ?? "LF")
        guard let lineEnding else { throw invalid("lineEnding must be LF or CRLF") }
        let delimiter = body["columnDelimiter"]?.stringValue ?? "COMMA"
        guard BulkCSV.delimiters[delimiter] != nil else {
            throw invalid("columnDelimiter must be one of \(BulkCSV.delimiters.keys.sorted().joined(separator: ", "))")
        }
        let now = clock.now()
        let job = state.withLock { state -> BulkIngestJob in
            state.bulkJobSequence += 1
            let job = BulkIngestJob(
                id: SalesforceID.make(prefix: "750", sequence: state.bulkJobSequence), object: object.name, operation: operation,
                externalIDField: externalIDField, lineEnding: lineEnding, columnDelimiter: delimiter, createdByID: actor, createdDate: now,
                systemModstamp: now, apiVersion: apiVersion)
            state.bulkJobs[job.id] = job
            return job
        }
        return job.info(detailed: false)
    }

    /// Upload Job Data: the job's one CSV file, while it is `Open`.
    func uploadBulkJob(_ id: String, data: [UInt8]) throws(SalesforceAPIError) {
        try withBulkJob(id) { job throws(SalesforceAPIError) in
            guard job.state == .open else {
                throw SalesforceAPIError(
                    status: 409, [SalesforceError(code: "INVALIDJOBSTATE", message: "Job \(id) is not Open: it is \(job.state.rawValue)")])
            }
            guard job.upload == nil else {
                throw SalesforceAPIError(
                    status: 400,
                    [
                        SalesforceError(
                            code: "BULK_API_ERROR",
                            message: "Found multiple contents for job: <\(id)>, please 'Close' / 'Abort' / 'Delete' the current Job then "
                                + "create a new Job and make sure you only do 'PUT' once on a given Job.")
                    ])
            }
            job.upload = data
        }
    }

    /// Close or Abort a Job: `{"state":"UploadComplete"}` or `{"state":"Aborted"}`.
    func setBulkJobState(_ id: String, body: WireJSON) throws(SalesforceAPIError) -> WireJSON {
        let requested = body["state"]?.stringValue.flatMap(BulkIngestJob.State.init(rawValue:))
        return try withBulkJob(id) { job throws(SalesforceAPIError) -> WireJSON in
            switch (requested, job.state) {
            case (.uploadComplete?, .open):
                // A job closed without data fails, as Salesforce fails it.
                if job.upload == nil {
                    job.state = .failed
                    job.errorMessage = "InvalidBatch : No data was uploaded for this job"
                } else {
                    job.state = .uploadComplete
                }
            case (.aborted?, .open), (.aborted?, .uploadComplete):
                job.state = .aborted
                job.unprocessed = Self.rows(of: job).rows
            default:
                throw SalesforceAPIError(
                    status: 400,
                    [
                        SalesforceError(
                            code: "INVALIDJOBSTATE",
                            message: "Invalid job state change: \(job.state.rawValue) to \(body["state"]?.stringValue ?? "(none)")")
                    ])
            }
            job.systemModstamp = clock.now()
            return job.info(detailed: false)
        }
    }

    /// Get Job Info. A closed job is processed at the first poll, which reports it `InProgress`.
    ///
    /// The poll that processes it claims it first (`InProgress`, in the same lock that reads it):
    /// a poll that comes while it is processed (a client asking again after its own timeout) finds
    /// it `InProgress` and answers at once, as Salesforce answers while it processes a job; a job
    /// is never processed twice. It is `JobComplete` (or `Failed`) from the first poll after its
    /// processing ended. Jobs are processed one at a time (``bulkLane``): a poll that claims one
    /// while another is processed waits its turn, holding no thread.
    func bulkJobInfo(_ id: String, actor: String) async throws(SalesforceAPIError) -> WireJSON {
        let (job, claimed) = try withBulkJob(id) { job throws(SalesforceAPIError) -> (BulkIngestJob, Bool) in
            switch job.state {
            case .inProgress where job.processed:
                job.state = job.errorMessage == nil ? .jobComplete : .failed
                return (job, false)
            case .uploadComplete:
                job.state = .inProgress
                job.systemModstamp = clock.now()
                return (job, true)
            default:
                return (job, false)
            }
        }
        guard claimed else { return job.info(detailed: true) }
        var processed = await bulkLane.run { self.process(job, actor: actor) }
        processed.processed = true
        processed.systemModstamp = clock.now()
        state.withLock { $0.bulkJobs[id] = processed }
        return job.info(detailed: true)
    }

    /// Get All Jobs: one page, newest last.
    func bulkJobs() -> WireJSON {
        let jobs = state.withLock { Array($0.bulkJobs.values) }.sorted { $0.id < $1.id }
        return ["done": true, "records": .array(jobs.map { $0.info(detailed: false) }), "nextRecordsUrl": nil]
    }

    /// Delete a Job: only once it is closed, aborted or finished.
    func deleteBulkJob(_ id: String) throws(SalesforceAPIError) {
        try withBulkJob(id) { job throws(SalesforceAPIError) in
            guard job.state != .open else {
                throw SalesforceAPIError(
                    status: 400, [SalesforceError(code: "INVALIDJOBSTATE", message: "Job \(id) is Open: close or abort it before deleting it")])
            }
        }
        _ = state.withLock { $0.bulkJobs.removeValue(forKey: id) }
    }

    /// The results files, as CSV.
    enum BulkResults: String, Sendable {
        case successful = "successfulResults"
        case failed = "failedResults"
        case unprocessed = "unprocessedrecords"
    }

    func bulkResults(_ id: String, _ kind: BulkResults) throws(SalesforceAPIError) -> [UInt8] {
        let job = try withBulkJob(id) { job throws(SalesforceAPIError) in job }
        let header = job.header.isEmpty ? Self.rows(of: job).header : job.header
        switch kind {
        case .successful:
            return BulkCSV.write(header: ["sf__Id", "sf__Created"] + header, rows: job.successful, delimiter: job.delimiter, lineEnding: job.lineEnding)
        case .failed:
            return BulkCSV.write(header: ["sf__Id", "sf__Error"] + header, rows: job.failed, delimiter: job.delimiter, lineEnding: job.lineEnding)
        case .unprocessed:
            return BulkCSV.write(header: header, rows: job.unprocessed, delimiter: job.delimiter, lineEnding: job.lineEnding)
        }
    }

    private func withBulkJob<Value>(_ id: String, _ body: (inout BulkIngestJob) throws(SalesforceAPIError) -> Value) throws(SalesforceAPIError) -> Value {
        try state.withLock { state throws(SalesforceAPIError) -> Value in
            guard var job = state.bulkJobs[id] else {
                throw SalesforceAPIError(
                    status: 404, [SalesforceError(code: "NOT_FOUND", message: "The requested resource does not exist")])
            }
            let value = try body(&job)
            state.bulkJobs[id] = job
            return value
        }
    }

    /// The uploaded file's rows, or none when it cannot be read.
    private static func rows(of job: BulkIngestJob) -> (header: [String], rows: [[String]]) {
        guard let upload = job.upload, let table = try? BulkCSV.parse(upload, delimiter: job.delimiter, lineEnding: job.lineEnding) else {
            return ([], [])
        }
        return (table.header, table.rows)
    }

    /// Reads the upload and writes each row; a file that cannot be read fails the job whole, its
    /// rows unprocessed.
    private func process(_ job: BulkIngestJob, actor: String) -> BulkIngestJob {
        var job = job
        let table: BulkCSV
        do {
            table = try BulkCSV.parse(job.upload ?? [], delimiter: job.delimiter, lineEnding: job.lineEnding)
        } catch {
            job.errorMessage = error.message
            return job
        }
        job.header = table.header
        guard let object = schema.object(named: job.object) else {
            job.errorMessage = "InvalidBatch : Invalid objectType specified: \(job.object)"
            job.unprocessed = table.rows
            return job
        }
        // Every column names a field of the object or `Relationship.IndexedField` of a reference
        // ("Relationship Fields in a Header Row (2.0)"); any other column fails the job.
        for column in table.header {
            let parts = column.split(separator: ".", maxSplits: 1).map(String.init)
            let known = parts.count == 2 ? object.referenceField(relationship: parts[0]) != nil : object.field(named: column) != nil
            if !known {
                job.errorMessage = "InvalidBatch : Field name not found : \(column)"
                job.unprocessed = table.rows
                return job
            }
        }
        var bodies: [WireObject] = []
        var refused: [Int: SalesforceError] = [:]
        for (index, row) in table.rows.enumerated() {
            guard row.count == table.header.count else {
                refused[index] = SalesforceError(
                    code: "INVALID_FIELD", message: "The row has \(row.count) values for \(table.header.count) columns")
                bodies.append(WireObject())
                continue
            }
            bodies.append(Self.body(header: table.header, values: row, object: object))
        }
        let outcomes: [RecordWriteOutcome]
        switch job.operation {
        case "upsert":
            let field = job.externalIDField ?? ""
            // An external id twice in the job is refused for each of its rows, as a collection refuses it.
            var seen: [String: [Int]] = [:]
            for index in bodies.indices where refused[index] == nil {
                if let value = SalesforceStore.member(bodies[index], named: field)?.value.stringValue { seen[value, default: []].append(index) }
            }
            for (value, indices) in seen where indices.count > 1 {
                for index in indices {
                    refused[index] = SalesforceError(code: "DUPLICATE_EXTERNAL_ID", message: "Duplicate external id specified: \(value)", fields: [field])
                }
            }
            outcomes = inChunks(bodies, refused: refused) { chunk in
                (try? collectionsUpsert(
                    object.name, field: field, records: chunk, allOrNone: false, lockedRows: [], actor: actor, endpoint: .salesforceBulkIngest)) ?? []
            }
        case "update":
            for index in bodies.indices where refused[index] == nil {
                if let error = updateIDError(bodies[index], object: object) { refused[index] = error }
            }
            outcomes = inChunks(bodies, refused: refused) { chunk in
                collectionsUpdate(
                    records: chunk.map { body in
                        var typed = body
                        typed["attributes"] = ["type": .string(object.name)]
                        return typed
                    }, allOrNone: false, lockedRows: [], actor: actor, endpoint: .salesforceBulkIngest)
            }
        default:
            outcomes = bodies.indices.map { index in
                if let error = refused[index] { return .failed([error]) }
                return insertRow(bodies[index], object: object, actor: actor)
            }
        }
        for (index, (row, outcome)) in zip(table.rows, outcomes).enumerated() {
            if outcome.success, let id = outcome.id {
                job.successful.append([id, outcome.created ? "true" : "false"] + row)
            } else {
                // `sf__Id`: "ID of the record that had an error during processing" ("Get Job
                // Failed Record Results"): an update's row names it, when it is an id at all.
                let id = job.operation == "update" ? SalesforceStore.member(bodies[index], named: "Id")?.value.stringValue.flatMap(SalesforceID.normalize) : nil
                job.failed.append([id ?? "", Self.errorText(outcome.errors)] + row)
            }
        }
        return job
    }

    /// The outcome of each row, the rows not refused already written through `write` a chunk at a
    /// time: "When DML is executed with Bulk API, each chunk of 200 records is processed as a
    /// separate transaction" (Bulk API Developer Guide, "Limits", Apex transactions): the org is
    /// locked for one chunk at a time, and other requests are answered between chunks.
    private func inChunks(
        _ bodies: [WireObject], refused: [Int: SalesforceError], write: ([WireObject]) -> [RecordWriteOutcome]
    ) -> [RecordWriteOutcome] {
        let valid = bodies.indices.filter { refused[$0] == nil }
        var byIndex: [Int: RecordWriteOutcome] = [:]
        for start in stride(from: 0, to: valid.count, by: Self.bulkChunkSize) {
            let chunk = Array(valid[start..<min(valid.count, start + Self.bulkChunkSize)])
            let written = write(chunk.map { bodies[$0] })
            for (position, index) in chunk.enumerated() where position < written.count { byIndex[index] = written[position] }
        }
        return bodies.indices.map { byIndex[$0] ?? .failed([refused[$0] ?? SalesforceError(code: "UNKNOWN_EXCEPTION", message: "not written")]) }
    }

    /// Why an `update` row's `Id` names no record of the job's object, as Salesforce says it for
    /// an update (Knowledge Article 000387915, "Errors due to invalid IDs during Data Loader import
    /// and update"): a blank one is `MISSING_ARGUMENT` "Id not specified in an update call"; one
    /// that is not 15 or 18 letters and digits, or is another object's id, `MALFORMED_ID` "Contact
    /// ID: id value of incorrect type: …"; one of the object's shape that no record ever had,
    /// `INVALID_CROSS_REFERENCE_KEY` "invalid cross reference id". A record in the Recycle Bin
    /// fails in the write itself with `ENTITY_IS_DELETED`, as a collections update fails it.
    private func updateIDError(_ body: WireObject, object: SObjectDescription) -> SalesforceError? {
        guard let text = SalesforceStore.member(body, named: "Id")?.value.stringValue, !text.isEmpty else {
            return SalesforceError(code: "MISSING_ARGUMENT", message: "Id not specified in an update call", fields: ["Id"])
        }
        guard let id = SalesforceID.normalize(text), id.hasPrefix(object.keyPrefix) else {
            return SalesforceError(code: "MALFORMED_ID", message: "\(object.label) ID: id value of incorrect type: \(text)", fields: ["Id"])
        }
        guard state.withLock({ $0.store.records[id] != nil }) else {
            return SalesforceError(code: "INVALID_CROSS_REFERENCE_KEY", message: "invalid cross reference id", fields: ["Id"])
        }
        return nil
    }

    /// An `insert` job's row, through the REST create.
    private func insertRow(_ body: WireObject, object: SObjectDescription, actor: String) -> RecordWriteOutcome {
        do {
            let id = try create(object.name, body: body, actor: actor, endpoint: .salesforceBulkIngest)
            return RecordWriteOutcome(id: id, created: true, errors: [], changes: WireObject())
        } catch {
            var errors: [SalesforceError] = []
            for item in error.body.arrayValue ?? [] {
                guard let code = item["errorCode"]?.stringValue else { continue }
                let fields: [String] = (item["fields"]?.arrayValue ?? []).compactMap { $0.stringValue }
                errors.append(SalesforceError(code: code, message: item["message"]?.stringValue ?? "", fields: fields))
            }
            return .failed(errors)
        }
    }

    /// `sf__Error` as Salesforce writes it: `STATUS_CODE:message:fields --` for each error.
    static func errorText(_ errors: [SalesforceError]) -> String {
        errors.map { "\($0.code):\($0.message):\($0.fields.joined(separator: ",")) --" }.joined(separator: " ")
    }

    /// One row as the record body a REST write takes: an empty value is left out (ignored, as for
    /// an update), `#N/A` is null, `Relationship.Field` a reference by that field, and values typed
    /// by the field ("Valid CSV Record Rows"; "Valid Date Format in Records (2.0)": a date may carry
    /// a `Z` or an offset after `yyyy-MM-dd`, which a date field drops).
    static func body(header: [String], values: [String], object: SObjectDescription) -> WireObject {
        var body = WireObject()
        for (column, text) in zip(header, values) where !text.isEmpty {
            let parts = column.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                body[parts[0]] = text == "#N/A" ? .null : .object(WireObject([(parts[1], .string(text))]))
                continue
            }
            guard text != "#N/A" else {
                body[column] = .null
                continue
            }
            body[column] = typed(text, for: object.field(named: column))
        }
        return body
    }

    private static func typed(_ text: String, for field: SObjectField?) -> WireJSON {
        switch field?.type {
        case .boolean?:
            switch text.lowercased() {
            case "true", "1": return .bool(true)
            case "false", "0": return .bool(false)
            default: return .string(text)
            }
        case .double?:
            return Double(text).map(WireJSON.double) ?? .string(text)
        case .date? where text.count > 10 && CivilDate(text.prefix(10)) != nil:
            let zone = text.dropFirst(10)
            let isZone = zone == "Z" || zone.wholeMatch(of: /[+-]\d\d:?\d\d/) != nil
            return .string(isZone ? String(text.prefix(10)) : text)
        default:
            return .string(text)
        }
    }
}
