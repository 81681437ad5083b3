import Foundation

/// A system that can say what changed since a moment, one page at a time.
///
/// The engine stages each page and advances the watermark in the same transaction before asking
/// for the next page, so a source must return records in ascending `lastUpdated` order and must
/// hand each page on as soon as it has it (memory stays flat however many records match).
public protocol ChangeSource: Sendable {
    var system: SourceSystem { get }
    var meter: APIMeter { get }

    /// The first page (`cursor` nil) or the page after `cursor`.
    func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage

    /// The deletions since `request.since` that ``page(_:after:)`` does not return (a FHIR search
    /// leaves deleted resources out; its history lists them), each a record of kind `deletion`
    /// with the notice's exact bytes, in any order. Sources whose pages carry their deletions
    /// (a Salesforce queryAll) have none.
    func deletions(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage

    /// How the overlap window of a pull can be read by id and version first, when the source
    /// offers it (Salesforce); nil when the window is read whole (``DeltaPuller``).
    var overlapListing: (any OverlapListing)? { get }
}

extension ChangeSource {
    public func deletions(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        SourcePage(records: [], next: nil, total: 0)
    }

    public var overlapListing: (any OverlapListing)? { nil }
}

/// A source whose changes within a window can be listed by id and version alone, and fetched by
/// id: the pull lists the overlap window before its watermark and fetches only the records the
/// store has not staged in that version, instead of reading every record of the window again.
///
/// The overlap is there for changes stamped before the watermark and committed after the last
/// pull read past it: Salesforce stamps `SystemModstamp` when a transaction starts, and a
/// long-running one commits later ("If Salesforce executes a long-running transaction on your
/// instance, the value in this field is the start time of that long-running transaction until it
/// completes", SOAP API Developer Guide, "GetUpdatedResult", on `latestDateCovered`). Those are
/// few; the rest of the window, everything the last pull staged, is what the listing spares.
public protocol OverlapListing: Sendable {
    /// One page of the records of `request.resourceType` stamped at or after `request.since` and
    /// before `end`, oldest first, each with its id and version only (the payload is the listing's,
    /// not the record); the first page when `cursor` is nil. The first page says how many records
    /// the window holds (``SourcePage/total``) when the source knows: a large window is then
    /// listed in slices at once (`end` a whole second, as `request.since` of every slice after
    /// the first).
    func changes(_ request: DeltaRequest, before end: Date, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage

    /// Where the listing of a window through `watermark` ends (exclusive), at or after the
    /// watermark: the pull's pages start there, so that what the listing covered is not read
    /// again. (Salesforce: the second after the watermark's, a SOQL dateTime being to the second.)
    func windowEnd(through watermark: Date) -> Date

    /// The records with these ids as they are now, each with its exact bytes, as a pull with
    /// `request` would have staged it (a deletion or a merge as the source reports it); an id the
    /// source does not return is absent.
    func records(_ request: DeltaRequest, ids: [String]) async throws(RemoteCallError) -> [IncomingRecord]
}

/// What a delta pull asks for.
public struct DeltaRequest: Sendable, Hashable {
    /// The FHIR resource type or Salesforce object.
    public var resourceType: String
    /// Changes at or after this instant (the engine has already subtracted the overlap window);
    /// nil for everything.
    public var since: Date?
    /// For Salesforce: the fields to select, parent relationship fields included
    /// (`Contact__r.FirstName`). FHIR sources return whole resources and ignore it.
    public var fields: [String]
    public var pageSize: Int

    public init(resourceType: String, since: Date?, fields: [String] = [], pageSize: Int) {
        self.resourceType = resourceType
        self.since = since
        self.fields = fields
        self.pageSize = pageSize
    }
}

/// Where the next page starts; opaque to the engine (an absolute `next` link, a `nextRecordsUrl`).
public struct PageCursor: Sendable, Hashable {
    public var value: String

    public init(_ value: String) { self.value = value }
}

/// One page of changed records, each with its exact bytes.
///
/// An entry that is damaged (no id, wrong types) is still handed on, with what could be read of
/// its identity, so that it is staged and fails with an error instead of vanishing.
public struct SourcePage: Sendable {
    public var records: [IncomingRecord]
    public var next: PageCursor?
    /// How many records match in all, when the source says.
    public var total: Int?
    /// Whether the source applied the ascending `lastUpdated` order asked for. A server that
    /// ignored it (its self link lacks `_sort` or `_lastUpdated`) makes the pull unordered: the
    /// watermark then moves only when the whole pull completes.
    public var isOrdered: Bool

    public init(records: [IncomingRecord], next: PageCursor?, total: Int? = nil, isOrdered: Bool = true) {
        self.records = records
        self.next = next
        self.total = total
        self.isOrdered = isOrdered
    }
}

/// A system from which one record can be fetched by id (a manual push by Salesforce id).
public protocol RecordLookup: Sendable {
    /// The record, or nil when the system has no record with that id.
    func record(type: String, id: String, fields: [String]) async throws(RemoteCallError) -> IncomingRecord?
}
