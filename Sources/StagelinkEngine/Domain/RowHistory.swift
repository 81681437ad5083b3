import Foundation

/// A change of a staged row's status: when, by whom, and why.
public struct RowTransition: Sendable, Hashable {
    public var rowID: Int64
    public var from: RowStatus?
    public var to: RowStatus
    public var at: Date
    public var actor: Actor
    public var note: String?

    public init(rowID: Int64, from: RowStatus?, to: RowStatus, at: Date, actor: Actor, note: String? = nil) {
        self.rowID = rowID
        self.from = from
        self.to = to
        self.at = at
        self.actor = actor
        self.note = note
    }
}

/// One try at linking a staged row. A retry adds an attempt; earlier ones stay.
public struct LinkAttempt: Sendable, Hashable {
    public var rowID: Int64
    public var number: Int
    public var at: Date
    public var actor: Actor
    public var outcome: Outcome
    public var error: LinkError?

    public enum Outcome: String, Sendable, Hashable, Codable {
        /// Values were written to the other system.
        case linked
        /// Nothing differed from the last sync, so nothing was written.
        case unchanged
        case failed
        case superseded
        /// Written, except fields held for review.
        case held
        /// Not sent: a security label blocks it.
        case withheld
    }

    public init(rowID: Int64, number: Int, at: Date, actor: Actor, outcome: Outcome, error: LinkError? = nil) {
        self.rowID = rowID
        self.number = number
        self.at = at
        self.actor = actor
        self.outcome = outcome
        self.error = error
    }
}
