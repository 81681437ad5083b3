import Foundation
import StagelinkEngine
import StagelinkHTTP

/// Bulk Data Access IG v2 (hl7.org/fhir/uv/bulkdata/STU2/export.html) as a client: kick-off with
/// `Prefer: respond-async`, status polls, the manifest, NDJSON output files and error files.
extension FHIRClient: BulkExportSource {
    static let ndjson = "application/fhir+ndjson"

    /// `GET [base]/Group/[id]/$export` or `GET [base]/$export` with `_outputFormat`, `_type`,
    /// `_since` and `_elements`; the answer is 202 with the status URL in `Content-Location`.
    public func kickOff(_ request: BulkExportRequest) async throws(RemoteCallError) -> String {
        let path = request.group.map { ["Group", $0, "$export"] } ?? ["$export"]
        var query: [(String, String)] = [("_outputFormat", Self.ndjson), ("_type", request.types.joined(separator: ","))]
        if let since = request.since { query.append(("_since", Timestamp.format(since))) }
        if !request.elements.isEmpty { query.append(("_elements", request.elements.joined(separator: ","))) }
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

    /// Reads the file as it arrives, line by line (the file is never held whole), handing each
    /// batch on as soon as it is full. A file that arrives cut (its last line not whole, fewer
    /// lines than the manifest's `count`, the connection broken mid-body) is fetched again, up to
    /// three times: the lines already handed on come again and deduplicate by content hash.
    public func readFile(_ file: BulkManifest.File, batchSize: Int, _ body: ([IncomingRecord]) async throws -> Void) async throws {
        let url = try serverURL(file.url, what: "file URL")
        for attempt in 1...Self.fileAttempts {
            do {
                try await streamFile(url, file: file, batchSize: max(1, batchSize), body)
                return
            } catch let cut as FileArrivedCut {
                guard attempt < Self.fileAttempts else {
                    throw FHIRErrors.malformed("the export file arrived cut \(Self.fileAttempts) times (last: \(cut.reason))")
                }
                logger.info("export file arrived cut; fetching it again", metadata: ["http.attempt": "\(attempt)", "bulk.cut": "\(cut.reason)"])
            }
        }
    }

    static let fileAttempts = 3

    /// One read of a file; throws ``FileArrivedCut`` when it did not arrive whole, after handing
    /// on the whole lines it did get.
    private func streamFile(_ url: URL, file: BulkManifest.File, batchSize: Int, _ body: ([IncomingRecord]) async throws -> Void) async throws {
        var request = HTTPRequest(.get, url: url, headers: ["Accept": Self.ndjson], retry: .idempotent)
        request.streamsBody = true
        let response = try await call(request) { (response) throws(RemoteCallError) -> HTTPResponse in response }
        if response.status == 404 || response.status == 410 { throw BulkExportGone("output file") }
        guard response.isSuccess else { throw FHIRErrors.callError(response) }
        var pieces = (response.bodyStream ?? .complete(response.body)).makeAsyncIterator()
        var lines = NDJSONLines()
        var batch: [IncomingRecord] = []
        batch.reserveCapacity(batchSize)
        var read = 0
        func flush() async throws {
            guard !batch.isEmpty else { return }
            try await body(batch)
            batch.removeAll(keepingCapacity: true)
        }
        func hand(_ line: [UInt8]) async throws {
            if file.type == NDJSONLines.deletedType {
                batch += NDJSONLines.deletions(line)
            } else {
                batch.append(NDJSONLines.record(line, type: file.type))
            }
            read += 1
            if batch.count >= batchSize { try await flush() }
        }
        while true {
            let piece: [UInt8]?
            do {
                piece = try await pieces.next()
            } catch {
                try await flush()
                throw FileArrivedCut(reason: "the connection broke off after \(read) lines (\(error.error.code))")
            }
            guard let piece else { break }
            for line in lines.feed(piece) { try await hand(line) }
        }
        if let last = lines.finish() {
            guard NDJSONLines.isWhole(last) else {
                try await flush()
                throw FileArrivedCut(reason: "its last line is not whole")
            }
            try await hand(last)
        }
        try await flush()
        if let expected = file.count, read < expected { throw FileArrivedCut(reason: "it held \(read) of the \(expected) lines the manifest lists") }
    }

    public func errorMessages(_ url: String) async throws(RemoteCallError) -> [String] {
        let http = HTTPRequest(.get, url: try serverURL(url, what: "error file URL"), headers: ["Accept": Self.ndjson], retry: .idempotent)
        let response = try await call(http) { (response) throws(RemoteCallError) -> HTTPResponse in response }
        guard response.isSuccess else { return ["the error file could not be read: HTTP \(response.status)"] }
        return NDJSONLines.lines(in: response.body).flatMap { line -> [String] in
            guard let outcome = try? JSONValue(parsing: line), let issues = outcome["issue"]?.arrayValue else {
                return ["an error line that is not an OperationOutcome (\(line.count) bytes)"]
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

/// A file that did not arrive whole; it is fetched again.
struct FileArrivedCut: Error {
    var reason: String
}

/// NDJSON framing: one resource a line, `\n` (or `\r\n`) between lines, the last line's end
/// optional. Lines are cut from pieces as they arrive; a line split across pieces is joined.
///
/// ```swift
/// var lines = NDJSONLines()
/// for piece in pieces { for line in lines.feed(piece) { use(line) } }
/// if let last = lines.finish() { use(last) }   // a last line without its line end
/// ```
struct NDJSONLines {
    /// The start of a line whose end has not arrived yet.
    private var partial: [UInt8] = []

    /// The non-empty lines that `piece` completes, without their line ends.
    mutating func feed(_ piece: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        piece.withUnsafeBufferPointer { bytes in
            var start = 0
            while let end = Self.newline(in: bytes, from: start) {
                if partial.isEmpty {
                    Self.append(bytes[start..<end], to: &lines)
                } else {
                    partial.append(contentsOf: bytes[start..<end])
                    Self.append(partial[...], to: &lines)
                    partial.removeAll(keepingCapacity: true)
                }
                start = end + 1
            }
            partial.append(contentsOf: bytes[start...])
        }
        return lines
    }

    /// The last line, when the text did not end with a line end (nil when it did).
    mutating func finish() -> [UInt8]? {
        var lines: [[UInt8]] = []
        Self.append(partial[...], to: &lines)
        partial = []
        return lines.first
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

    private static func newline(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start)
        else { return nil }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }

    private static func append<Bytes: Collection<UInt8>>(_ line: Bytes, to lines: inout [[UInt8]]) where Bytes.SubSequence: BidirectionalCollection {
        var line = line[...]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        if !line.isEmpty { lines.append(Array(line)) }
    }

    /// The non-empty lines of a whole text, without their line ends.
    static func lines(in bytes: [UInt8]) -> [[UInt8]] {
        var lines = NDJSONLines()
        return lines.feed(bytes) + (lines.finish().map { [$0] } ?? [])
    }

    /// Whether a last line that came without its line end is whole: a cut line is not JSON.
    static func isWhole(_ line: [UInt8]) -> Bool { (try? JSONParser.ranges(of: [JSONParser.PathStep](), in: line)) != nil }

    /// One line as a record of the file's type. A line that is not JSON, or whose id is not a FHIR
    /// id, is still handed on, named by a hash of its bytes (a hostile id never keys a record), so
    /// that it is staged and fails alone with its evidence.
    static func record(_ line: [UInt8], type: String) -> IncomingRecord {
        var identity = ResourceIdentity(bytes: line)
        if let id = identity.id, !FieldConversion.isFHIRID(id) { identity.id = nil }
        return identity.record(type: type, payload: line, fullURL: nil)
    }
}
