/// What a mapping does on the other side when a record is deleted at its source (`onDelete:`).
///
/// Nothing on the other side is ever deleted unless the rule says `delete`: a deletion notice can be
/// a mistake, a merge seen half-way, or a record moved out of the integration user's sharing, and a
/// clinical or admissions record deleted by a sync cannot be brought back by the next one.
///
/// ```yaml
/// onDelete: { action: flag, field: EMR_Deleted__c }   # the default for a mapping keyed by the resource's id
/// onDelete: { action: ignore }
/// ```
public struct DeletionRule: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// A checkbox on the other side is set true (`EMR_Deleted__c`): people see it, nothing is lost.
        case flag
        /// The counterpart is made inactive (a FHIR Patient's `active = false`).
        case deactivate
        /// The counterpart is deleted too.
        case delete
        /// Nothing is written; the deletion is staged and linked for the record only.
        case ignore
    }

    public var action: Action
    /// For `flag`: the field set true.
    public var field: String?

    public init(action: Action, field: String? = nil) {
        self.action = action
        self.field = field
    }

    /// The default field a `flag` sets on a Salesforce counterpart.
    public static let defaultFlagField = "EMR_Deleted__c"
}

/// What a mapping does when a record loses a merge at its source (`onMerge:`).
///
/// `relink`: the loser's link is retired (nothing is written to its counterpart again); when the
/// survivor has no counterpart yet, the loser's counterpart becomes the survivor's (its external id
/// is rewritten); when both have counterparts, the loser's is flagged "merged into …" in `field`
/// and the merge is held for a person as a conflict of kind `merge`: two records on the other side
/// are never joined automatically.
///
/// ```yaml
/// onMerge: { action: relink, field: EMR_Merged_Into__c }
/// ```
public struct MergeRule: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, CaseIterable {
        case relink
    }

    public var action: Action
    /// The text field of the loser's counterpart that says which record it was merged into.
    public var field: String

    public init(action: Action = .relink, field: String = MergeRule.defaultFlagField) {
        self.action = action
        self.field = field
    }

    public static let defaultFlagField = "EMR_Merged_Into__c"
}

extension InboundMapping {
    /// The fields the removal rules write on the Salesforce side (they must exist in the org).
    public var removalFields: [String] {
        [onDelete.action == .flag ? onDelete.field : nil, onMerge?.field].compactMap { $0 }
    }

    /// Whether the mapping's external id is the resource's own id: its Salesforce record stands
    /// for the resource alone, so a deletion can be flagged there. A mapping keyed by another
    /// resource's id (EpisodeOfCare into the patient's Contact) must not flag the shared record.
    var isKeyedByOwnID: Bool { externalIDField?.path?.description == "id" }
}
