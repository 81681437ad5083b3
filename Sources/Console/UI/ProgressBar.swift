/// A bar of full and light blocks for a fraction done (`████████░░░░`), with eighth-blocks at the
/// edge so that it moves smoothly.
enum ProgressBar {
    private static let partial: [Character] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"].map { $0.first ?? " " }

    static func text(fraction: Double, width: Int) -> String {
        guard width > 0 else { return "" }
        let clamped = min(1, max(0, fraction.isFinite ? fraction : 0))
        let eighths = Int((clamped * Double(width * 8)).rounded(.down))
        var bar = String(repeating: "█", count: eighths / 8)
        if eighths % 8 > 0 { bar.append(partial[eighths % 8]) }
        return bar + String(repeating: "░", count: max(0, width - DisplayWidth.of(bar)))
    }
}
