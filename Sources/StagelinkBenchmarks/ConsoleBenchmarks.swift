import Console
import Foundation
import StagelinkEngine
import StagelinkStore

/// The console figures of issue 6, measured off-screen through the screen model on a store of a
/// million staged rows with 50,000 failures: first paint, keystroke to repaint for scrolling,
/// paging and filtering, and resident memory.
///
/// Each keystroke figure is the 95th percentile of repeated presses, from the key to the screen
/// model holding the new rows; counts in titles arrive later in the background and are measured
/// apart.
public enum ConsoleBenchmarks {
    /// `residentProbe` measures, in a process of its own, the peak resident memory of a console
    /// over the store at a path (the benchmark's own process holds what building the store took).
    public static func run(
        rows: Int = 1_000_000, failures: Int = 50_000, mapping: MappingDocument, residentProbe: (@Sendable (String) async throws -> Double)? = nil
    ) async throws -> [BenchmarkFigure] {
        let builder = try SQLiteStore.temporary("bench-console")
        defer { EngineBenchmarks.discard(builder) }
        let path = builder.path
        let buildSeconds = try await EngineBenchmarks.measure {
            try await SeededStore.fill(builder, mapping: mapping, rows: rows, failures: failures)
        }
        print("console benchmark store: \(rows.formatted()) rows built in \(String(format: "%.1f", buildSeconds)) s (removed afterwards)")
        var figures = try await measureConsole(path: path, rows: rows, failures: failures, mapping: mapping)
        figures += try await measureSearch(builder, rows: rows)
        if let residentProbe {
            let peak = try await residentProbe(path)
            figures.append(
                BenchmarkFigure(
                    name: "peak resident memory of a console process on that store, through the same keys", value: peak, unit: "MB",
                    target: "≤ 64 MB", meetsTarget: peak <= 64))
        }
        return figures
    }

    /// Opens a console on the store and presses the keys the benchmark presses, in this process;
    /// returns the peak resident memory. `stagelink bench` runs it in a child process.
    @MainActor
    public static func residentPeak(path: String, mapping: MappingDocument) async throws -> Double {
        let console = try openConsole(path: path, mapping: mapping)
        await console.start(settling: .screen)
        await console.settle()
        for key: Key in [.pageDown, .pageDown, .pageUp, .character("G"), .character("g"), .character("3"), .character("2")] {
            await console.press(key, settling: .screen)
        }
        await console.press(.character("/"))
        await console.type("failed\n")
        await console.press(.enter)
        await console.settle()
        return ProcessMemory.peakMegabytes()
    }

    /// A console on the store as `stagelink console --store PATH` opens it, at 120×40 on the
    /// Staged view, not yet started.
    @MainActor
    private static func openConsole(path: String, mapping: MappingDocument) throws -> HeadlessConsole {
        let store = try SQLiteStore(path: path)
        var configuration = ConsoleConfiguration(storePath: path, mapping: mapping, themes: ThemeLibrary(folders: []), usesColour: false)
        configuration.initialTab = .staged
        return try HeadlessConsole(
            store: store, actions: OperationsConsoleActions(operations: Operations(store: store, mapping: mapping, inbound: nil)),
            configuration: configuration, width: 120, height: 40)
    }

