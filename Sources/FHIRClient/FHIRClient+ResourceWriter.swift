import Foundation
import StagelinkEngine
import StagelinkHTTP

extension FHIRClient {
    /// `POST <base>/<Type>` with `If-None-Exist: identifier=<system>|<value>`: 201 when created,
    /// 200 when the identifier already named a resource. Safe to send again after a timeout or a
    /// dropped connection, since the second send finds what the first one made.
    ///
    /// A 412 means several resources already carry the identifier: a lasting `MULTIPLE_MATCHES`
    /// failure that says how many (a search by the identifier counts them) and which.
    public func createIfNoneExist(
        resourceType: String, identifier: ResourceIdentifier, resource: [UInt8]
    ) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        var request = HTTPRequest(
            .post, url: try resourceURL([resourceType]), headers: Self.writeHeaders, body: resource, retry: .conditionalCreate, recordCount: 1)
        request.headers["If-None-Exist"] = Self.identifierQuery(identifier)
        let result = try await write(request, precondition: .ifNoneExist)
        guard case .failure(let error) = result, error.code == ErrorCode.multipleMatches.rawValue else { return result }
        return .failure(await multipleMatches(resourceType, identifier, error))
    }

    /// A 412 of a conditional create, as the lasting `MULTIPLE_MATCHES` naming how many resources
    /// carry the identifier and which (a search by it counts them).
    func multipleMatches(_ resourceType: String, _ identifier: ResourceIdentifier, _ error: LinkError) async -> LinkError {
        let ids = (try? await search(resourceType: resourceType, identifier: identifier)) ?? []
        var named = LinkError.multipleMatches(resourceType, identifier, ids: ids)
        named.remoteBody = error.remoteBody
        return named
    }

    /// `POST <base>/<Type>` without a condition, for a server without conditional create. Sent
    /// once: a timeout or a dropped connection is not retried here (the create may have landed);
    /// the linker's next attempt searches by identifier first.
    public func create(resourceType: String, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        let request = HTTPRequest(
            .post, url: try resourceURL([resourceType]), headers: Self.writeHeaders, body: resource, retry: .nonIdempotent, recordCount: 1)
        return try await write(request, precondition: nil)
    }

    /// `PATCH <base>/<Type>/<id>` with a JSON Patch document (RFC 6902, FHIR R4 http.html#patch)
    /// and `If-Match: W/"<version>"`; a version that moved on (412, or 409 as Oracle Health answers
    /// some patches) is a transient `VERSION_MOVED`.
    public func patch(resourceType: String, id: String, operations: [JSONPatchOperation], ifMatch: String) async throws(RemoteCallError)
        -> Result<WrittenResource, LinkError>
    {
        var request = HTTPRequest(
            .patch, url: try resourceURL([resourceType, id]), headers: Self.writeHeaders,
            body: JSONWriter.compact(JSONPatchOperation.document(operations)), retry: .idempotent, recordCount: 1)
        request.headers["Content-Type"] = "application/json-patch+json"
        request.headers["If-Match"] = Self.entityTag(ifMatch)
        return try await write(request, precondition: .ifMatch)
    }

    /// A bare version (`3`) as the weak ETag `W/"3"`; an ETag as it is.
    static func entityTag(_ version: String) -> String {
        version.hasPrefix("W/") || version.hasPrefix("\"") ? version : "W/\"\(version)\""
    }

    /// `identifier=<system>|<value>`, each part percent-encoded.
    static func identifierQuery(_ identifier: ResourceIdentifier) -> String {
        "identifier=\(EndpointURL.percentEncoded(identifier.system))|\(EndpointURL.percentEncoded(identifier.value))"
    }

    /// The ids of the resources carrying `identifier` (the first page, up to 50): a search by
    /// `identifier`, which even a certified EHR answers (it names the patient).
    public func search(resourceType: String, identifier: ResourceIdentifier) async throws(RemoteCallError) -> [String] {
        var components = URLComponents(url: try resourceURL([resourceType]), resolvingAgainstBaseURL: false)
        components?.percentEncodedQuery = "identifier=\(EndpointURL.percentEncoded(identifier.description))&_count=50"
        guard let url = components?.url else { return [] }
        let request = HTTPRequest(.get, url: url, headers: ["Accept": Self.fhirJSON], retry: .idempotent)
        return try await call(request) { (response) throws(RemoteCallError) -> [String] in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            let bundle = try? JSONValue(parsing: response.body)
            return (bundle?["entry"]?.arrayValue ?? []).compactMap { $0["resource"]?["id"]?.stringValue }
        }
    }

    /// `PUT <base>/<Type>/<id>`, with `If-Match: W/"<version>"` when `ifMatch` is given (a bare
    /// version or an ETag); a version that moved on is a transient `VERSION_MOVED` failure.
    public func update(
        resourceType: String, id: String, resource: [UInt8], ifMatch: String?
    ) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        var request = HTTPRequest(
            .put, url: try resourceURL([resourceType, id]), headers: Self.writeHeaders, body: resource, retry: .idempotent, recordCount: 1)
        if let ifMatch { request.headers["If-Match"] = Self.entityTag(ifMatch) }
        return try await write(request, precondition: ifMatch == nil ? nil : .ifMatch)
    }

    /// `GET <base>/<Type>/<id>`: the resource with its exact bytes, or nil when the server has
    /// none (404) or had one (410).
    public func read(resourceType: String, id: String) async throws(RemoteCallError) -> IncomingRecord? {
        let request = HTTPRequest(.get, url: try resourceURL([resourceType, id]), headers: ["Accept": Self.fhirJSON], retry: .idempotent)
        return try await call(request) { (response) throws(RemoteCallError) -> IncomingRecord? in
            if response.status == 404 || response.status == 410 { return nil }
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            let resource: JSONValue
            do {
                resource = try JSONValue(parsing: response.body)
            } catch {
                throw FHIRErrors.malformed("the resource is not valid JSON: \(error)")
            }
            // The answer must be the resource asked for: writing back into it updates that record.
            let identity = ResourceIdentity(resource)
            guard identity.id == id, identity.resourceType == resourceType else {
                throw RemoteCallError(
                    .rejected,
                    LinkError(
                        .identityMismatch, message: "the EMR answered the read of a \(resourceType) with another resource's id or type: nothing was written",
                        remoteBody: String(decoding: response.body, as: UTF8.self)))
            }
            return identity.record(type: resourceType, payload: response.body, fullURL: nil)
        }
    }

    private static let writeHeaders: HTTPHeaders = [
        "Content-Type": fhirJSON, "Accept": fhirJSON, "Prefer": "return=representation",
    ]

    /// Sends a create or update and reads the answer: the written resource, or the record's
    /// failure when the server refused it (4xx other than 401/403).
    private func write(_ request: HTTPRequest, precondition: FHIRErrors.Precondition?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await call(request) { (response) throws(RemoteCallError) -> Result<WrittenResource, LinkError> in
            switch response.status {
            case 200..<300:
                return .success(try Self.written(response))
            case 401, 403:
                throw FHIRErrors.callError(response)
            case 400..<500:
                return .failure(FHIRErrors.linkError(response, precondition: precondition))
            default:
                throw FHIRErrors.callError(response)
            }
        }
    }

    /// The id, version and time of a written resource: from the returned resource, else from
    /// `Location` (`…/Patient/123/_history/2`) and `ETag` (`W/"2"`).
    static func written(_ response: HTTPResponse) throws(RemoteCallError) -> WrittenResource {
        let identity = ResourceIdentity(try? JSONValue(parsing: response.body))
        let location = response.headers["Location"].map { $0.split(separator: "/").map(String.init) } ?? []
        let historyIndex = location.lastIndex(of: "_history")
        let locationID = historyIndex.flatMap { $0 > 0 ? location[$0 - 1] : nil } ?? location.last
        let etagVersion = response.headers["ETag"].map { $0.replacingOccurrences(of: "W/", with: "").replacingOccurrences(of: "\"", with: "") }
        guard let id = identity.id ?? locationID else {
            throw FHIRErrors.malformed("the write's answer names no resource id")
        }
        return WrittenResource(
            id: id, versionID: identity.versionID ?? etagVersion ?? historyIndex.flatMap { location.indices.contains($0 + 1) ? location[$0 + 1] : nil },
            lastUpdated: identity.lastUpdated, created: response.status == 201)
    }
}
