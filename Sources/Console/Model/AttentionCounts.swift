import StagelinkEngine

/// What waits for a person, so that nothing piles up unseen: the failed rows (on the Failures
/// tab, `3 Failures 17`) and the conflicts held for review (on the Conflicts tab,
/// `6 Conflicts 63 held`, and flagged in the header).
///
/// Read in the background after each change of the store; nil until first read.
struct AttentionCounts: Sendable, Hashable {
    var failed: Int?
    var heldConflicts: Int?

    static func load(store: any SyncStore) async throws -> AttentionCounts {
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

    /// The header's flag for held conflicts, at the right end of its second line.
    func drawFlags(into screen: inout Screen, area: Rect, format: TextFormat) {
        guard let held = heldConflicts, held > 0, area.height > 1 else { return }
        let flag = " ⚑ \(format.grouped(held)) \(held == 1 ? "conflict" : "conflicts") held for review (6) "
        let x = area.maxX - 1 - DisplayWidth.of(flag)
        guard x > area.x else { return }
        screen.write(flag, x: x, y: area.y + 1, role: .warning)
    }
}
