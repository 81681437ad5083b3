import Foundation
import StagelinkEngine
import StagelinkHTTP

/// Bulk Data Access IG v2 (hl7.org/fhir/uv/bulkdata/STU2/export.html) as a client: kick-off with
/// `Prefer: respond-async`, status polls, the manifest, NDJSON output files and error files.
extension FHIRClient: BulkExportSource {
    static let ndjson = "application/fhir+ndjson"

    /// `GET [base]/Group/[id]/$export` or `GET [base]/$export` with `_outputFormat`, `_type` and
    /// `_since`; the answer is 202 with the status URL in `Content-Location`.
    public func kickOff(_ request: BulkExportRequest) async throws(RemoteCallError) -> String {
        let path = request.group.map { ["Group", $0, "$export"] } ?? ["$export"]
        var query: [(String, String)] = [("_outputFormat", Self.ndjson), ("_type", request.types.joined(separator: ","))]
        if let since = request.since { query.append(("_since", Timestamp.format(since))) }
        let url = try urlWithQuery(resourceURL(path), query)
        // A second kick-off would start a second export: sent again only when the server surely did not act.
        let http = HTTPRequest(
            .get, url: url, headers: ["Accept": Self.fhirJSON, "Prefer": "respond-async"], retry: .nonIdempotent)
        return try await call(http) { (response) throws(RemoteCallError) -> String in
            guard response.status == 202 else {
                if response.isSuccess { throw FHIRErrors.malformed("the export kick-off answered \(response.status), not 202 Accepted") }
                throw FHIRErrors.callError(response)
            }
            guard let location = response.headers["Content-Location"], let statusURL = URL(string: location),
                EndpointURL.isSameOrigin(statusURL, as: baseURL)
            else { throw FHIRErrors.malformed("the export kick-off's Content-Location is not a URL of the FHIR server") }
            return location
        }
    }

    public func status(_ statusURL: String) async throws(RemoteCallError) -> BulkExportStatus {
        let url = try serverURL(statusURL, what: "status URL")
        let http = HTTPRequest(.get, url: url, headers: ["Accept": "application/json"], retry: .idempotent)
        return try await call(http) { (response) throws(RemoteCallError) -> BulkExportStatus in
            switch response.status {
            case 202:
                return .inProgress(progress: response.headers["X-Progress"], retryAfter: RetryAfter.parse(response.headers["Retry-After"]))
            case 200:
                return .complete(try manifest(response.body))
            case 404, 410:
                return .gone
            default:
                throw FHIRErrors.callError(response)
            }
        }
    }

    /// The manifest, with every file URL checked to be on the server's origin (the bearer token goes there).
    private func manifest(_ body: [UInt8]) throws(RemoteCallError) -> BulkManifest {
        guard let json = try? JSONValue(parsing: body), let time = json["transactionTime"]?.stringValue.flatMap(Timestamp.parse) else {
            throw FHIRErrors.malformed("the export manifest is not JSON with a transactionTime")
        }
        var output: [BulkManifest.File] = []
        for entry in json["output"]?.arrayValue ?? [] {
            guard let type = entry["type"]?.stringValue, let url = entry["url"]?.stringValue else {
                throw FHIRErrors.malformed("an export manifest output entry has no type or url")
            }
            _ = try serverURL(url, what: "output file URL")
            var count: Int?
            if case .number(let lexeme)? = entry["count"] { count = Int(lexeme) }
            output.append(BulkManifest.File(type: type, url: url, count: count))
        }
        let errors = try (json["error"]?.arrayValue ?? []).map { (entry) throws(RemoteCallError) -> String in
            guard let url = entry["url"]?.stringValue else { throw FHIRErrors.malformed("an export manifest error entry has no url") }
            _ = try serverURL(url, what: "error file URL")
            return url
        }
        var deleted: [BulkManifest.File] = []
        for entry in json["deleted"]?.arrayValue ?? [] {
            guard let url = entry["url"]?.stringValue else { throw FHIRErrors.malformed("an export manifest deleted entry has no url") }
            _ = try serverURL(url, what: "deleted file URL")
            let count = entry["count"].flatMap { value -> Int? in if case .number(let lexeme) = value { Int(lexeme) } else { nil } }
            deleted.append(BulkManifest.File(type: NDJSONLines.deletedType, url: url, count: count))
        }
        return BulkManifest(transactionTime: time, output: output, errors: errors, deleted: deleted)
    }

    /// The whole file, fetched again (up to three times) when it arrives cut: its last line is not
    /// whole, or it holds fewer lines than the manifest's `count`.
    private func fetchFile(_ url: String, expectedLines: Int?) async throws -> [UInt8] {
        let http = HTTPRequest(.get, url: try serverURL(url, what: "file URL"), headers: ["Accept": Self.ndjson], retry: .idempotent)
        for attempt in 1...3 {
            let response = try await call(http) { (response) throws(RemoteCallError) -> HTTPResponse in response }
            if response.status == 404 || response.status == 410 { throw BulkExportGone("output file") }
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            if !NDJSONLines.isCut(response.body, expectedLines: expectedLines) { return response.body }
            logger.info("export file arrived cut; fetching it again", metadata: ["http.attempt": "\(attempt)"])
        }
        throw FHIRErrors.malformed("the export file arrived cut three times")
    }

