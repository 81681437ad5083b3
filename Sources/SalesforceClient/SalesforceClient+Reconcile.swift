import Foundation
import StagelinkEngine
import StagelinkHTTP

/// What a reconciliation asks of Salesforce (``Reconciler``).
///
/// The listing is one SOQL query through QueryAll, `SELECT Id, SystemModstamp, IsDeleted[,
/// MasterRecordId] FROM …`, read 2,000 records a call: "the default batch size is 2,000 records";
/// `Sforce-Query-Options: batchSize` may ask for 200 to 2,000, and the next batch is at the
/// `nextRecordsUrl` of each answer until `done` (REST API Developer Guide, "Query" and "Query
/// Options Header"). QueryAll "returns records that are soft deleted due to a merge or delete"
/// (REST API "QueryAll"), so a deletion still in the Recycle Bin is reported by the listing itself.
extension SalesforceClient: ReconcileSource, OverlapListing {
    public func listing(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        try await listing(request, window: nil, after: cursor)
    }

    /// A delta pull's overlap window listed by id and `SystemModstamp` (``OverlapListing``): the
    /// listing's query with `WHERE SystemModstamp >= since AND SystemModstamp < end ORDER BY
    /// SystemModstamp` (a SOQL dateTime literal is to the second), 2,000 records a call, the
    /// first answer's `totalSize` the window's count. Slices of one window are listed at once,
    /// each its own query locator: "There isn't a limit on the number of open cursors" since API
    /// version 56.0 (Salesforce App Limits Cheatsheet, "API Query Cursor Limits"; ten a user
    /// before).
    public var overlapListing: (any OverlapListing)? { self }

    public func changes(_ request: DeltaRequest, before end: Date, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        try await listing(request, window: (request.since, end), after: cursor)
    }

    /// The second after the watermark's: the pages that follow the listing then start where it
    /// ended, without reading the watermark's second again (a Bulk API job stamps thousands of
    /// records within one second).
    public func windowEnd(through watermark: Date) -> Date {
        Date(timeIntervalSince1970: watermark.timeIntervalSince1970.rounded(.down) + 1)
    }

    private func listing(_ request: DeltaRequest, window: (since: Date?, end: Date)?, after cursor: PageCursor?) async throws(RemoteCallError)
        -> SourcePage
    {
        let query: SOQLQuery
        do {
            let removal = ["IsDeleted", "MasterRecordId"].filter { request.fields.contains($0) }
            var built = try SOQLQuery(select: ["Id", "SystemModstamp"] + removal, from: request.resourceType)
            if let window {
                if let since = window.since { built = try built.where("SystemModstamp", .greaterThanOrEqual, .dateTime(since)) }
                built = try built.where("SystemModstamp", .lessThan, .dateTime(window.end)).orderBy("SystemModstamp")
            }
            query = built
        } catch {
            throw RemoteCallError(.rejected, LinkError(.invalidQuery, message: error.description))
        }
        let pageSize = window == nil ? request.pageSize : 2000
        return try await self.query(query, pageSize: pageSize, after: cursor, includingDeleted: request.fields.contains("IsDeleted"))
    }

    /// `SELECT <the pull's fields> FROM … WHERE Id IN (…)`, by QueryAll when the pull reads
    /// deletions: each record exactly as a delta pull would have staged it.
    public func records(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord] {
        let valid = ids.compactMap { SalesforceID($0)?.description }
        guard !valid.isEmpty else { return [] }
        let query: SOQLQuery
        do {
            query = try SOQLQuery(select: Self.deltaFields + request.fields, from: request.resourceType).where("Id", in: valid.map(SOQLValue.string))
        } catch {
            throw RemoteCallError(.rejected, LinkError(.invalidQuery, message: error.description))
        }
        var records: [IncomingRecord] = []
        var cursor: PageCursor?
        repeat {
            let page = try await self.query(query, pageSize: 2000, after: cursor, includingDeleted: request.fields.contains("IsDeleted"))
            records += page.records
            cursor = page.next
        } while cursor != nil
        return records
    }
}
