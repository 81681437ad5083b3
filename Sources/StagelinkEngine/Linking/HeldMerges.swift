import Foundation

/// Merges held for a person (conflicts of kind `merge`) that the other system's own merge of
/// the same two records completes: Stagelink settles them itself, naming the row that did it.
enum HeldMerges {
    /// The resolutions of the open merge conflicts on `record` that a merge of `loser` into
    /// `survivor` in `system` completes: held when the other system merged the counterparts of
    /// these two records, the loser's counterpart into the survivor's.
    static func completed(
        by system: SourceSystem, loser: String, survivor: String, record: MappedRecordKey, store: any HistoryReader, rowID: Int64, actor: Actor
    ) async throws -> [ConflictResolution] {
        let open = try await store.conflicts(ConflictQuery(statuses: [.open], object: record.object, recordKey: record.key, kind: .merge))
        return open.compactMap { conflict in
            guard let merge = conflict.merge, merge.mergedIn == system.other, merge.loserCounterpartID == loser, merge.survivorCounterpartID == survivor
            else { return nil }
            return ConflictResolution(
                conflictID: conflict.id, winner: merge.mergedIn, actor: actor,
                reason: "\(HeldMerge.Decision.merged.rawValue): merged in \(HeldMerge.place(system)) too (row \(rowID))")
        }
    }
}
