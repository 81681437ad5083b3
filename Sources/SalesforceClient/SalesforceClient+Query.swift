import Foundation
import StagelinkEngine
import StagelinkHTTP

extension SalesforceClient {
    /// The first page of `query` (`cursor` nil) or the page after `cursor`, each record with its
    /// exact bytes.
    ///
    /// `pageSize` is asked for through `Sforce-Query-Options: batchSize` (Salesforce keeps it
    /// between 200 and 2,000). For example:
    ///
    /// ```swift
    /// let query = try SOQLQuery(select: ["Id", "LastName"], from: "Contact").where("LastName", .equals, .string("O'Brien"))
    /// let page = try await salesforce.query(query, pageSize: 200, after: nil)
    /// ```
    ///
    /// With `includingDeleted` it is the QueryAll resource, which "returns records that are soft
    /// deleted due to a merge or delete" (REST API "QueryAll"): a record in the Recycle Bin
    /// (`IsDeleted`) is handed on as a deletion, or as a merge when its `MasterRecordId` names the winner.
    public func query(_ query: SOQLQuery, pageSize: Int, after cursor: PageCursor?, includingDeleted: Bool = false) async throws(RemoteCallError)
        -> SourcePage
    {
        let page = try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            var request = HTTPRequest(
                .get, url: try queryURL(query, session: session, cursor: cursor, resource: includingDeleted ? "queryAll" : "query"),
                headers: Self.jsonHeaders, retry: .idempotent)
            request.headers["Sforce-Query-Options"] = "batchSize=\(min(2000, max(200, pageSize)))"
            return request
        } decode: { (response) throws(RemoteCallError) -> SourcePage in
            try QueryPage.records(in: response.body, object: query.object)
        }
        logger.debug(
            "Salesforce query page",
            metadata: [
                "salesforce.object": "\(query.object)", "sync.records": "\(page.records.count)",
                "sync.more": "\(page.next != nil)",
            ])
        return page
    }

    private func queryURL(_ query: SOQLQuery, session: SalesforceSession, cursor: PageCursor?, resource: String) throws(RemoteCallError) -> URL {
        guard let cursor else {
            var components = URLComponents(url: try dataURL(session, [resource]), resolvingAgainstBaseURL: false)
            components?.percentEncodedQuery = "q=" + EndpointURL.percentEncoded(query.text)
            guard let url = components?.url else { throw SalesforceErrors.malformed("the query URL could not be built") }
            return url
        }
        // `nextRecordsUrl` is a path on the instance; it is followed there and nowhere else.
        guard let url = URL(string: cursor.value, relativeTo: session.instanceURL)?.absoluteURL,
            EndpointURL.isSameOrigin(url, as: session.instanceURL)
        else { throw SalesforceErrors.malformed("nextRecordsUrl does not point into the instance") }
        return url
    }

    /// The fields every delta query selects before the asked ones.
    static let deltaFields = ["Id", "SystemModstamp", "LastModifiedById"]
}

extension SalesforceClient {
    /// Records of `request.resourceType` whose `SystemModstamp` is at or after `request.since`,
    /// oldest first: `SELECT Id, SystemModstamp, LastModifiedById, … FROM … WHERE SystemModstamp >= …
    /// ORDER BY SystemModstamp ASC`, following `nextRecordsUrl`.
    public func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        let query: SOQLQuery
        do {
            var built = try SOQLQuery(select: Self.deltaFields + request.fields, from: request.resourceType)
            if let since = request.since { built = try built.where("SystemModstamp", .greaterThanOrEqual, .dateTime(since)) }
            query = try built.orderBy("SystemModstamp")
        } catch {
            throw RemoteCallError(.rejected, LinkError(.invalidQuery, message: error.description))
        }
        return try await self.query(query, pageSize: request.pageSize, after: cursor, includingDeleted: request.fields.contains("IsDeleted"))
    }

    /// The record with this id, or nil when the org has none; parent fields (`Contact__r.Name`)
    /// may be asked for.
    public func record(type: String, id: String, fields: [String]) async throws(RemoteCallError) -> IncomingRecord? {
        let query: SOQLQuery
        do {
            query = try SOQLQuery(select: Self.deltaFields + fields, from: type).where("Id", .equals, .string(id)).limit(1)
        } catch {
            throw RemoteCallError(.rejected, LinkError(.invalidQuery, message: error.description))
        }
        return try await self.query(query, pageSize: 200, after: nil).records.first
    }
}
