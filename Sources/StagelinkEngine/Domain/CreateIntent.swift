import Foundation

/// A create Stagelink is about to send to an EMR without conditional create
/// (`emr.writes.create: search-then-create`), recorded in the store before the `POST`.
///
/// While an intent stands, nobody knows whether its `POST` reached the EMR: the process may have
/// been killed, or the connection dropped, after the EMR created the resource and before its id
/// was stored. The next attempt sees the intent and searches the EMR by the identifier before it
/// creates anything; the intent is removed once the EMR's answer is known.
public struct CreateIntent: Sendable, Hashable {
    /// The FHIR resource type being created (`Patient`).
    public var resourceType: String
    /// The identifier the resource is created with, and searched by.
    public var identifier: ResourceIdentifier
    /// The staged row whose link sends it.
    public var rowID: Int64
    public var recordedAt: Date

    public init(resourceType: String, identifier: ResourceIdentifier, rowID: Int64, recordedAt: Date) {
        self.resourceType = resourceType
        self.identifier = identifier
        self.rowID = rowID
        self.recordedAt = recordedAt
    }
}
