import ArgumentParser
import Foundation
import StagelinkBenchmarks
import StagelinkEngine

/// `stagelink bench`: every performance figure, each beside a reference measured in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measures every performance figure and prints it beside its reference.",
        discussion: """
            Each figure is measured next to a reference taken in the same run (raw sqlite3 inserts, \
            one API call per record), so that the ratio means something on a shared machine. Build \
            in release mode for real figures.

            Example:
              swift run -c release stagelink bench
              swift run -c release stagelink bench --quick
            """
    )

    @Flag(help: "Run at a tenth of the full sizes (for CI and a quick look).")
    var quick = false

    @Option(help: "Run only the figures whose name contains this text (for example: link).")
    var only: String?

    @Option(help: "The mapping and policy file.")
    var mapping = "config/mapping.yaml"

    func run() async throws {
        let scale = quick ? 10 : 1
        let document = try MappingDocument.load(contentsOf: mapping)
        var figures: [BenchmarkFigure] = []
        func runAll(_ name: String, _ benchmark: () async throws -> [BenchmarkFigure]) async throws {
            guard only.map({ name.contains($0) }) ?? true else { return }
            for figure in try await benchmark() {
                figures.append(figure)
                print("measured: \(figure.name)")
            }
        }
        func run(_ name: String, _ benchmark: () async throws -> BenchmarkFigure) async throws {
            try await runAll(name) { [try await benchmark()] }
        }
        try await run("memory") { try await EngineBenchmarks.stagingMemory(count: 1_000_000 / scale) }
        try await run("stage") { try await EngineBenchmarks.staging(count: 100_000 / scale) }
        try await run("link") { try await EngineBenchmarks.linking(count: 100_000 / scale, mapping: document) }
        try await runAll("clients") { try await ClientBenchmarks.run(records: 10_000 / scale) }
        try await runAll("sync") { try await SyncBenchmarks.inbound(patients: 10_000 / scale, assessmentsPerPatient: 2, mapping: document) }
        try await runAll("console") { try await ConsoleBenchmarks.run(rows: 1_000_000 / scale, failures: 50_000 / scale, mapping: document) }
        print("")
        print(BenchmarkReport.table(figures))
    }
}
