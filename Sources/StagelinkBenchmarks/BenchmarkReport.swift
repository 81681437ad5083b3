import Foundation

/// The table `stagelink bench` prints: each figure beside its reference, the ratio, the target and
/// whether it is met, headed by the machine it ran on.
public enum BenchmarkReport {
    public static func table(_ figures: [BenchmarkFigure]) -> String {
        let header = ["figure", "value", "reference (same run)", "ratio", "target", "met"]
        var rows = [header]
        for figure in figures {
            rows.append([
                figure.name, "\(format(figure.value)) \(figure.unit)",
                figure.reference.map { "\(format($0.value)) \(figure.unit) — \($0.name)" } ?? "—",
                figure.ratio.map { String(format: "%.2f×", $0) } ?? "—", figure.target ?? "—",
                figure.meetsTarget.map { $0 ? "yes" : "NO" } ?? "—",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        let rule = widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")
        #if DEBUG
        let build = "debug build"
        #else
        let build = "release build"
        #endif
        let machine = "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB, Swift \(build)"
        return ([machine, line(header), rule] + rows.dropFirst().map(line)).joined(separator: "\n")
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? Int(value.rounded()).formatted() : String(format: "%.2f", value)
    }
}
