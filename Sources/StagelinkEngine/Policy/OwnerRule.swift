import Foundation

/// A field's source of truth: who wins when both systems changed it since the last sync.
public enum OwnerRule: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// The EMR's value wins.
    case emr
    /// Salesforce's value wins.
    case salesforce
    /// The EMR wins unless its value is blank; then Salesforce's value stays.
    case emrUnlessBlank = "emr-unless-blank"
    /// Salesforce wins unless its value is blank; then the EMR's value is taken.
    case salesforceUnlessBlank = "salesforce-unless-blank"
    /// Nobody wins by rule: the conflict waits for a person.
    case hold

    public var description: String { rawValue }

    /// Whether Salesforce's changes to this field may be written into the EMR. Clinical fields
    /// owned outright by the EMR are never written into it from Salesforce.
    public var salesforceMayWriteEMR: Bool { self != .emr }

    /// The winner of a conflict between these two values, or nil when a person must decide.
    public func winner(emr: FieldValue, salesforce: FieldValue) -> SourceSystem? {
        switch self {
        case .emr: .emr
        case .salesforce: .salesforce
        case .emrUnlessBlank: emr.isBlank ? .salesforce : .emr
        case .salesforceUnlessBlank: salesforce.isBlank ? .emr : .salesforce
        case .hold: nil
        }
    }
}

/// The rule in force for one mapped field, and its last change.
public struct PolicyRule: Sendable, Hashable {
    public var object: String
    public var field: String
    public var rule: OwnerRule
    public var changedBy: Actor
    public var changedAt: Date
    public var reason: String?

    public init(object: String, field: String, rule: OwnerRule, changedBy: Actor, changedAt: Date, reason: String?) {
        self.object = object
        self.field = field
        self.rule = rule
        self.changedBy = changedBy
        self.changedAt = changedAt
        self.reason = reason
    }

    /// `Contact.Birthdate`.
    public var qualifiedField: String { "\(object).\(field)" }
}

/// One change of a policy rule, kept forever (the store refuses to update or delete these).
public struct PolicyAuditEntry: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var at: Date
    public var actor: Actor
    public var object: String
    public var field: String
    public var oldRule: OwnerRule?
    public var newRule: OwnerRule
    public var reason: String?

    public init(id: Int64, at: Date, actor: Actor, object: String, field: String, oldRule: OwnerRule?, newRule: OwnerRule, reason: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.object = object
        self.field = field
        self.oldRule = oldRule
        self.newRule = newRule
        self.reason = reason
    }
}
