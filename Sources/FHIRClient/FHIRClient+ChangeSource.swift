import Foundation
import StagelinkEngine
import StagelinkHTTP

extension FHIRClient {
    /// Resources of `request.resourceType` changed at or after `request.since`, oldest first:
    /// `<base>/<Type>?_lastUpdated=ge<since>&_count=<n>&_sort=_lastUpdated`, then the absolute
    /// `next` link of each Bundle, followed only on the base's own origin.
    public func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        let url = try pageURL(request, cursor: cursor)
        let http = HTTPRequest(.get, url: url, headers: ["Accept": Self.fhirJSON], retry: .idempotent)
        let page = try await call(http) { (response) throws(RemoteCallError) -> SourcePage in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            return try BundlePage.records(in: response.body, type: request.resourceType)
        }
        logger.debug(
            "FHIR search page",
            metadata: [
                "fhir.type": "\(request.resourceType)", "sync.records": "\(page.records.count)", "sync.more": "\(page.next != nil)",
            ])
        return page
    }

    private func pageURL(_ request: DeltaRequest, cursor: PageCursor?) throws(RemoteCallError) -> URL {
        if let cursor {
            guard let url = URL(string: cursor.value), EndpointURL.isSameOrigin(url, as: baseURL) else {
                throw FHIRErrors.malformed("the Bundle's next link does not point to the FHIR server")
            }
            return url
        }
        var query: [(String, String)] = []
        if let since = request.since { query.append(("_lastUpdated", "ge" + Timestamp.format(since))) }
        query += [("_count", String(max(1, request.pageSize))), ("_sort", "_lastUpdated")]
        var components = URLComponents(url: try resourceURL([request.resourceType]), resolvingAgainstBaseURL: false)
        components?.percentEncodedQuery = query.map { "\($0.0)=\(EndpointURL.percentEncoded($0.1))" }.joined(separator: "&")
        guard let url = components?.url else { throw FHIRErrors.malformed("the search URL could not be built") }
        return url
    }
}
