import Foundation

/// A record as it arrived from one system: its exact bytes and what identifies its version.
///
/// Sources hand these to the engine; staging stores them verbatim.
public struct IncomingRecord: Sendable, Hashable {
    public var system: SourceSystem
    /// The FHIR resource type (`Patient`) or Salesforce object (`Admission__c`).
    public var resourceType: String
    public var sourceID: String
    /// `meta.versionId` for FHIR; absent for Salesforce, whose `SystemModstamp` is `lastUpdated`.
    public var version: String?
    public var lastUpdated: Date?
    /// The payload exactly as received over the wire.
    public var payload: [UInt8]
    /// A version of the record, its deletion, or its merge into `survivorID`.
    public var kind: RecordKind
    /// For a merge, the id (in the same system) of the record it was merged into.
    public var survivorID: String?

    public init(
        system: SourceSystem, resourceType: String, sourceID: String, version: String?, lastUpdated: Date?, payload: [UInt8],
        kind: RecordKind = .record, survivorID: String? = nil
    ) {
        self.system = system
        self.resourceType = resourceType
        self.sourceID = sourceID
        self.version = version
        self.lastUpdated = lastUpdated
        self.payload = payload
        self.kind = kind
        self.survivorID = survivorID
    }

    public var recordVersion: RecordVersion { RecordVersion(version: version, lastUpdated: lastUpdated) }

    /// The record this is a version (or the removal) of.
    public var key: SourceKey { SourceKey(system: system, resourceType: resourceType, sourceID: sourceID) }

    /// Lowercase hex SHA-256 of the payload: two receipts with the same hash are the same content.
    public var contentHash: String { ContentHash.sha256Hex(payload) }
}

/// A staged row: one received version of one record, and where it stands.
public struct StagedRow: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var system: SourceSystem
    public var resourceType: String
    public var sourceID: String
    public var version: String?
    public var lastUpdated: Date?
    public var contentHash: String
    public var jobID: Int64?
    public var receivedAt: Date
    public var status: RowStatus
    public var payload: [UInt8]
    /// The error of the last failed link try, kept while the row is failed (and after it is ignored).
    public var error: LinkError?
    public var attemptCount: Int
    /// Why an operator ignored the row, or why it was superseded.
    public var note: String?
    public var updatedAt: Date
    /// When the retention purge emptied `payload` (its hash, status and lineage stay); nil while
    /// the bytes are kept.
    public var payloadPurgedAt: Date? = nil
    /// A version of the record, its deletion, or its merge into `survivorID`.
    public var kind: RecordKind = .record
    /// For a merge, the id (in the same system) of the record it was merged into.
    public var survivorID: String? = nil

    public init(
        id: Int64, system: SourceSystem, resourceType: String, sourceID: String, version: String?, lastUpdated: Date?,
        contentHash: String, jobID: Int64?, receivedAt: Date, status: RowStatus, payload: [UInt8], error: LinkError?,
        attemptCount: Int, note: String?, updatedAt: Date
    ) {
        self.id = id
        self.system = system
        self.resourceType = resourceType
        self.sourceID = sourceID
        self.version = version
        self.lastUpdated = lastUpdated
        self.contentHash = contentHash
        self.jobID = jobID
        self.receivedAt = receivedAt
        self.status = status
        self.payload = payload
        self.error = error
        self.attemptCount = attemptCount
        self.note = note
        self.updatedAt = updatedAt
    }

    /// Identifies the record this row is a version of.
    public var recordKey: SourceKey { SourceKey(system: system, resourceType: resourceType, sourceID: sourceID) }

    /// The row as a list shows it, without its payload.
    public var summary: StagedRowSummary {
        StagedRowSummary(
            id: id, system: system, resourceType: resourceType, sourceID: sourceID, version: version, lastUpdated: lastUpdated, jobID: jobID,
            receivedAt: receivedAt, status: status, errorCode: error?.code, errorMessage: error?.message, attemptCount: attemptCount, updatedAt: updatedAt,
            kind: kind, survivorID: survivorID)
    }

    /// The version of the record this row holds, comparable with other versions of it.
    public var recordVersion: RecordVersion { RecordVersion(version: version, lastUpdated: lastUpdated) }
}

/// A record in its source system: (system, type, id).
public struct SourceKey: Sendable, Hashable, CustomStringConvertible {
    public var system: SourceSystem
    public var resourceType: String
    public var sourceID: String

    public init(system: SourceSystem, resourceType: String, sourceID: String) {
        self.system = system
        self.resourceType = resourceType
        self.sourceID = sourceID
    }

    public var description: String { "\(system.rawValue) \(resourceType)/\(sourceID)" }
}

/// The version of a record, ordered by last-updated time first and by a numeric version id next.
///
/// Times are compared to the millisecond, the precision both systems give: a time read from a
/// payload and the same time after a round trip through the store are the same version.
public struct RecordVersion: Sendable, Hashable, Comparable {
    public var version: String?
    public var lastUpdated: Date?

    public init(version: String?, lastUpdated: Date?) {
        self.version = version
        self.lastUpdated = lastUpdated
    }

    private var lastUpdatedMilliseconds: Int64? { lastUpdated.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } }

    public static func < (lhs: RecordVersion, rhs: RecordVersion) -> Bool {
        if let left = lhs.lastUpdatedMilliseconds, let right = rhs.lastUpdatedMilliseconds, left != right { return left < right }
        if let left = lhs.version.flatMap(Int.init), let right = rhs.version.flatMap(Int.init) { return left < right }
        return false
    }

    public static func == (lhs: RecordVersion, rhs: RecordVersion) -> Bool {
        lhs.version == rhs.version && lhs.lastUpdatedMilliseconds == rhs.lastUpdatedMilliseconds
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(version)
        hasher.combine(lastUpdatedMilliseconds)
    }
}
