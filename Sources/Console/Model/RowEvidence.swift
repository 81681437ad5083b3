import StagelinkEngine

/// Everything known about one staged row, for the detail pane: the row with its verbatim payload
/// and error, its status history, every link attempt, what it wrote (lineage) and the conflicts it
/// found.
struct RowEvidence: Sendable {
    var row: StagedRow
    var history: [RowTransition]
    var attempts: [LinkAttempt]
    var writes: [FieldWrite]
    var conflicts: [Conflict]
    /// The record this row depends on (its Patient, its Contact), and where it stands.
    var parent: ParentRecord? = nil

    static func load(id: Int64, store: any ConsoleStore) async throws -> RowEvidence? {
        guard let row = try await store.row(id: id) else { return nil }
        return RowEvidence(
            row: row, history: try await store.history(ofRow: id), attempts: try await store.attempts(ofRow: id),
            writes: try await store.writes(byRow: id), conflicts: try await store.conflicts(ConflictQuery(rowID: id, limit: 50)),
            parent: try await store.parents(ofRows: [id])[id])
    }
}
