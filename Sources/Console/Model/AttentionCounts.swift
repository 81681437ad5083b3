import StagelinkEngine

/// What waits for a person, so that nothing piles up unseen: the failed rows (on the Failures
/// tab, `3 Failures 17`) and the conflicts held for review (on the Conflicts tab,
/// `6 Conflicts 63 held`, and flagged in the header).
///
/// Read in the background after each change of the store; nil until first read.
struct AttentionCounts: Sendable, Hashable {
    var failed: Int?
    var heldConflicts: Int?

    static func load(store: any ConsoleStore) async throws -> AttentionCounts {
        AttentionCounts(failed: try await store.countRows(RowFilter(statuses: [.failed])), heldConflicts: try await store.countConflicts(status: .open))
    }

    /// A tab's title with its count: `Failures 17`, `Conflicts 63 held`; the bare name when
    /// nothing waits.
    func tabTitle(_ tab: ConsoleTab, format: TextFormat) -> String {
        switch tab {
        case .failures: failed.flatMap { $0 > 0 ? "\(tab) \(format.grouped($0))" : nil } ?? tab.description
        case .conflicts: heldConflicts.flatMap { $0 > 0 ? "\(tab) \(format.grouped($0)) held" : nil } ?? tab.description
        default: tab.description
        }
    }

    /// The flag for held conflicts, shown on the tab bar's right before the operator's name
    /// (`⚑ 63 held for review  alice`): the header's lines are full of the
    /// service's own state, and the flag must never cover its health.
    func flag(format: TextFormat) -> StyledLine {
        var line = StyledLine()
        guard let held = heldConflicts, held > 0 else { return line }
        line.append("⚑ \(format.grouped(held)) held for review", .warning)
        line.append("  ", .header)
        return line
    }
}
