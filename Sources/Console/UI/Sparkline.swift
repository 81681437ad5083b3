/// A row of eighth-blocks showing a series at a glance (`▁▂▅█▃`), scaled to its own maximum, or,
/// when one value towers over the rest (a first load of 50,000 among cycles of 200), to the
/// largest of the others, so that the rest are not flattened; the tower is drawn full.
///
/// Zero is drawn as the lowest block rather than a gap, so that a quiet cycle still shows that it ran.
enum Sparkline {
    static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// The newest `width` values as blocks, oldest on the left.
    static func text(_ values: [Int], width: Int) -> String {
        let shown = values.suffix(max(0, width))
        let maximum = scale(Array(shown))
        guard maximum > 0 else { return String(repeating: blocks[0], count: shown.count) }
        return String(shown.map { value in
            value <= 0 ? blocks[0] : blocks[min(blocks.count - 1, (min(value, maximum) * (blocks.count - 1) + maximum - 1) / maximum)]
        })
    }

    /// What the full block stands for: the maximum, or the second largest value when the maximum
    /// is more than four times it.
    static func scale(_ values: [Int]) -> Int {
        let sorted = values.sorted(by: >)
        guard sorted.count >= 3, sorted[1] > 0, sorted[0] > 4 * sorted[1] else { return sorted.first ?? 0 }
        return sorted[1]
    }
}
