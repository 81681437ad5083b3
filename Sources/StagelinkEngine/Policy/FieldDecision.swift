/// What to do with one field of a record that changed on one side.
///
/// A change made on one side only flows to the other side. When both sides changed the field
/// since the last sync and disagree, the field's rule names the winner: the winner's value
/// stands, the loser's is kept in a conflict for a reviewer, and under `hold` nothing moves until
/// a person decides.
///
/// For example, Salesforce owns Phone and both sides changed it:
///
/// ```swift
/// let decision = FieldDecision.decide(incoming: .text("555-0101"), from: .emr,
///                                     state: FieldState(synced: .text("555-0100"), salesforce: .text("555-0199")),
///                                     rule: .salesforce)
/// // .keep: Salesforce's 555-0199 stands; a conflict records the EMR's 555-0101
/// ```
public enum FieldDecision: Sendable, Hashable {
    /// This side did not change the field since the last sync: nothing to do.
    case unchanged
    /// Both sides already hold the same value: nothing to write; it becomes the synced value.
    case agreed
    /// Write the incoming value into the other side.
    case write(Reason)
    /// The other side's value wins a conflict and stays.
    case keep
    /// A person must decide; nothing is written.
    case hold

    public enum Reason: String, Sendable, Hashable {
        /// The first value seen for this field of this record.
        case firstSync = "first sync"
        /// Changed on this side only.
        case change = "changed on one side"
        /// Both sides changed it; the rule gave this side the win.
        case conflictWon = "won a conflict by rule"
        /// A person took this side's value.
        case resolution = "resolved by a person"
    }

    /// Whether the incoming value is written into the other side.
    public var writes: Bool {
        if case .write = self { return true }
        return false
    }

    /// Decides one field. `state` is what is known of the field for this record (nil if nothing);
    /// the returned conflict, if any, is what a reviewer sees.
    public static func decide(incoming: FieldValue, from side: SourceSystem, state: FieldState?, rule: OwnerRule) -> (FieldDecision, ConflictSides?) {
        let synced = state?.synced
        let other = state?.observed(on: side.other)
        if let synced, incoming == synced { return (.unchanged, nil) }
        if let other, other == incoming { return (.agreed, nil) }
        // The other side changed it too when its last-seen value differs from the last synced one;
        // with no sync yet, a differing non-blank value there counts as its own change.
        let otherChanged: Bool =
            switch (synced, other) {
            case (_, nil): false
            case (nil, let other?): !other.isBlank
            case (let synced?, let other?): other != synced
            }
        guard otherChanged, let other else {
            return (.write(synced == nil ? .firstSync : .change), nil)
        }
        let sides = side == .emr ? ConflictSides(emr: incoming, salesforce: other) : ConflictSides(emr: other, salesforce: incoming)
        switch rule.winner(emr: sides.emr, salesforce: sides.salesforce) {
        case side: return (.write(.conflictWon), sides.decided(by: side))
        case side.other: return (.keep, sides.decided(by: side.other))
        default: return (.hold, sides)
        }
    }
}

/// The two values of a conflict, and who won it (nil while it waits for a person).
public struct ConflictSides: Sendable, Hashable {
    public var emr: FieldValue
    public var salesforce: FieldValue
    public var winner: SourceSystem?

    public init(emr: FieldValue, salesforce: FieldValue, winner: SourceSystem? = nil) {
        self.emr = emr
        self.salesforce = salesforce
        self.winner = winner
    }

    func decided(by winner: SourceSystem) -> ConflictSides {
        ConflictSides(emr: emr, salesforce: salesforce, winner: winner)
    }
}
