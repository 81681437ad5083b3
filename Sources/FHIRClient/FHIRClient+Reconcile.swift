import Foundation
import StagelinkEngine
import StagelinkHTTP

/// What a reconciliation asks of the EMR (``Reconciler``).
///
/// - The listing: `GET [base]/[type]?_elements=id,meta&_count=n`, then each Bundle's `next` link.
///   `_elements` asks for "a specific set of elements be returned as part of a resource"; the
///   server marks the subset with the `SUBSETTED` tag (FHIR R4 search.html §3.1.1.5.9), and
///   `meta.versionId` / `meta.lastUpdated` are all a comparison needs.
/// - The records that differ: `GET [base]/[type]?_id=a,b,…` (R4 search, `_id` takes a list).
/// - Deletions: `GET [base]/[type]/[id]/_history`, the instance history, whose newest entry for a
///   deleted resource has `request.method = DELETE` (R4 http.html#history, #delete).
extension FHIRClient: ReconcileSource {
    public func listing(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        if cursor != nil { return try await page(request, after: cursor) }
        let url = try urlWithQuery(
            resourceURL([request.resourceType]), [("_elements", "id,meta"), ("_count", String(max(1, request.pageSize)))])
        let http = HTTPRequest(.get, url: url, headers: ["Accept": Self.fhirJSON, "Prefer": "handling=strict"], retry: .idempotent)
        return try await call(http) { (response) throws(RemoteCallError) -> SourcePage in
            guard response.isSuccess else { throw Self.searchError(response) }
            return try BundlePage.records(in: response.body, type: request.resourceType)
        }
    }

    public func records(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord] {
        let valid = ids.filter(FHIRID.isValid)
        guard !valid.isEmpty else { return [] }
        var records: [IncomingRecord] = []
        var cursor: PageCursor?
        repeat {
            let page: SourcePage
            if let cursor {
                page = try await self.page(request, after: cursor)
            } else {
                let url = try urlWithQuery(
                    resourceURL([request.resourceType]), [("_id", valid.joined(separator: ",")), ("_count", String(max(valid.count, 1)))])
                let http = HTTPRequest(.get, url: url, headers: ["Accept": Self.fhirJSON, "Prefer": "handling=strict"], retry: .idempotent)
                page = try await call(http) { (response) throws(RemoteCallError) -> SourcePage in
                    guard response.isSuccess else { throw Self.searchError(response) }
                    return try BundlePage.records(in: response.body, type: request.resourceType)
                }
            }
            records += page.records
            cursor = page.next
        } while cursor != nil
        let asked = Set(valid)
        return records.filter { asked.contains($0.sourceID) }
    }

    /// One instance history per id; a resource whose newest version is a deletion is reported
    /// with that entry's exact bytes. An id the EMR never knew (404) is not reported.
    public func reportedDeletions(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord] {
        var deletions: [IncomingRecord] = []
        for id in ids where FHIRID.isValid(id) {
            let url = try urlWithQuery(resourceURL([request.resourceType, id, "_history"]), [("_count", "1")])
            let http = HTTPRequest(.get, url: url, headers: ["Accept": Self.fhirJSON], retry: .idempotent)
            let newest = try await call(http) { (response) throws(RemoteCallError) -> IncomingRecord? in
                if response.status == 404 || response.status == 410 { return nil }
                guard response.isSuccess else { throw FHIRErrors.callError(response) }
                // `_count=1`: only the newest version; a deletion when it is a DELETE entry.
                return try HistoryPage.deletions(in: response.body, type: request.resourceType).records.first { $0.sourceID == id }
            }
            if let newest { deletions.append(newest) }
        }
        return deletions
    }
}
