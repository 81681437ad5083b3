import StagelinkEngine

// How each kind of status looks: a symbol and a word always, a role for its colour. Colour is
// never the only signal.

extension RowStatus {
    var role: Role {
        switch self {
        case .linked: .ok
        case .failed: .error
        case .held: .warning
        case .staged: .pending
        case .superseded, .ignored: .inactive
        case .withheld: .warning
        }
    }

    /// `✗ failed`.
    var cell: Span { Span("\(symbol) \(rawValue)", role) }
}

extension Job.Status {
    var symbol: String {
        switch self {
        case .running: "▶"
        case .succeeded: "✓"
        case .partial: "◐"
        case .failed: "✗"
        case .interrupted: "⊘"
        }
    }

    var role: Role {
        switch self {
        case .running: .pending
        case .succeeded: .ok
        case .partial, .interrupted: .warning
        case .failed: .error
        }
    }

    var cell: Span { Span("\(symbol) \(rawValue)", role) }
}

extension Conflict.Status {
    var symbol: String {
        switch self {
        case .open: "?"
        case .decided: "⚖"
        case .resolved: "✓"
        }
    }

    var role: Role {
        switch self {
        case .open: .warning
        case .decided: .inactive
        case .resolved: .ok
        }
    }

    var cell: Span { Span("\(symbol) \(rawValue)", role) }
}

extension SyncEvent.Level {
    var symbol: String {
        switch self {
        case .info: "·"
        case .warning: "!"
        case .error: "✗"
        }
    }

    var role: Role {
        switch self {
        case .info: .body
        case .warning: .warning
        case .error: .error
        }
    }
}

extension SourceSystem {
    /// `EMR` or `SF`, for narrow columns.
    var shortName: String { self == .emr ? "EMR" : "SF" }
    /// `EMR` or `Salesforce`.
    var displayName: String { self == .emr ? "EMR" : "Salesforce" }
}

extension Job.Direction {
    /// `EMR → Salesforce`.
    var route: String { self == .inbound ? "EMR → Salesforce" : "Salesforce → EMR" }
}

extension OwnerRule {
    /// What the rule means, in the words of the mapping file's comment.
    var meaning: String {
        switch self {
        case .emr: "the EMR's value wins a conflict"
        case .salesforce: "Salesforce's value wins a conflict"
        case .emrUnlessBlank: "the EMR wins unless its value is blank"
        case .salesforceUnlessBlank: "Salesforce wins unless its value is blank"
        case .hold: "a conflict waits for a person (e / f on Conflicts)"
        }
    }
}
