import Foundation
import StagelinkEngine
import StagelinkHTTP

extension FHIRClient {
    /// Resources of `request.resourceType` changed at or after `request.since`, oldest first:
    /// `<base>/<Type>?_lastUpdated=ge<since>&_count=<n>&_sort=_lastUpdated` with
    /// `Prefer: handling=strict`, then the absolute `next` link of each Bundle, followed only on the
    /// base's own origin or one listed in `allowedOrigins`.
    ///
    /// The first page's `Bundle.link[self]` says what the server applied: without `_sort` or
    /// `_lastUpdated` in it the pull is unordered (``SourcePage/isOrdered``). A search the server
    /// refuses as `too-costly` (a certified EHR) fails with `SEARCH_REFUSED`, quoting the server
    /// and naming the fix (`emr.pull: bulk`).
    public func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        let url = try pageURL(request, cursor: cursor)
        // FHIR R4 search §3.1.1.1.3: with handling=strict a server refuses parameters it does not know.
        let http = HTTPRequest(.get, url: url, headers: ["Accept": Self.fhirJSON, "Prefer": "handling=strict"], retry: .idempotent)
        // The first page's self link must show the order asked for; later pages follow the first.
        let ordering: Set<String> = cursor != nil ? [] : request.since == nil ? ["_sort"] : ["_sort", "_lastUpdated"]
        let page = try await call(http) { (response) throws(RemoteCallError) -> SourcePage in
            guard response.isSuccess else { throw Self.searchError(response) }
            return try BundlePage.records(in: response.body, type: request.resourceType, appliedParameters: ordering)
        }
        logger.debug(
            "FHIR search page",
            metadata: [
                "fhir.type": "\(request.resourceType)", "sync.records": "\(page.records.count)", "sync.more": "\(page.next != nil)",
            ])
        return page
    }

    /// The error of a refused search; a population search refused as too costly names its fix.
    static func searchError(_ response: HTTPResponse) -> RemoteCallError {
        let error = FHIRErrors.callError(response)
        guard error.error.code == ErrorCode.fhirTooCostly.rawValue else { return error }
        return RemoteCallError(
            .rejected,
            LinkError(
                .searchRefused,
                message: "the EMR refuses population searches (\(response.status) too-costly: \"\(error.error.message)\"); "
                    + "set emr.pull: bulk in stagelink.yaml to pull changes with Bulk Data $export",
                remoteBody: response.bodyText))
    }

    private func pageURL(_ request: DeltaRequest, cursor: PageCursor?) throws(RemoteCallError) -> URL {
        if let cursor {
            guard let url = URL(string: cursor.value), url.scheme != nil, url.host() != nil else {
                throw FHIRErrors.malformed("the Bundle's next link is not an absolute URL")
            }
            guard EndpointURL.isSameOrigin(url, as: baseURL) || configuration.allowedOrigins.contains(where: { EndpointURL.isSameOrigin(url, as: $0) })
            else {
                throw RemoteCallError(
                    .rejected,
                    LinkError(
                        .originNotAllowed,
                        message: "the Bundle's next link is on \(EndpointURL.origin(of: url)), not on the FHIR base \(EndpointURL.origin(of: baseURL)); "
                            + "list it in emr.allowedOrigins if that server is the same EMR"))
            }
            return url
        }
        var query: [(String, String)] = []
        if let since = request.since { query.append(("_lastUpdated", "ge" + Timestamp.format(since))) }
        query += [("_count", String(max(1, request.pageSize))), ("_sort", "_lastUpdated")]
        return try urlWithQuery(resourceURL([request.resourceType]), query)
    }
}
