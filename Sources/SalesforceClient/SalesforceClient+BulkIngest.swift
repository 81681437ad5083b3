import Foundation
import StagelinkEngine
import StagelinkHTTP

/// Upserts by external id and updates by id of large batches through Salesforce Bulk API 2.0
/// ingest (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0.htm:
/// "Bulk API 2.0 supports insert, update, upsert, delete").
///
/// One job per batch (more if its CSV would pass 100 MB, the size Salesforce advises so that the
/// base64 encoded upload stays within 150 MB): create it (`POST /jobs/ingest`, operation `upsert`
/// by the external-id field, or `update`), upload its CSV once (`PUT …/batches`), close it
/// (`PATCH` `UploadComplete`), poll it until `JobComplete`, `Failed` or `Aborted`, then read
/// `successfulResults`, `failedResults` and `unprocessedrecords` as far as the job's counts say
/// they hold anything. About six calls for up to 10,000 rows where collections take fifty.
///
/// Results are matched to records by the key column of each result line (the external id of an
/// upsert, the `Id` of an update), never by position: Salesforce does not keep the upload's
/// order in its results files ("Get Job Failed Record Results": "The order of records in the
/// response is not guaranteed to match the ordering of records in the original job data"). A
/// failed line's `sf__Error` (`STATUS_CODE:message:fields --`) becomes the record's error with
/// that code; a record without any result line (the job failed or was aborted first) fails with
/// ``ErrorCode/bulkUnprocessed``, which is transient.
///
/// A crash anywhere in a job loses nothing and duplicates nothing: the rows stay claimed, not
/// linked, and the next cycle sends them again in a new job; an upsert by external id or an
/// update by id that already happened happens again to the same records.
extension SalesforceClient {
    public var bulkThreshold: Int? { configuration.bulkThreshold > 0 ? configuration.bulkThreshold : nil }

    public var bulkBatchSize: Int { Self.bulkBatchSize }

    /// Rows per job the linker hands over: large enough that a job's calls are few, small enough
    /// that one batch of staged rows sits comfortably in memory.
    public static let bulkBatchSize = 10_000

    /// The most CSV bytes one job uploads: Salesforce advises 100 MB so that the base64 encoded
    /// upload stays within its 150 MB limit.
    static let bulkUploadBytes = 100_000_000