    public func readFile(_ file: BulkManifest.File, batchSize: Int, _ body: ([IncomingRecord]) async throws -> Void) async throws {
        let bytes = try await fetchFile(file.url, expectedLines: file.count)
        var batch: [IncomingRecord] = []
        batch.reserveCapacity(batchSize)
        for range in NDJSONLines.ranges(in: bytes) {
            if file.type == NDJSONLines.deletedType {
                batch += NDJSONLines.deletions(Array(bytes[range]))
            } else {
                batch.append(NDJSONLines.record(Array(bytes[range]), type: file.type))
            }
            if batch.count >= batchSize {
                try await body(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try await body(batch) }
    }

    public func errorMessages(_ url: String) async throws(RemoteCallError) -> [String] {
        let http = HTTPRequest(.get, url: try serverURL(url, what: "error file URL"), headers: ["Accept": Self.ndjson], retry: .idempotent)
        let response = try await call(http) { (response) throws(RemoteCallError) -> HTTPResponse in response }
        guard response.isSuccess else { return ["the error file could not be read: HTTP \(response.status)"] }
        return NDJSONLines.ranges(in: response.body).flatMap { range -> [String] in
            guard let outcome = try? JSONValue(parsing: Array(response.body[range])), let issues = outcome["issue"]?.arrayValue else {
                return ["an error line that is not an OperationOutcome (\(range.count) bytes)"]
            }
            return issues.map { issue in
                "\(issue["code"]?.stringValue ?? "error"): \(issue["diagnostics"]?.stringValue ?? issue["details"]?["text"]?.stringValue ?? "")"
            }
        }
    }

    /// A URL the server handed back, followed only on the server's own origin.
    private func serverURL(_ text: String, what: String) throws(RemoteCallError) -> URL {
        guard let url = URL(string: text), EndpointURL.isSameOrigin(url, as: baseURL) else {
            throw FHIRErrors.malformed("the export's \(what) does not point to the FHIR server")
        }
        return url
    }

    func urlWithQuery(_ url: URL, _ query: [(String, String)]) throws(RemoteCallError) -> URL {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.percentEncodedQuery = query.map { "\($0.0)=\(EndpointURL.percentEncoded($0.1))" }.joined(separator: "&")
        guard let built = components?.url else { throw FHIRErrors.malformed("the request URL could not be built") }
        return built
    }
}

/// NDJSON framing: one resource a line, `\n` (or `\r\n`) between lines.
enum NDJSONLines {
    /// The byte ranges of the non-empty lines, without their line ends.
    static func ranges(in bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            append(start..<index)
            start = index + 1
        }
        append(start..<bytes.count)
        return ranges

        func append(_ range: Range<Int>) {
            var range = range
            if range.upperBound > range.lowerBound, bytes[range.upperBound - 1] == UInt8(ascii: "\r") { range = range.lowerBound..<(range.upperBound - 1) }
            if !range.isEmpty { ranges.append(range) }
        }
    }

    /// Whether a file arrived cut: it holds fewer lines than the manifest says, or its last line
    /// has no line end and is not whole JSON.
    static func isCut(_ bytes: [UInt8], expectedLines: Int?) -> Bool {
        let lines = ranges(in: bytes)
        if let expectedLines, lines.count < expectedLines { return true }
        guard let last = lines.last, bytes.last != UInt8(ascii: "\n") else { return false }
        return (try? JSONValue(parsing: Array(bytes[last]))) == nil
    }

    /// The type a manifest's `deleted` files carry: their lines are Bundles.
    static let deletedType = "Bundle"

    /// The deletions one line of a `deleted` file announces: each `DELETE [type]/[id]` entry, with
    /// the line's exact bytes as the notice and its `meta.lastUpdated` as the time. A line that
    /// names nothing readable is handed on under a hash of its bytes, to fail alone.
    static func deletions(_ line: [UInt8]) -> [IncomingRecord] {
        let bundle = try? JSONValue(parsing: line)
        let at = bundle?["meta"]?["lastUpdated"]?.stringValue.flatMap(Timestamp.parse)
        let named = (bundle?["entry"]?.arrayValue ?? []).compactMap { entry -> (type: String, id: String)? in
            guard entry["request"]?["method"]?.stringValue == "DELETE", let url = entry["request"]?["url"]?.stringValue,
                let location = ResourceIdentity.location(of: "/" + url), FHIRID.isValid(location.id)
            else { return nil }
            return location
        }
        guard !named.isEmpty else {
            return [
                IncomingRecord(
                    system: .emr, resourceType: deletedType, sourceID: "unidentified-" + ContentHash.sha256Hex(line).prefix(16), version: nil,
                    lastUpdated: at, payload: line, kind: .deletion)
            ]
        }
        return named.map { IncomingRecord(system: .emr, resourceType: $0.type, sourceID: $0.id, version: nil, lastUpdated: at, payload: line, kind: .deletion) }
    }

    /// One line as a record of the file's type. A line that is not JSON, or whose id is not a FHIR
    /// id, is still handed on, named by a hash of its bytes (a hostile id never keys a record), so
    /// that it is staged and fails alone with its evidence.
    static func record(_ line: [UInt8], type: String) -> IncomingRecord {
        var identity = ResourceIdentity(try? JSONValue(parsing: line))
        if let id = identity.id, !FieldConversion.isFHIRID(id) { identity.id = nil }
        return identity.record(type: type, payload: line, fullURL: nil)
    }
}
