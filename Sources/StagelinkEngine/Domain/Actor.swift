/// Who did something: a job of the service, a person at the CLI or console, or the policy file.
///
/// Stored as text (`job:42`, `operator:alice`, `file:config/mapping.yaml`) in every audit column.
public enum Actor: Sendable, Hashable, CustomStringConvertible {
    case job(Int64)
    case `operator`(String)
    case file(String)
    case system

    public init(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count == 2 ? parts[1] : nil) {
        case ("job", let id?): self = Int64(id).map(Actor.job) ?? .system
        case ("operator", let name?): self = .operator(name)
        case ("file", let path?): self = .file(path)
        default: self = .system
        }
    }

    public var description: String {
        switch self {
        case .job(let id): "job:\(id)"
        case .operator(let name): "operator:\(name)"
        case .file(let path): "file:\(path)"
        case .system: "system"
        }
    }

    /// The job behind this actor, when it is one.
    public var jobID: Int64? {
        if case .job(let id) = self { return id }
        return nil
    }
}