    public func bulkUpsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        try await bulkIngest(object: object, operation: .upsert(externalIDField: externalIDField), records: records)
    }

    /// Updates records by their Salesforce ids in Bulk API 2.0 `update` jobs: the CSV's first
    /// column is `Id` ("Prepare CSV Files": for an update "The CSV file must include an Id column
    /// that contains the ID for each" record; https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_prepare_csv.htm),
    /// the job has no `externalIdFieldName`, and each result line is matched back to its record by
    /// that `Id` column.
    ///
    /// An id that is not a Salesforce id (15 or 18 letters and digits) is never sent: its record
    /// fails alone with `INVALID_IDENTIFIER`, so that nothing in it can break the CSV or name
    /// another record. Results come back in the order of `records`.
    public func bulkUpdate(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        var results = [RecordResult?](repeating: nil, count: records.count)
        var sent: [Int] = []
        var rows: [TargetRecord] = []
        for (index, record) in records.enumerated() {
            do {
                let id = try SalesforceID.validated(record.id, field: "Id", of: "the \(object) to update")
                sent.append(index)
                rows.append(TargetRecord(fields: [MappedField(name: "Id", value: .text(id.description))] + record.fields.filter { $0.name != "Id" }))
            } catch {
                results[index] = .failure(error)
            }
        }
        if !rows.isEmpty {
            for (index, result) in zip(sent, try await bulkIngest(object: object, operation: .update, records: rows)) { results[index] = result }
        }
        return results.map { $0 ?? .failure(LinkError(.malformedResponse, message: "no result was returned for this record")) }
    }

    /// What a Bulk API 2.0 ingest job does to its rows.
    enum BulkOperation: Sendable, Equatable {
        /// Creates or updates each record by the value of this External ID field.
        case upsert(externalIDField: String)
        /// Updates each record by its Salesforce id.
        case update

        /// The column each row is known by, first in the CSV: every result line carries it.
        var keyColumn: String {
            switch self {
            case .upsert(let field): field
            case .update: "Id"
            }
        }

        /// Create a Job's body: an upsert names its External ID field, an update none.
        func createBody(object: String) -> [UInt8] {
            var job: JSONObject = ["object": .string(object), "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"]
            switch self {
            case .upsert(let field):
                job["operation"] = "upsert"
                job["externalIdFieldName"] = .string(field)
            case .update:
                job["operation"] = "update"
            }
            return JSONWriter.compact(.object(job))
        }
    }

    /// The rows in jobs of at most ``bulkUploadBytes`` of CSV each, every row keyed by the
    /// operation's column (first in the header); results in the order of `records`.
    private func bulkIngest(object: String, operation: BulkOperation, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        let columns = BulkCSV.columns(of: records, first: operation.keyColumn)
        var results: [RecordResult] = []
        results.reserveCapacity(records.count)
        var start = 0
        while start < records.count {
            var csv = BulkCSV.line(columns)
            var end = start
            while end < records.count {
                let line = BulkCSV.line(BulkCSV.values(of: records[end], columns: columns))
                if end > start && csv.count + line.count > Self.bulkUploadBytes { break }
                csv += line
                end += 1
            }
            let part = Array(records[start..<end])
            results += try await bulkJob(object: object, operation: operation, records: part, csv: csv)
            start = end
        }
        return results
    }

    /// One job, from creation to results. A job given up on an error (a poll that kept failing)
    /// may still run in the org: the next job waits for it first.
    ///
    /// A job that failed before it was closed (its creation or its upload timed out, or answered
    /// 5xx after the retries) wrote nothing: Salesforce processes a job only once it is
    /// `UploadComplete`, and one left `Open` is aborted by the next job's settling. Its rows are
    /// sent again at once in a new job, at most ``bulkJobAttempts`` jobs in all; a job that
    /// failed after it was closed may have written, and its rows fail (transiently) instead.
    private func bulkJob(object: String, operation: BulkOperation, records: [TargetRecord], csv: [UInt8]) async throws(RemoteCallError) -> [RecordResult] {
        var attempt = 1
        while true {
            if bulkJobsMayRun.withLock({ $0 }) {
                try await settleEarlierJobs()
                bulkJobsMayRun.withLock { $0 = false }
            }
            var closing = false
            do {
                return try await runBulkJob(object: object, operation: operation, records: records, csv: csv, closing: &closing)
            } catch {
                bulkJobsMayRun.withLock { $0 = true }
                guard !closing, error.kind == .transient, attempt < Self.bulkJobAttempts else { throw error }
                logger.info(
                    "a Bulk API job failed before it was closed; its rows go again in a new job",
                    metadata: ["attempt": "\(attempt)", "error": "\(error.error.code)"])
                attempt += 1
            }
        }
    }

    /// The jobs one batch of rows may take when they fail before they are closed.
    static let bulkJobAttempts = 3

    /// Before sending rows again, the jobs this integration user left behind (a crashed process's,
    /// or one given up) are brought to an end: a closed one still queued or running is waited for,
    /// an open one is aborted. Two jobs upserting the same new external id at the same time could
    /// each create a record; one after the other, the second updates what the first created.
    ///
    /// An open job is aborted only when none of this client's own creations was unanswered while
    /// the list was read: one that was may be listed `Open` before its answer names it (another
    /// batch's job, created at once), and aborting it would fail that batch. An open job left then
    /// is settled by a later settling; it writes nothing while open.
    private func settleEarlierJobs() async throws(RemoteCallError) {
        let userID = try await integrationUserID()
        let creationsBefore = bulkJobCreations.withLock { $0 }
        let jobs = try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.get, url: try dataURL(session, ["jobs", "ingest"]), headers: Self.jsonHeaders, retry: .idempotent)
        } decode: { (response) throws(RemoteCallError) -> [JSONValue] in
            guard let records = (try? JSONValue(parsing: response.body))?["records"]?.arrayValue else {
                throw SalesforceErrors.malformed("the Bulk API job list has no records")
            }
            return records
        }
        // The jobs this client is running now are not left behind: the linker keeps several in
        // flight (`salesforce.concurrency`), each with rows of other records.
        let running = bulkJobsRunning.withLock { $0 }
        let creationsAfter = bulkJobCreations.withLock { $0 }
        let mayAbortOpenJobs = creationsBefore.unanswered == 0 && creationsAfter.unanswered == 0 && creationsBefore.sent == creationsAfter.sent
        for job in jobs where job["createdById"]?.stringValue == userID {
            guard let id = job["id"]?.stringValue, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }), !running.contains(id) else { continue }
            switch job["state"]?.stringValue {
            case "Open":
                guard mayAbortOpenJobs else {
                    logger.info("an open Bulk API job of this integration user is left for a later settling: it may be one this client is creating", metadata: ["job": "\(id)"])
                    continue
                }
                let abort = JSONWriter.compact(["state": "Aborted"])
                try await call { (session) throws(RemoteCallError) -> HTTPRequest in
                    HTTPRequest(.patch, url: try dataURL(session, ["jobs", "ingest", id]), headers: Self.jsonHeaders, body: abort, retry: .idempotent)
                } decode: { _ in () }
            case "UploadComplete", "InProgress":
                logger.info("waiting for an earlier Bulk API job of this integration user to end before sending its rows again", metadata: ["job": "\(id)"])
                _ = try await pollBulkJob(["jobs", "ingest", id])
            default:
                continue
            }
        }
    }

    /// Runs one job; `closing` turns true once the job may have been closed (and so processed).
    private func runBulkJob(
        object: String, operation: BulkOperation, records: [TargetRecord], csv: [UInt8], closing: inout Bool
    ) async throws(RemoteCallError) -> [RecordResult] {
        let create = operation.createBody(object: object)
        bulkJobCreations.withLock {
            $0.sent += 1
            $0.unanswered += 1
        }
        let jobID: String
        do {
            jobID = try await call { (session) throws(RemoteCallError) -> HTTPRequest in
                HTTPRequest(.post, url: try dataURL(session, ["jobs", "ingest"]), headers: Self.jsonHeaders, body: create, retry: .nonIdempotent)
            } decode: { (response) throws(RemoteCallError) -> String in
                guard let id = (try? JSONValue(parsing: response.body))?["id"]?.stringValue,
                    id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
                else { throw SalesforceErrors.malformed("the Bulk API job answer has no job id") }
                return id
            }
        } catch {
            // Its outcome unknown (a timeout, a 500): a job it created is left open, and settled later.
            bulkJobCreations.withLock { $0.unanswered -= 1 }
            throw error
        }
        bulkJobsRunning.withLock { _ = $0.insert(jobID) }
        bulkJobCreations.withLock { $0.unanswered -= 1 }
        defer { bulkJobsRunning.withLock { _ = $0.remove(jobID) } }
        let job = ["jobs", "ingest", jobID]
        // One upload per job: Salesforce refuses a second PUT, so it is never repeated.
        try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(
                .put, url: try dataURL(session, job + ["batches"]), headers: ["Content-Type": "text/csv", "Accept": "application/json"], body: csv,
                retry: .nonIdempotent, recordCount: records.count)
        } decode: { _ in () }
        CrashPoints.reach(.bulkIngestUploaded)
        let close = JSONWriter.compact(["state": "UploadComplete"])
        closing = true
        try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.patch, url: try dataURL(session, job), headers: Self.jsonHeaders, body: close, retry: .idempotent)
        } decode: { _ in () }
        let info = try await pollBulkJob(job)
        // Counts that cannot be read make every results file be read.
        let processed = Self.count(info["numberRecordsProcessed"]) ?? records.count
        let failed = Self.count(info["numberRecordsFailed"]) ?? records.count
        var lines = BulkResultLines(keyColumn: operation.keyColumn, records: records)
        if processed > failed { try lines.read(try await bulkResults(job, "successfulResults"), kind: .successful) }
        if failed > 0 { try lines.read(try await bulkResults(job, "failedResults"), kind: .failed) }
        let state = info["state"]?.stringValue ?? ""
        if processed < records.count && state != "JobComplete" {
            try lines.read(try await bulkResults(job, "unprocessedrecords"), kind: .unprocessed)
        }
        let why = info["errorMessage"]?.stringValue.map { "the Bulk API job \(jobID) ended \(state): \($0)" }
            ?? "the Bulk API job \(jobID) ended \(state) before processing this record"
        return lines.results(unprocessed: LinkError(.bulkUnprocessed, message: why))
    }

    /// Polls until the job is `JobComplete`, `Failed` or `Aborted`, waiting longer each time.
    private func pollBulkJob(_ job: [String]) async throws(RemoteCallError) -> JSONValue {
        var wait = configuration.bulkPollInterval
        while true {
            CrashPoints.reach(.bulkIngestPolling)
            let info = try await call { (session) throws(RemoteCallError) -> HTTPRequest in
                HTTPRequest(.get, url: try dataURL(session, job), headers: Self.jsonHeaders, retry: .idempotent)
            } decode: { (response) throws(RemoteCallError) -> JSONValue in
                guard let info = try? JSONValue(parsing: response.body), info["state"]?.stringValue != nil else {
                    throw SalesforceErrors.malformed("the Bulk API job info has no state")
                }
                return info
            }
            if ["JobComplete", "Failed", "Aborted"].contains(info["state"]?.stringValue ?? "") { return info }
            do {
                try await Task.sleep(for: wait)
            } catch {
                throw RemoteCallError(.transient, LinkError(.cancelled, message: "stopped while waiting for Bulk API job \(job.last ?? "")"))
            }
            wait = min(wait * 2, .seconds(5))
        }
    }

    /// A count of the job info, nil when absent or unreadable.
    private static func count(_ value: JSONValue?) -> Int? {
        guard case .number(let lexeme)? = value else { return nil }
        return Int(lexeme)
    }

    private func bulkResults(_ job: [String], _ file: String) async throws(RemoteCallError) -> [UInt8] {
        try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.get, url: try dataURL(session, job + [file]), headers: ["Accept": "text/csv"], retry: .idempotent)
        } decode: { $0.body }
    }
}

