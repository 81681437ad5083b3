/// The six views, switched with `1`–`6` or Tab.
public enum ConsoleTab: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case live = 1, staged, failures, policy, jobs, conflicts

    public var description: String {
        switch self {
        case .live: "Live"
        case .staged: "Staged"
        case .failures: "Failures"
        case .policy: "Policy"
        case .jobs: "Jobs"
        case .conflicts: "Conflicts"
        }
    }

    /// The name `:` commands and `--view` use (`failures`), with the short forms people type.
    public static func named(_ name: String) -> ConsoleTab? {
        switch name.lowercased() {
        case "live", "l": .live
        case "staged", "stage", "rows", "row", "s": .staged
        case "failures", "failure", "fail", "f": .failures
        case "policy", "pol", "p": .policy
        case "jobs", "job", "j": .jobs
        case "conflicts", "conflict", "con", "c": .conflicts
        default: nil
        }
    }

    var next: ConsoleTab { ConsoleTab(rawValue: rawValue % Self.allCases.count + 1) ?? .live }
    var previous: ConsoleTab { ConsoleTab(rawValue: (rawValue + Self.allCases.count - 2) % Self.allCases.count + 1) ?? .live }
}
