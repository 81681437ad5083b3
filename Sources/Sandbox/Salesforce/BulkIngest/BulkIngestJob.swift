/// One Bulk API 2.0 ingest job of the simulated org: what it was created with, its state, its
/// one upload and, once processed, its per-row results.
///
/// States and their order follow Salesforce's "Get Information About an Ingest Job"
/// (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_info.htm):
/// `Open` (data may be uploaded), `UploadComplete` (closed, queued), `InProgress`, then
/// `JobComplete`, `Failed` or `Aborted`. A job takes one upload: a second `PUT` is refused, as
/// Salesforce refuses it ("Found multiple contents for job").
struct BulkIngestJob: Sendable {
    enum State: String, Sendable {
        case open = "Open"
        case uploadComplete = "UploadComplete"
        case inProgress = "InProgress"
        case jobComplete = "JobComplete"
        case failed = "Failed"
        case aborted = "Aborted"

        var isFinished: Bool { self == .jobComplete || self == .failed || self == .aborted }
    }

    var id: String
    var object: String
    var operation: String
    var externalIDField: String?
    var lineEnding: BulkCSV.LineEnding
    var columnDelimiter: String
    var createdByID: String
    var createdDate: SandboxInstant
    var systemModstamp: SandboxInstant
    var apiVersion: String
    var state: State = .open
    var upload: [UInt8]?
    var errorMessage: String?
    /// The uploaded file's header, once read.
    var header: [String] = []
    /// `sf__Id`, `sf__Created`, then the row's own values.
    var successful: [[String]] = []
    /// `sf__Id`, `sf__Error`, then the row's own values.
    var failed: [[String]] = []
    /// Rows never processed (the job failed or was aborted), as uploaded.
    var unprocessed: [[String]] = []
    /// Whether an `InProgress` job's processing has ended (its results are in).
    var processed = false

    var delimiter: UInt8 { BulkCSV.delimiters[columnDelimiter] ?? 0x2C }

    /// The job as Create a Job, Close a Job and Get Job Info answer it.
    func info(detailed: Bool) -> WireJSON {
        var info = WireObject([
            ("id", .string(id)), ("operation", .string(operation)), ("object", .string(object)),
            ("createdById", .string(createdByID)), ("createdDate", .string(createdDate.salesforceDateTime)),
            ("systemModstamp", .string(systemModstamp.salesforceDateTime)), ("state", .string(state.rawValue)),
            ("externalIdFieldName", .string(orNull: externalIDField)), ("concurrencyMode", "Parallel"), ("contentType", "CSV"),
            ("apiVersion", .double(Double(apiVersion.dropFirst()) ?? 60)), ("jobType", "V2Ingest"),
            ("lineEnding", .string(lineEnding.rawValue)), ("columnDelimiter", .string(columnDelimiter)),
        ])
        if state == .open { info["contentUrl"] = .string("services/data/\(apiVersion)/jobs/ingest/\(id)/batches") }
        if detailed {
            info["numberRecordsProcessed"] = .int(successful.count + failed.count)
            info["numberRecordsFailed"] = .int(failed.count)
            info["retries"] = 0
            info["totalProcessingTime"] = 0
            info["apiActiveProcessingTime"] = 0
            info["apexProcessingTime"] = 0
            if let errorMessage { info["errorMessage"] = .string(errorMessage) }
        }
        return .object(info)
    }
}
