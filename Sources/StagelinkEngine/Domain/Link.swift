import Foundation

/// A record in one system matched to its counterpart in the other.
///
/// Keyed by the source record; holds the id the other system gave it and the version last
/// linked, which is how a retry of an older version is recognised and superseded.
public struct RecordLink: Sendable, Hashable {
    public var source: SourceKey
    /// The Salesforce object or FHIR resource type on the other side.
    public var targetType: String
    public var targetID: String
    /// The mapped record's key shared by every source that writes it (the Contact's EMR patient id).
    public var recordKey: String
    public var linkedRowID: Int64?
    public var linkedVersion: RecordVersion
    public var updatedAt: Date
    /// Set once the source record was deleted or merged away: nothing is written through the link again.
    public var retirement: LinkRetirement? = nil

    public init(source: SourceKey, targetType: String, targetID: String, recordKey: String, linkedRowID: Int64?, linkedVersion: RecordVersion, updatedAt: Date) {
        self.source = source
        self.targetType = targetType
        self.targetID = targetID
        self.recordKey = recordKey
        self.linkedRowID = linkedRowID
        self.linkedVersion = linkedVersion
        self.updatedAt = updatedAt
    }
}