/// The results files of one job, matched back to its records by the key column (the external id
/// of an upsert, the `Id` of an update) as the upload wrote it.
struct BulkResultLines {
    enum Kind { case successful, failed, unprocessed }

    let keyColumn: String
    /// Indices of the records with each key, in order; a value sent twice is matched to its
    /// records in turn.
    private var waiting: [String: [Int]] = [:]
    private var results: [RecordResult?]

    init(keyColumn: String, records: [TargetRecord]) {
        self.keyColumn = keyColumn
        results = Array(repeating: nil, count: records.count)
        for (index, record) in records.enumerated() {
            waiting[BulkCSV.values(of: record, columns: [keyColumn])[0], default: []].append(index)
        }
    }

    /// Reads one results file; a line whose key matches no record sent is an answer that cannot
    /// be trusted, and fails the call.
    mutating func read(_ bytes: [UInt8], kind: Kind) throws(RemoteCallError) {
        let table: [[String]]
        do {
            table = try BulkCSV.parse(bytes)
        } catch {
            throw SalesforceErrors.malformed("a Bulk API results file is not valid CSV: \(error.message)")
        }
        guard let header = table.first else { return }
        guard let keyIndex = header.firstIndex(of: keyColumn) else {
            throw SalesforceErrors.malformed("a Bulk API results file has no \(keyColumn) column")
        }
        let idColumn = header.firstIndex(of: "sf__Id")
        let createdColumn = header.firstIndex(of: "sf__Created")
        let errorColumn = header.firstIndex(of: "sf__Error")
        for line in table.dropFirst() where line.count == header.count {
            let key = line[keyIndex]
            guard var indices = waiting[key], !indices.isEmpty else {
                throw SalesforceErrors.malformed("a Bulk API result line names \(keyColumn) \(key), which the job did not carry")
            }
            let index = indices.removeFirst()
            waiting[key] = indices
            switch kind {
            case .successful:
                guard let idColumn, !line[idColumn].isEmpty else {
                    throw SalesforceErrors.malformed("a Bulk API successful result has no sf__Id")
                }
                results[index] = .success(id: line[idColumn], created: createdColumn.map { line[$0] == "true" } ?? false)
            case .failed:
                let text = errorColumn.map { line[$0] } ?? ""
                let remote = String(decoding: BulkCSV.line(header) + BulkCSV.line(line), as: UTF8.self)
                results[index] = .failure(BulkCSV.linkError(sfError: text, remoteBody: remote))
            case .unprocessed:
                // Left nil: failed below with the job's reason.
                continue
            }
        }
    }

    func results(unprocessed: LinkError) -> [RecordResult] {
        results.map { $0 ?? .failure(unprocessed) }
    }
}
