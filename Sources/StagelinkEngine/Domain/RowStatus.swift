/// Where a staged row stands.
///
/// `staged` → `linked` | `failed` | `superseded` | `ignored`, and `held` while a field of it waits
/// on a person to resolve a conflict. A failed row goes back to `staged` when it is retried.
public enum RowStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Received and stored verbatim; not yet linked.
    case staged
    /// Its values reached the other system (or already matched it).
    case linked
    /// The last link try failed; the row carries the error.
    case failed
    /// A newer version of the same record was already linked, so this one is never applied.
    case superseded
    /// An operator set it aside, with a reason.
    case ignored
    /// Linked except for fields that wait on a person to resolve a conflict.
    case held
    /// Never sent: a security label of the record (42 CFR Part 2, `ETH`…) is one the mapping's
    /// `sensitivity:` section blocks. The row keeps the evidence and names the label; it is not a
    /// failure and nothing retries it.
    case withheld

    /// A short symbol so that colour is never the only signal of a status.
    public var symbol: String {
        switch self {
        case .staged: "·"
        case .linked: "✓"
        case .failed: "✗"
        case .superseded: "↷"
        case .ignored: "⊘"
        case .held: "⏸"
        case .withheld: "⊗"
        }
    }
}
