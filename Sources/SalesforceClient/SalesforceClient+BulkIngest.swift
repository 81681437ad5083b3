import Foundation
import StagelinkEngine
import StagelinkHTTP

/// Upserts of large batches through Salesforce Bulk API 2.0 ingest
/// (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0.htm).
///
/// One job per batch (more if its CSV would pass 100 MB, the size Salesforce advises so that the
/// base64 encoded upload stays within 150 MB): create it (`POST /jobs/ingest`, operation `upsert`
/// by the external-id field), upload its CSV once (`PUT …/batches`), close it (`PATCH`
/// `UploadComplete`), poll it until `JobComplete`, `Failed` or `Aborted`, then read
/// `successfulResults`, `failedResults` and `unprocessedrecords` as far as the job's counts say
/// they hold anything. About six calls for up to 10,000 rows where collections take fifty.
///
/// Results are matched to records by the external-id column of each result line, never by
/// position: Salesforce does not keep the upload's order in its results files. A failed line's
/// `sf__Error` (`STATUS_CODE:message:fields --`) becomes the record's error with that code; a record
/// without any result line (the job failed or was aborted first) fails with
/// ``ErrorCode/bulkUnprocessed``, which is transient.
///
/// A crash anywhere in a job loses nothing and duplicates nothing: the rows stay claimed, not
/// linked, and the next cycle sends them again in a new job; an upsert by external id that
/// already happened happens again to the same records.
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
        let columns = BulkCSV.columns(of: records, externalIDField: externalIDField)
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
            results += try await bulkJob(object: object, externalIDField: externalIDField, records: part, csv: csv)
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
    private func bulkJob(object: String, externalIDField: String, records: [TargetRecord], csv: [UInt8]) async throws(RemoteCallError) -> [RecordResult] {
        var attempt = 1
        while true {
            if bulkJobsMayRun.withLock({ $0 }) {
                try await settleEarlierJobs()
                bulkJobsMayRun.withLock { $0 = false }
            }
            var closing = false
            do {
                return try await runBulkJob(object: object, externalIDField: externalIDField, records: records, csv: csv, closing: &closing)
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
    private func settleEarlierJobs() async throws(RemoteCallError) {
        let userID = try await integrationUserID()
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
        for job in jobs where job["createdById"]?.stringValue == userID {
            guard let id = job["id"]?.stringValue, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }), !running.contains(id) else { continue }
            switch job["state"]?.stringValue {
            case "Open":
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
        object: String, externalIDField: String, records: [TargetRecord], csv: [UInt8], closing: inout Bool
    ) async throws(RemoteCallError) -> [RecordResult] {
        let create = JSONWriter.compact([
            "object": .string(object), "externalIdFieldName": .string(externalIDField), "contentType": "CSV", "operation": "upsert",
            "lineEnding": "LF", "columnDelimiter": "COMMA",
        ])
        let jobID = try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.post, url: try dataURL(session, ["jobs", "ingest"]), headers: Self.jsonHeaders, body: create, retry: .nonIdempotent)
        } decode: { (response) throws(RemoteCallError) -> String in
            guard let id = (try? JSONValue(parsing: response.body))?["id"]?.stringValue,
                id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
            else { throw SalesforceErrors.malformed("the Bulk API job answer has no job id") }
            return id
        }
        bulkJobsRunning.withLock { _ = $0.insert(jobID) }
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
        var lines = BulkResultLines(externalIDField: externalIDField, records: records)
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

/// The results files of one job, matched back to its records by external id.
struct BulkResultLines {
    enum Kind { case successful, failed, unprocessed }

    let externalIDField: String
    /// Indices of the records with each external id, in order; a value sent twice is matched
    /// to its records in turn.
    private var waiting: [String: [Int]] = [:]
    private var results: [RecordResult?]

    init(externalIDField: String, records: [TargetRecord]) {
        self.externalIDField = externalIDField
        results = Array(repeating: nil, count: records.count)
        for (index, record) in records.enumerated() {
            let value = record.fields.first { $0.name == externalIDField }.map { BulkCSV.text($0.value) } ?? ""
            waiting[value, default: []].append(index)
        }
    }

    /// Reads one results file; a line whose external id matches no record sent is an answer
    /// that cannot be trusted, and fails the call.
    mutating func read(_ bytes: [UInt8], kind: Kind) throws(RemoteCallError) {
        let table: [[String]]
        do {
            table = try BulkCSV.parse(bytes)
        } catch {
            throw SalesforceErrors.malformed("a Bulk API results file is not valid CSV: \(error.message)")
        }
        guard let header = table.first else { return }
        guard let keyColumn = header.firstIndex(of: externalIDField) else {
            throw SalesforceErrors.malformed("a Bulk API results file has no \(externalIDField) column")
        }
        let idColumn = header.firstIndex(of: "sf__Id")
        let createdColumn = header.firstIndex(of: "sf__Created")
        let errorColumn = header.firstIndex(of: "sf__Error")
        for line in table.dropFirst() where line.count == header.count {
            let key = line[keyColumn]
            guard var indices = waiting[key], !indices.isEmpty else {
                throw SalesforceErrors.malformed("a Bulk API result line names \(externalIDField) \(key), which the job did not carry")
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
