import Foundation

/// A system whose records of one type can be listed by id and version, fetched by id, and asked
/// whether it deleted a record: what a reconciliation (``Reconciler``) compares with the store.
///
/// Salesforce lists with `SELECT Id, SystemModstamp, IsDeleted FROM …` through QueryAll, 2,000 a
/// page by `nextRecordsUrl`; a FHIR server with `[type]?_elements=id,meta&_count=…` and the
/// Bundle's `next` links.
public protocol ReconcileSource: Sendable {
    var system: SourceSystem { get }
    var meter: APIMeter { get }

    /// One page of every record of `request.resourceType` (its id and version; the payload is
    /// what the listing returned, not the record), the first when `cursor` is nil. A record the
    /// system reports deleted or merged (a Salesforce record in the Recycle Bin) has that kind.
    func listing(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage

    /// The records with these ids as they are now, each with its exact bytes (a deletion or a
    /// merge as the system reports it); an id the system does not return is absent.
    func records(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord]

    /// Of these ids, absent from the listing, the deletions the system reports, each with the
    /// notice's exact bytes (a FHIR instance history's `DELETE` entry). Sources whose listing
    /// already shows their deletions (Salesforce's QueryAll) report none here.
    func reportedDeletions(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord]
}

extension ReconcileSource {
    public func reportedDeletions(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord] { [] }
}

/// What the store last saw of one linked record at its source: its newest staged row.
public struct LastSeen: Sendable, Hashable {
    /// Nil when the record is linked but no row of it was ever staged from its source (a record
    /// Stagelink created there and has not read back yet).
    public var rowID: Int64?
    public var version: RecordVersion?
    public var kind: RecordKind?
    public var status: RowStatus?
    public var errorCode: String?

    public init(rowID: Int64? = nil, version: RecordVersion? = nil, kind: RecordKind? = nil, status: RowStatus? = nil, errorCode: String? = nil) {
        self.rowID = rowID
        self.version = version
        self.kind = kind
        self.status = status
        self.errorCode = errorCode
    }
}
