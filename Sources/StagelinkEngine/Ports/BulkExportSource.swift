import Foundation

/// A system that answers "what changed since" with an asynchronous Bulk Data export (HL7 Bulk
/// Data Access IG v2): kick off, poll the status URL, read the manifest's NDJSON files.
///
/// For example:
///
/// ```swift
/// let statusURL = try await emr.kickOff(BulkExportRequest(group: "all-patients", types: ["Patient"], since: watermark))
/// if case .complete(let manifest) = try await emr.status(statusURL) {
///     try await emr.readFile(manifest.output[0], batchSize: 500) { records in try await store.stage(records, job: id, advancing: nil) }
/// }
/// ```
public protocol BulkExportSource: Sendable {
    var system: SourceSystem { get }
    var meter: APIMeter { get }

    /// Starts an export and returns its status URL (the kick-off's `Content-Location`).
    func kickOff(_ request: BulkExportRequest) async throws(RemoteCallError) -> String
    /// Where the export stands.
    func status(_ statusURL: String) async throws(RemoteCallError) -> BulkExportStatus
    /// Reads one output file line by line and hands the records on in batches of `batchSize`,
    /// each line's exact bytes as its payload. A file cut mid-line is fetched again; a file that
    /// is gone (expired, 404) throws ``BulkExportGone``.
    func readFile(_ file: BulkManifest.File, batchSize: Int, _ body: ([IncomingRecord]) async throws -> Void) async throws
    /// The OperationOutcome lines of a manifest `error` file, as short texts (code and diagnostics).
    func errorMessages(_ url: String) async throws(RemoteCallError) -> [String]
}

/// What an export asks for.
public struct BulkExportRequest: Sendable, Hashable {
    /// The Group to export (`Group/[id]/$export`); nil for a system-level export (`[base]/$export`).
    public var group: String?
    /// `_type`: the resource types wanted.
    public var types: [String]
    /// `_since`, already moved back by the overlap window; nil for a full export.
    public var since: Date?
    /// `_elements` (Bulk Data IG v2, optional for servers): the root elements each resource is cut
    /// down to, the server marking them `SUBSETTED`; empty for whole resources. A reconciliation
    /// asks for `id` and `meta` only.
    public var elements: [String]

    public init(group: String?, types: [String], since: Date?, elements: [String] = []) {
        self.group = group
        self.types = types
        self.since = since
        self.elements = elements
    }
}

/// An export's state as its status URL tells it.
public enum BulkExportStatus: Sendable, Hashable {
    /// Still running: the server's `X-Progress` text and `Retry-After`.
    case inProgress(progress: String?, retryAfter: Duration?)
    /// Done: the manifest.
    case complete(BulkManifest)
    /// The status URL answers 404 or 410: the export was cancelled, expired or never existed.
    case gone
}

/// The manifest of a finished export.
public struct BulkManifest: Sendable, Hashable {
    /// One output file.
    public struct File: Sendable, Hashable, Codable {
        public var type: String
        public var url: String
        /// How many resources the server says the file holds, when it says.
        public var count: Int?

        public init(type: String, url: String, count: Int? = nil) {
            self.type = type
            self.url = url
            self.count = count
        }
    }

    /// The server's time when the export's query ran: the next export's `_since`.
    public var transactionTime: Date
    public var output: [File]
    /// URLs of the OperationOutcome NDJSON files.
    public var errors: [String]
    /// The files of resources deleted since `_since` (Bulk Data IG v2: `transaction` Bundles whose
    /// entries are `DELETE [type]/[id]`); read by ``BulkExportSource/readFile(_:batchSize:_:)`` as
    /// records of kind `deletion`.
    public var deleted: [File]

    public init(transactionTime: Date, output: [File], errors: [String] = [], deleted: [File] = []) {
        self.transactionTime = transactionTime
        self.output = output
        self.errors = errors
        self.deleted = deleted
    }
}

/// An export file or status URL answered 404 or 410: the export must be started again.
public struct BulkExportGone: Error, Sendable, CustomStringConvertible {
    public var what: String

    public init(_ what: String) { self.what = what }

    public var description: String { "the export's \(what) is gone (expired or cancelled); a new export starts from the same watermark" }
}

/// An export in flight, kept in the store so that a restart resumes it instead of starting another.
public struct BulkExportProgress: Sendable, Hashable {
    public var system: SourceSystem
    public var statusURL: String
    /// The `_since` the export was kicked off with (nil: a full export).
    public var since: Date?
    public var kickedOffAt: Date
    /// URLs of the output files already staged completely.
    public var stagedFiles: [String]

    public init(system: SourceSystem, statusURL: String, since: Date?, kickedOffAt: Date, stagedFiles: [String] = []) {
        self.system = system
        self.statusURL = statusURL
        self.since = since
        self.kickedOffAt = kickedOffAt
        self.stagedFiles = stagedFiles
    }
}
