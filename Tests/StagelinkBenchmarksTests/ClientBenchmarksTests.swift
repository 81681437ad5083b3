import Foundation
import StagelinkBenchmarks
import Testing

@Suite(.timeLimit(.minutes(10)))
struct ClientBenchmarksTests {
    @Test func aSmallRunReportsEveryFigureBesideItsReference() async throws {
        let figures = try await ClientBenchmarks.run(records: 60)
        #expect(figures.count == 6)
        #expect(figures.allSatisfy { $0.value > 0 })
        // The simulators' own figures stand on their targets; every client figure has a reference.
        #expect(figures.prefix(2).allSatisfy { $0.target == "≥ 5,000" && $0.reference == nil })
        #expect(figures.dropFirst(2).allSatisfy { ($0.reference?.value ?? 0) > 0 })
        let calls = try #require(figures.last)
        #expect(calls.unit == "calls/1000 records")
        #expect(calls.reference?.value == 1000)
    }

    /// Prints the figures for `STAGELINK_BENCH_RECORDS` records. In release mode the other test
    /// targets' `@testable` imports need `-Xswiftc -enable-testing`; `stagelink bench` calls
    /// ``ClientBenchmarks/run(records:)`` without it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STAGELINK_BENCH_RECORDS"] != nil))
    func measuredByHand() async throws {
        let records = Int(ProcessInfo.processInfo.environment["STAGELINK_BENCH_RECORDS"] ?? "") ?? 5000
        for figure in try await ClientBenchmarks.run(records: records) {
            let reference = figure.reference.map { " | \($0.name): \(String(format: "%.1f", $0.value))" } ?? ""
            let target = figure.target.map { " | target \($0): \(figure.meetsTarget == true ? "met" : "missed")" } ?? ""
            print("BENCH \(figure.name): \(String(format: "%.1f", figure.value)) \(figure.unit)\(reference)\(target)")
        }
    }
}
