/// A row of eighth-blocks showing a series at a glance (`▁▂▅█▃`), scaled to its own maximum.
///
/// Zero is drawn as the lowest block rather than a gap, so that a quiet cycle still shows that it ran.
enum Sparkline {
    static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// The newest `width` values as blocks, oldest on the left.
    static func text(_ values: [Int], width: Int) -> String {
        let shown = values.suffix(max(0, width))
        guard let maximum = shown.max(), maximum > 0 else { return String(repeating: blocks[0], count: shown.count) }
        return String(shown.map { value in
            value <= 0 ? blocks[0] : blocks[min(blocks.count - 1, (value * (blocks.count - 1) + maximum - 1) / maximum)]
        })
    }
}
