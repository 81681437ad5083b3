import ArgumentParser
import Foundation
import Logging
import Sandbox
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkPostgres

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
              swift run -c release stagelink bench --only postgres --postgres "$(scripts/test-postgres.sh url)"
              swift run -c release stagelink bench --only failover --postgres "$(scripts/test-postgres.sh url)"
              swift run -c release stagelink bench --only concurrency --latency salesforce=150ms,emr=80ms
              swift run -c release stagelink bench --only full-load --latency salesforce=150ms,emr=80ms
              swift run -c release stagelink bench --only steady-cycle --patients 100000
            """,
        subcommands: [ConsoleMemoryProbe.self]
    )

    @Flag(help: "Run at a tenth of the full sizes (for CI and a quick look).")
    var quick = false

    @Option(help: "Run only the figures whose name contains this text (for example: link).")
    var only: String?

    @Option(help: "The mapping and policy file.")
    var mapping = "config/mapping.yaml"

    @Option(help: "A PostgreSQL server of one's own (postgres://…): adds the PostgreSQL store's figures beside SQLite's.")
    var postgres: String?

    @Option(name: .customLong("lease-ttl"), help: "The failover figure's lease.ttl (default 30s, the configuration's default).")
    var leaseTTL: String?

    @Option(
        help: ArgumentHelp(
            "The API latency of the concurrency figures' sandbox, give or take a quarter.",
            discussion: "Those figures run a first load and a day's admissions at this latency with concurrency 4 and with concurrency 1.",
            valueName: "latency"))
    var latency = SandboxLatency(salesforce: .milliseconds(150), emr: .milliseconds(80))

    @Option(
        help: ArgumentHelp(
            "The full-load and steady-cycle sections' patients (default 100,000; --quick 10,000), their admissions a tenth and their steady cycle a twentieth of them.",
            discussion: "For sizes between --quick and the full load, for example to find at which size something starts to fail.",
            valueName: "count"))
    var patients: Int?

    func validate() throws {
        if let patients, patients < 20 { throw ValidationError("--patients takes at least 20 (the sequential reference runs on a twentieth)") }
    }

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
        // The failover figure runs two services for minutes: only when asked for by name.
        if only.map({ "failover".contains($0) && $0.count >= 4 }) == true {
            try await run("failover") { try await failover() }
        }
        if let postgres {
            let location = try PostgresLocation(parsing: postgres)
            try await run("postgres stage") { try await PostgresBenchmarks.staging(count: 100_000 / scale, location: location) }
            try await runAll("postgres link") { try await PostgresBenchmarks.linkingWrites(count: 100_000 / scale, location: location) }
            try await runAll("postgres linker") { try await PostgresBenchmarks.linking(count: 100_000 / scale, location: location, mapping: document) }
        }
        try await run("link") { try await EngineBenchmarks.linking(count: 100_000 / scale, mapping: document) }
        try await runAll("encryption") { try await EngineBenchmarks.encryption(count: 50_000 / scale, mapping: document) }
        if let postgres {
            let location = try PostgresLocation(parsing: postgres)
            try await run("postgres encryption") { try await PostgresBenchmarks.encryptedStaging(count: 50_000 / scale, location: location) }
        }
        try await runAll("clients") { try await ClientBenchmarks.run(records: 10_000 / scale) }
        try await runAll("bulk") { try await BulkBenchmarks.run(patients: 100_000 / scale) }
        try await runAll("bulk-ingest") { try await BulkIngestBenchmarks.run(records: 100_000 / scale) }
        try await runAll("reconcile") { try await ReconcileBenchmarks.run(records: 100_000 / scale, mapping: document) }
        try await runAll("sync") { try await SyncBenchmarks.inbound(patients: 10_000 / scale, assessmentsPerPatient: 2, mapping: document) }
        // At 150 ms / 80 ms a call, one at a time: 5,000 patients (≈ 20,000 records) and 200
        // admissions (a fiftieth of issue 22's 10,000) keep the whole section to a few minutes.
        try await runAll("concurrency") {
            try await ConcurrencyBenchmarks.run(patients: 5_000 / scale, admissions: 200 / scale, latency: latency, mapping: document)
        }
        // Issue 22's full benchmark: 100,000 patients (200,000 assessments, their episodes), 10,000
        // admissions, a steady cycle of 5,000 changes, beside one call at a time measured on a
        // twentieth (admissions: a fiftieth) and scaled. It takes a quarter of an hour: only when
        // asked for by name (`--only full-load`).
        if only.map({ "full-load".contains($0) && $0.count >= 4 }) == true {
            try await runAll("full-load") {
                let patients = patients ?? 100_000 / scale
                return try await FullLoadBenchmarks.run(
                    patients: patients, admissions: max(50, patients / 10), slice: 20, admissionSlice: 50, steadyChanges: patients / 20, latency: latency,
                    mapping: document)
            }
        }
        // The steady cycle alone: the full-load section's load, push and steady cycle without its
        // one-call-at-a-time reference (`--only steady-cycle --patients N`), only when asked for by name.
        if only.map({ "steady-cycle".contains($0) && $0.count >= 6 }) == true {
            try await runAll("steady-cycle") {
                let patients = patients ?? 100_000 / scale
                return try await FullLoadBenchmarks.steadyCycle(
                    patients: patients, admissions: max(50, patients / 10), steadyChanges: patients / 20, latency: latency, mapping: document)
            }
        }
        let mappingPath = mapping
        try await runAll("console") {
            try await ConsoleBenchmarks.run(rows: 1_000_000 / scale, failures: 50_000 / scale, mapping: document) { store in
                try ConsoleMemoryProbe.measure(store: store, mapping: mappingPath)
            }
        }
        print("")
        print(BenchmarkReport.table(figures))
    }

    /// The failover figure, on `--postgres`, else the server `STAGELINK_TEST_POSTGRES` names.
    private func failover() async throws -> BenchmarkFigure {
        guard let url = postgres ?? ProcessInfo.processInfo.environment["STAGELINK_TEST_POSTGRES"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw ValidationError("--only failover needs a PostgreSQL server: --postgres URL, or STAGELINK_TEST_POSTGRES (eval \"$(scripts/test-postgres.sh start)\").")
        }
        var logger = Logger(label: "stagelink.bench")
        logger.logLevel = .notice
        let ttl = try leaseTTL.map { try Duration.parse($0, in: StagelinkConfiguration.Limits.leaseTTL) } ?? StagelinkConfiguration.defaultLeaseTTL
        return try await FailoverBenchmark(location: PostgresLocation(parsing: url), leaseTTL: ttl, logger: logger).run()
    }
}

/// `stagelink bench console-memory-probe STORE`: a console over the store in a process of its own,
/// printing its peak resident memory — run by `stagelink bench`, whose own process holds what
/// building the store took.
struct ConsoleMemoryProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-memory-probe", abstract: "Prints the peak resident memory of a console over a store (used by bench).",
        shouldDisplay: false)

    @Argument(help: "The store.")
    var store: String

    @Option(help: "The mapping and policy file.")
    var mapping = "config/mapping.yaml"

    @Option(help: "A PostgreSQL server of one's own (postgres://…): adds the PostgreSQL store's figures beside SQLite's.")
    var postgres: String?

    func run() async throws {
        let document = try MappingDocument.load(contentsOf: mapping)
        let peak = try await ConsoleBenchmarks.residentPeak(path: store, mapping: document)
        print(String(format: "%.1f", peak))
    }

    /// Runs the probe as a child process of this executable and reads its answer.
    static func measure(store: String, mapping: String) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["bench", "console-memory-probe", store, "--mapping", mapping]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0, let value = Double(text.split(separator: "\n").last ?? "") else {
            throw ValidationError("the console memory probe failed (exit \(process.terminationStatus)): \(text)")
        }
        return value
    }
}