    @MainActor
    private static func measureConsole(path: String, rows: Int, failures: Int, mapping: MappingDocument) async throws -> [BenchmarkFigure] {
        let scale = "\(rows.formatted()) rows, \(failures.formatted()) failed"
        let residentBefore = ProcessMemory.residentMegabytes()
        var figures: [BenchmarkFigure] = []

        // First paint: open the store as `stagelink console` does, start, draw the Staged view.
        let opening = ContinuousClock.now
        let started = try openConsole(path: path, mapping: mapping)
        await started.start(settling: .screen)
        _ = started.screen
        let firstPaint = (ContinuousClock.now - opening).seconds
        let console = started
        figures.append(
            BenchmarkFigure(
                name: "console first paint, Staged view (\(scale))", value: firstPaint * 1000, unit: "ms", target: "≤ 200 ms",
                meetsTarget: firstPaint <= 0.2))
        let countingAll = ContinuousClock.now
        await console.settle()
        let countSeconds = (ContinuousClock.now - countingAll).seconds
        figures.append(BenchmarkFigure(name: "  then the title's count of all rows, in the background", value: countSeconds * 1000, unit: "ms"))

        /// Presses `keys` `repeats` times and times each to the repainted screen model; `prepare`
        /// runs once before, `setUp` before every press, neither timed.
        func keystroke(_ name: String, repeats: Int = 60, _ keys: [Key], prepare: [Key] = [], setUp: [Key] = []) async -> BenchmarkFigure {
            for key in prepare { await console.press(key, settling: .none) }
            var samples: [Double] = []
            for _ in 0..<repeats {
                // Typing a filter's setup starts a count per key: only the last one is waited for.
                for key in setUp { await console.press(key, settling: .none) }
                await console.settle()
                let start = ContinuousClock.now
                for key in keys { await console.press(key, settling: .screen) }
                _ = console.screen
                samples.append((ContinuousClock.now - start).seconds)
            }
            await console.settle()
            let p95 = percentile(samples, 0.95) * 1000
            return BenchmarkFigure(
                name: "keystroke → repaint: \(name) (p95 of \(repeats), median \(String(format: "%.2f", percentile(samples, 0.5) * 1000)) ms)", value: p95,
                unit: "ms", target: "≤ 30 ms", meetsTarget: p95 <= 30)
        }

        let toWindowBottom: [Key] = [.character("g")] + Array(repeating: .character("j"), count: 40)
        figures.append(await keystroke("j within the window", [.character("j")], setUp: [.character("g")]))
        figures.append(await keystroke("j past the window's edge (reads one row)", [.character("j")], prepare: toWindowBottom))
        figures.append(await keystroke("page down", [.pageDown]))
        figures.append(await keystroke("page up", [.pageUp], setUp: [.pageDown, .pageDown]))
        figures.append(await keystroke("G, to the last of \(rows.formatted()) rows", repeats: 20, [.character("G")], setUp: [.character("g")]))
        let filterSetUp: [Key] = [.escape, .character("/")]
        figures.append(await keystroke("filter: the last key of /failed", repeats: 20, [.character("d")], setUp: filterSetUp + Key.typing("faile")))
        figures.append(await keystroke("filter: Enter on code:INVALID_FIELD", repeats: 20, [.enter], setUp: filterSetUp + Key.typing("code:INVALID_FIELD")))
        figures.append(await keystroke("filter: the last key of free text p42", repeats: 10, [.character("2")], setUp: filterSetUp + Key.typing("p4")))
        figures.append(await keystroke("filter: Enter on /müller, a name one row in eight has", repeats: 20, [.enter], setUp: filterSetUp + Key.typing("müller")))
        let counting = ContinuousClock.now
        await console.press(.enter, .escape, .character("/"))
        await console.type("p42\n")
        figures.append(
            BenchmarkFigure(
                name: "  the title's count of the rows matching p42, in the background (the person index)",
                value: (ContinuousClock.now - counting).seconds * 1000, unit: "ms"))
        await console.press(.escape, .escape)
        figures.append(await keystroke("3, the Failures view (groups \(failures.formatted()) rows)", repeats: 10, [.character("3")], setUp: [.character("2")]))
        figures.append(await keystroke("enter on a failed row: its detail", repeats: 20, [.enter], prepare: [.character("2"), .character("/")] + Key.typing("failed\n"), setUp: [.escape]))

        let resident = ProcessMemory.residentMegabytes()
        figures.append(
            BenchmarkFigure(
                name: "resident memory of the benchmark's process after all of the above (\(scale))", value: resident, unit: "MB",
                reference: .init(name: "before the console opened the store", value: residentBefore)))
        return figures
    }

    /// A name search's first page through the store, as the console and `stagelink rows --text`
    /// read it: a common name (one patient in eight is a Müller), a name only one row has, an MRN,
    /// and a common name among the failed rows only.
    private static func measureSearch(_ store: SQLiteStore, rows: Int) async throws -> [BenchmarkFigure] {
        var figures: [BenchmarkFigure] = []
        let probes: [(name: String, filter: RowFilter)] = [
            ("müller (one row in eight)", RowFilter(text: "müller")),
            ("zoe muller, unaccented, both words", RowFilter(text: "zoe muller")),
            ("mallory (one row)", RowFilter(text: "mallory")),
            ("an MRN, MRN100042", RowFilter(text: "MRN100042")),
            ("failed müller (status and name)", RowFilter(statuses: [.failed], text: "müller")),
        ]
        for probe in probes {
            var samples: [Double] = []
            var found = 0
            for _ in 0..<40 {
                let start = ContinuousClock.now
                found = try await store.rows(RowQuery(filter: probe.filter, sort: RowSort(column: .id, descending: true), limit: 37)).count
                samples.append((ContinuousClock.now - start).seconds)
            }
            let p95 = percentile(samples, 0.95) * 1000
            figures.append(
                BenchmarkFigure(
                    name: "name search's first page (\(found) rows), \(probe.name), \(rows.formatted()) rows (p95 of 40, median \(String(format: "%.2f", percentile(samples, 0.5) * 1000)) ms)",
                    value: p95, unit: "ms", target: "≤ 50 ms", meetsTarget: p95 <= 50))
        }
        let counting = ContinuousClock.now
        let count = try await store.countRows(RowFilter(text: "müller"))
        figures.append(
            BenchmarkFigure(
                name: "  the count of the \(count.formatted()) rows matching müller (the title's, in the background)",
                value: (ContinuousClock.now - counting).seconds * 1000, unit: "ms"))
        return figures
    }

}
