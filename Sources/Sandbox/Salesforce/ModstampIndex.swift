/// One object's records ordered by `SystemModstamp`: what a delta query (`WHERE SystemModstamp >= …`)
/// reads instead of every record of the object.
///
/// Salesforce keeps this index itself: "The platform maintains indexes on the following fields for
/// most objects: … `Systemmodstamp` (`LastModifiedDate`)" (Best Practices for Deployments with Large
/// Data Volumes, "Indexes"), so a query filtered on it reads what changed since its bound, not the
/// whole object. For example:
///
/// ```swift
/// var index = ModstampIndex()
/// index.stamp("003000000000001AAA", at: 1_000)
/// index.stamp("003000000000002AAA", at: 2_000)
/// index.stamp("003000000000001AAA", at: 3_000)
/// index.ids(stampedSince: 1_500)  // ["003000000000002AAA", "003000000000001AAA"]
/// index.ids(stampedSince: 1_500, before: 3_000)  // ["003000000000002AAA"]
/// ```
struct ModstampIndex: Sendable {
    private struct Entry: Sendable {
        var stamp: Int64
        var id: String
    }

    /// Every stamp given, ordered by stamp (equal stamps in the order given); an entry whose id has
    /// been stamped again since, or removed, is stale: skipped by reads, dropped by compaction.
    private var entries: [Entry] = []
    /// Each indexed record's current stamp (milliseconds since 1970).
    private var stamps: [String: Int64] = [:]

    /// Records that `id` is stamped at `stamp` now. Stamps come from a clock that never goes back,
    /// so they are appended; an earlier one (a seed backdated) is put in its place.
    mutating func stamp(_ id: String, at stamp: Int64) {
        guard stamps[id] != stamp else { return }
        stamps[id] = stamp
        let entry = Entry(stamp: stamp, id: id)
        if let last = entries.last, last.stamp > stamp {
            entries.insert(entry, at: firstIndex(stampedAtOrAfter: stamp + 1))
        } else {
            entries.append(entry)
        }
        if entries.count > 2 * stamps.count + 1_024 {
            let current = stamps
            entries.removeAll { current[$0.id] != $0.stamp }
        }
    }

    /// Takes `id` out of the index (a record purged for good).
    mutating func remove(_ id: String) {
        stamps[id] = nil
    }

    /// The ids whose current stamp is at or after `stamp` and, with `end`, before it, ordered by
    /// stamp: a window's query (`SystemModstamp >= … AND SystemModstamp < …`) reads only its window.
    func ids(stampedSince stamp: Int64, before end: Int64? = nil) -> [String] {
        let lower = firstIndex(stampedAtOrAfter: stamp)
        let upper = end.map { max(lower, firstIndex(stampedAtOrAfter: $0)) } ?? entries.count
        var seen: Set<String> = []
        return entries[lower..<upper].compactMap { entry in
            stamps[entry.id] == entry.stamp && seen.insert(entry.id).inserted ? entry.id : nil
        }
    }

    /// The position of the first entry stamped at or after `stamp` (binary search).
    private func firstIndex(stampedAtOrAfter stamp: Int64) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].stamp < stamp { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
