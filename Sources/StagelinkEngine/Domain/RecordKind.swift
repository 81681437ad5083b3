/// What a staged row says about its record: a version of it, its deletion, or its merge into another.
///
/// A deletion or a merge is staged verbatim as a row of its own (the deletion notice or the merged
/// record exactly as received) and linked by the mapping's `onDelete` and `onMerge` rules.
public enum RecordKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A version of the record (created or updated).
    case record
    /// The record was deleted at its source: a Salesforce record in the Recycle Bin (`IsDeleted`),
    /// a FHIR deletion (`request.method = DELETE` in a history or an export's `deleted` file).
    case deletion
    /// The record lost a merge: a Salesforce record deleted with `MasterRecordId`, a FHIR Patient
    /// with `link.type = replaced-by`. The row's `survivorID` names the record it was merged into.
    case merge
}

/// Why a link no longer carries updates: its source record was deleted or merged away. A retired
/// link stays (lineage and `stagelink why` read it), but nothing is written through it again.
public enum LinkRetirement: Sendable, Hashable {
    case deleted
    /// Merged into the source record with this id.
    case merged(into: String)
    /// Its counterpart was deleted or merged away on the other side: writing through the link
    /// would create a new record there (an upsert by external id no longer finds the old one).
    case counterpartRemoved

    /// A phrase for notes and views: "deleted", "merged into Patient/123".
    public func describe(resourceType: String) -> String {
        switch self {
        case .deleted: "deleted"
        case .merged(let survivor): "merged into \(resourceType)/\(survivor)"
        case .counterpartRemoved: "left without its counterpart (deleted or merged away on the other side)"
        }
    }
}
