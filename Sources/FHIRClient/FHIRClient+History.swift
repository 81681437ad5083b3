import Foundation
import StagelinkEngine
import StagelinkHTTP

extension FHIRClient {
    /// Resources of `request.resourceType` deleted at or after `request.since`:
    /// `<base>/<Type>/_history?_since=<since>&_count=<n>` (FHIR R4 http.html#history), paged by the
    /// Bundle's `next` link on the base's own origin. Only entries with `request.method = DELETE`
    /// are records (a deletion "has no resource"; its `request.url` names it); every other version
    /// is already what the search pull reads. Nothing is asked without `since`: a first, full pull
    /// has nothing deleted to tell.
    public func deletions(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        guard let since = request.since else { return SourcePage(records: [], next: nil, total: 0) }
        let url: URL
        if let cursor {
            guard let next = URL(string: cursor.value), EndpointURL.isSameOrigin(next, as: baseURL)
                || configuration.allowedOrigins.contains(where: { EndpointURL.isSameOrigin(next, as: $0) })
            else { throw FHIRErrors.malformed("the history Bundle's next link is not on the FHIR base's origin") }
            url = next
        } else {
            url = try urlWithQuery(
                resourceURL([request.resourceType, "_history"]),
                [("_since", Timestamp.format(since)), ("_count", String(max(1, request.pageSize)))])
        }
        let http = HTTPRequest(.get, url: url, headers: ["Accept": Self.fhirJSON], retry: .idempotent)
        return try await call(http) { (response) throws(RemoteCallError) -> SourcePage in
            guard response.isSuccess else { throw Self.searchError(response) }
            return try HistoryPage.deletions(in: response.body, type: request.resourceType)
        }
    }
}

/// The deletions of one `history` Bundle, each entry's exact bytes as the notice.
enum HistoryPage {
    static func deletions(in body: [UInt8], type: String) throws(RemoteCallError) -> SourcePage {
        let bundle: JSONValue
        let ranges: [Range<Int>]
        do {
            bundle = try JSONValue(parsing: body)
            ranges = try JSONParser.ranges(of: ["entry", .each], in: body)
        } catch {
            throw FHIRErrors.malformed("the history Bundle is not valid JSON: \(error)")
        }
        guard bundle["resourceType"]?.stringValue == "Bundle", bundle["type"]?.stringValue == "history" else {
            throw FHIRErrors.malformed("the history answer is not a history Bundle")
        }
        let entries = bundle["entry"]?.arrayValue ?? []
        var records: [IncomingRecord] = []
        for (entry, range) in zip(entries, ranges) where entry["request"]?["method"]?.stringValue == "DELETE" {
            // `Type/id` (or a full URL ending so); anything else is staged under a hash and fails alone.
            let named = (entry["request"]?["url"]?.stringValue).flatMap { ResourceIdentity.location(of: "/" + $0) }
                ?? entry["fullUrl"]?.stringValue.flatMap(ResourceIdentity.location(of:))
            let payload = Array(body[range])
            let id = named.flatMap { $0.type == type && FHIRID.isValid($0.id) ? $0.id : nil }
                ?? "unidentified-" + ContentHash.sha256Hex(payload).prefix(16)
            let etag = entry["response"]?["etag"]?.stringValue
            let version = etag.map { $0.replacingOccurrences(of: "W/", with: "").replacingOccurrences(of: "\"", with: "") }
            records.append(
                IncomingRecord(
                    system: .emr, resourceType: type, sourceID: id, version: version,
                    lastUpdated: entry["response"]?["lastModified"]?.stringValue.flatMap(Timestamp.parse), payload: payload, kind: .deletion))
        }
        let next = bundle["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
        return SourcePage(records: records, next: next.map(PageCursor.init), total: nil, isOrdered: false)
    }
}
