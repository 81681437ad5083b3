extension Array {
    /// Consecutive slices of at most `size` elements, in order: for `IN (…)` lists that must stay
    /// under SQLite's limit on parameters.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }

    /// The positions of the elements, grouped with those `together` with the group's first, groups
    /// in order of first appearance. Fast when groups are consecutive, as an outcome's are.
    func positionsGrouped(by together: (Element, Element) -> Bool) -> [[Int]] {
        var groups: [[Int]] = []
        for index in indices {
            if let last = groups.indices.last, together(self[groups[last][0]], self[index]) {
                groups[last].append(index)
            } else if let group = groups.firstIndex(where: { together(self[$0[0]], self[index]) }) {
                groups[group].append(index)
            } else {
                groups.append([index])
            }
        }
        return groups
    }
}
