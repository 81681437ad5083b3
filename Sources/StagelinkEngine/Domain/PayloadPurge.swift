import Foundation

/// One run of the retention purge (`retention.payloads`, `stagelink purge`): the payloads of linked,
/// superseded and ignored rows received before `cutoff` emptied, their hashes, statuses, history and
/// lineage kept. Failed, held, withheld and staged rows are never purged. Every purge that is not a
/// dry run is kept in an append-only audit.
public struct PayloadPurge: Sendable, Hashable {
    /// The audit entry's id; nil for a dry run.
    public var id: Int64?
    public var at: Date
    public var actor: Actor
    /// Rows received before this instant were eligible.
    public var cutoff: Date
    /// Rows whose payload was (or, in a dry run, would be) purged.
    public var rows: Int
    /// Payload bytes removed.
    public var bytes: Int
    /// Conflicts whose two values were (or would be) removed: decided or resolved conflicts found
    /// only by rows purged.
    public var conflicts: Int
    public var dryRun: Bool

    public init(id: Int64? = nil, at: Date, actor: Actor, cutoff: Date, rows: Int, bytes: Int, conflicts: Int = 0, dryRun: Bool) {
        self.id = id
        self.at = at
        self.actor = actor
        self.cutoff = cutoff
        self.rows = rows
        self.bytes = bytes
        self.conflicts = conflicts
        self.dryRun = dryRun
    }

    /// The statuses whose payloads a purge may remove: their record has moved on.
    public static let purgeable: Set<RowStatus> = [.linked, .superseded, .ignored]

    /// What is shown in place of a value the purge removed (lineage, conflicts).
    public static func valuePurgedText(at date: Date) -> String {
        "(value purged on \(date.formatted(.iso8601.year().month().day())) by retention)"
    }
}
