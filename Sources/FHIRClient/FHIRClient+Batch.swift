import Foundation
import StagelinkEngine
import StagelinkHTTP

extension FHIRClient {
    /// `POST [base]` with a Bundle of type `batch` (FHIR R4 http.html#transaction): each write an
    /// entry with its `request` (`method`, `url` relative to the base, `ifNoneExist`, `ifMatch`).
    ///
    /// The answer is a `batch-response` Bundle with one entry per request entry, in the same order;
    /// each entry is read as the same call on its own would be: a 2xx `response.status` is the
    /// written resource (from the entry's resource, else `response.location` and `response.etag`),
    /// a 4xx the record's failure from `response.outcome` (a 412 on a conditional create is
    /// `MULTIPLE_MATCHES`, on `ifMatch` `VERSION_MOVED`), a 5xx or 429 a transient `HTTP_nnn` of that
    /// entry alone. An answer that is not a `batch-response` with as many entries as were sent is
    /// malformed, and every write in it is unknown.
    ///
    /// Every write a batch carries is safe to repeat (``BatchWrite``), so the Bundle is sent with the
    /// retry safety of a conditional create: a timeout or a dropped connection sends it again.
    public func batch(_ writes: [BatchWrite]) async throws(RemoteCallError) -> [Result<WrittenResource, LinkError>] {
        guard !writes.isEmpty else { return [] }
        var entries: [JSONValue] = []
        for write in writes {
            entries.append(try batchEntry(write))
        }
        let bundle: JSONValue = ["resourceType": "Bundle", "type": "batch", "entry": .array(entries)]
        let request = HTTPRequest(
            .post, url: baseURL, headers: Self.batchHeaders, body: JSONWriter.compact(bundle), retry: .conditionalCreate, recordCount: writes.count)
        var results = try await call(request) { (response) throws(RemoteCallError) -> [Result<WrittenResource, LinkError>] in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            guard let answer = try? JSONValue(parsing: response.body), answer["resourceType"]?.stringValue == "Bundle",
                answer["type"]?.stringValue == "batch-response", let answers = answer["entry"]?.arrayValue
            else {
                throw FHIRErrors.malformed("the answer to a batch is not a batch-response Bundle")
            }
            guard answers.count == writes.count else {
                throw FHIRErrors.malformed("the batch-response has \(answers.count) entries for the \(writes.count) sent")
            }
            return zip(writes, answers).map { write, entry in Self.entryResult(entry, of: write) }
        }
        // A conditional create refused for several matches names them, as on its own (createIfNoneExist).
        for (index, write) in writes.enumerated() {
            guard case .failure(let error) = results[index], error.code == ErrorCode.multipleMatches.rawValue,
                case .createIfNoneExist(let resourceType, let identifier, _) = write
            else { continue }
            results[index] = .failure(await multipleMatches(resourceType, identifier, error))
        }
        return results
    }

    private static let batchHeaders: HTTPHeaders = [
        "Content-Type": fhirJSON, "Accept": fhirJSON, "Prefer": "return=representation",
    ]

    /// One request entry. The resource's bytes are read back as JSON so that the Bundle is written by
    /// the one JSON writer; a resource that is not JSON is refused before anything is sent.
    private func batchEntry(_ write: BatchWrite) throws(RemoteCallError) -> JSONValue {
        func resource(_ bytes: [UInt8]) throws(RemoteCallError) -> JSONValue {
            guard let value = try? JSONValue(parsing: bytes), value.objectValue != nil else {
                throw RemoteCallError(.rejected, LinkError(.mappingInvalidJSON, message: "a batch entry's resource is not a JSON object"))
            }
            return value
        }
        switch write {
        case .createIfNoneExist(let resourceType, let identifier, let bytes):
            return [
                "resource": try resource(bytes),
                "request": ["method": "POST", "url": .string(try relativeURL([resourceType])), "ifNoneExist": .string(Self.identifierQuery(identifier))],
            ]
        case .update(let resourceType, let id, let bytes, let ifMatch):
            var request = JSONObject(["method": "PUT", "url": .string(try relativeURL([resourceType, id]))])
            if let ifMatch { request["ifMatch"] = .string(Self.entityTag(ifMatch)) }
            return ["resource": try resource(bytes), "request": .object(request)]
        }
    }

    /// `request.url`: the path below the base, each segment encoded (and refused when it would
    /// navigate) by the same function as the URL of the call on its own.
    private func relativeURL(_ components: [String]) throws(RemoteCallError) -> String {
        let root = try resourceURL([]).absoluteString
        return String(try resourceURL(components).absoluteString.dropFirst(root.count + 1))
    }

    /// One answer entry, read as the answer to the same call on its own.
    static func entryResult(_ entry: JSONValue, of write: BatchWrite) -> Result<WrittenResource, LinkError> {
        let statusText = entry["response"]?["status"]?.stringValue ?? ""
        guard let status = Int(statusText.prefix { $0.isNumber }) else {
            return .failure(LinkError(.malformedResponse, message: "a batch-response entry has no response.status"))
        }
        var headers: HTTPHeaders = [:]
        if let location = entry["response"]?["location"]?.stringValue { headers["Location"] = location }
        if let etag = entry["response"]?["etag"]?.stringValue { headers["ETag"] = etag }
        let body = entry["resource"].map { JSONWriter.compact($0) } ?? entry["response"]?["outcome"].map { JSONWriter.compact($0) } ?? []
        let response = HTTPResponse(status: status, headers: headers, body: body)
        let precondition: FHIRErrors.Precondition =
            switch write {
            case .createIfNoneExist: .ifNoneExist
            case .update: .ifMatch
            }
        switch status {
        case 200..<300:
            do throws(RemoteCallError) {
                return .success(try written(response))
            } catch {
                return .failure(error.error)
            }
        case 400..<500 where status != 429 && status != 401 && status != 403:
            return .failure(FHIRErrors.linkError(response, precondition: precondition))
        default:
            // 401/403 of one entry, 429, 5xx: that entry failed for now; its row is tried again.
            var error = FHIRErrors.linkError(response, precondition: precondition)
            error.code = ErrorCode.httpStatus(status)
            return .failure(error)
        }
    }
}
