import FHIRClient
import Foundation
import Logging
import Sandbox
import StagelinkEngine
import StagelinkStore
import Synchronization

/// The bulk pull figures of issue 14: Patients and QuestionnaireResponses pulled from the FHIR
/// simulator with Bulk Data export and staged, beside a `_lastUpdated` search pull of the same
/// records in the same run; resident memory from 10 % to 100 % of the lines; HTTP calls per 1,000
/// records.
///
/// For example:
///
/// ```swift
/// for figure in try await BulkBenchmarks.run(patients: 100_000) { print(figure.name, figure.value) }
/// ```
public enum BulkBenchmarks {
    public static func run(patients: Int) async throws -> [BenchmarkFigure] {
        let count = max(10, patients)
        return try await BenchmarkSandbox.with("bulk") { configuration in
            configuration.patientCount = count
            configuration.assessmentsPerPatient = 2...2
            configuration.bulkExport.duration = .zero
        } _: { systems in
            try await measure(systems, patients: count)
        }
    }

    static let types = ["Patient", "QuestionnaireResponse"]

    private static func measure(_ systems: BenchmarkSandbox, patients: Int) async throws -> [BenchmarkFigure] {
        let emr = try await systems.fhirClient()
        let expected = patients * 3
        // The token first, so that the timings are of the work alone.
        _ = try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 1), after: nil)

        // The reference: a search pull of the same records, 1,000 a page.
        let searchStore = try SQLiteStore.temporary("bench-search")
        defer { EngineBenchmarks.discard(searchStore) }
        let searchSampling = MemorySampling(tenPercentOf: expected)
        let searchCalls = emr.meter.calls
        let searchCPU = ProcessMemory.cpuSeconds()
        let searchStart = ContinuousClock.now
        let searchJob = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: searchStore, meters: [], logger: silent)
        let search = DeltaPuller(store: searchStore, source: SampledSearch(base: emr, sampling: searchSampling), pageSize: 1_000)
        for type in types { try await search.pull(type, into: searchJob, stop: StopSignal()) }
        let searchSeconds = (ContinuousClock.now - searchStart).seconds
        let searchCPUSeconds = ProcessMemory.cpuSeconds() - searchCPU
        let searchGrowth = ProcessMemory.residentMegabytes() - (searchSampling.atTenPercent ?? 0)
        let searched = await searchJob.job.counts.staged
        let searchCallsUsed = emr.meter.calls - searchCalls
        guard searched == expected else { throw BenchmarkFailure("the search pull staged \(searched) of \(expected) records") }

        // The bulk pull, sampling resident memory at 10 % and at the end of the lines.
        let bulkStore = try SQLiteStore.temporary("bench-bulk")
        defer { EngineBenchmarks.discard(bulkStore) }
        let sampling = MemorySampling(tenPercentOf: expected)
        let source = SampledSource(base: emr, sampling: sampling)
        let bulkCalls = emr.meter.calls
        let bulkCPU = ProcessMemory.cpuSeconds()
        let bulkStart = ContinuousClock.now
        let bulkJob = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: bulkStore, meters: [], logger: silent)
        let settings = BulkPullSettings(defaultPollInterval: .milliseconds(20))
        try await BulkPuller(store: bulkStore, source: source, settings: settings, batchSize: 1_000).pull(types, into: bulkJob, stop: StopSignal())
        let bulkSeconds = (ContinuousClock.now - bulkStart).seconds
        let bulkCPUSeconds = ProcessMemory.cpuSeconds() - bulkCPU
        let atEnd = ProcessMemory.residentMegabytes()
        let bulked = await bulkJob.job.counts.staged
        let bulkCallsUsed = emr.meter.calls - bulkCalls
        guard bulked == expected else { throw BenchmarkFailure("the bulk pull staged \(bulked) of \(expected) records") }
        let growth = atEnd - (sampling.atTenPercent ?? atEnd)

        let bulkRate = Double(bulked) / bulkSeconds
        let searchRate = Double(searched) / searchSeconds
        let label = "\(patients.formatted()) Patients + \((patients * 2).formatted()) QuestionnaireResponses"
        return [
            BenchmarkFigure(
                name: "bulk pull of \(label) (Bulk Data export, files of 10,000, staged line by line)", value: bulkRate, unit: "rows/s",
                reference: .init(name: "search pull of the same records, 1,000 a page", value: searchRate),
                target: "≥ 30,000 rows/s and ≥ 0.6× search", meetsTarget: bulkRate >= 30_000 && bulkRate >= 0.6 * searchRate),
            // CPU time (client, store and the in-process simulator together) does not depend on
            // how busy a shared machine is, unlike rows per second.
            BenchmarkFigure(
                name: "CPU time per 1,000 rows, bulk pull (client, store and simulator)", value: bulkCPUSeconds * 1_000_000 / Double(bulked),
                unit: "ms/1000 rows",
                reference: .init(name: "search pull of the same records", value: searchCPUSeconds * 1_000_000 / Double(searched))),
            BenchmarkFigure(
                name: "resident memory growth during the bulk pull, 10 % → 100 % of the lines", value: growth, unit: "MB",
                reference: .init(name: "the search pull's growth, 10 % → 100 %", value: searchGrowth), target: "< 20 MB",
                meetsTarget: growth < 20),
            BenchmarkFigure(
                name: "HTTP calls per 1,000 records, bulk pull (kick-off, polls, files)", value: Double(bulkCallsUsed) * 1_000 / Double(expected),
                unit: "calls/1000 records",
                reference: .init(name: "search pull, 1,000 a page", value: Double(searchCallsUsed) * 1_000 / Double(expected))),
        ]
    }

    /// Reads resident memory once the pull has handed on a tenth of the lines.
    final class MemorySampling: Sendable {
        private let state = Mutex<(seen: Int, sample: Double?)>((0, nil))
        let threshold: Int

        init(tenPercentOf total: Int) { threshold = max(1, total / 10) }

        func saw(_ count: Int) {
            state.withLock { state in
                state.seen += count
                if state.sample == nil, state.seen >= threshold { state.sample = ProcessMemory.residentMegabytes() }
            }
        }

        var atTenPercent: Double? { state.withLock { $0.sample } }
    }

    /// The FHIR client with every search page's records counted on their way to the store.
    struct SampledSearch: ChangeSource {
        let base: FHIRClient
        let sampling: MemorySampling
        var system: SourceSystem { base.system }
        var meter: APIMeter { base.meter }

        func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
            let page = try await base.page(request, after: cursor)
            sampling.saw(page.records.count)
            return page
        }
    }

    /// The FHIR client with every file's lines counted on their way to the store.
    struct SampledSource: BulkExportSource {
        let base: FHIRClient
        let sampling: MemorySampling
        var system: SourceSystem { base.system }
        var meter: APIMeter { base.meter }

        func kickOff(_ request: BulkExportRequest) async throws(RemoteCallError) -> String { try await base.kickOff(request) }
        func status(_ statusURL: String) async throws(RemoteCallError) -> BulkExportStatus { try await base.status(statusURL) }
        func errorMessages(_ url: String) async throws(RemoteCallError) -> [String] { try await base.errorMessages(url) }
        func readFile(_ file: BulkManifest.File, batchSize: Int, _ body: ([IncomingRecord]) async throws -> Void) async throws {
            try await base.readFile(file, batchSize: batchSize) { records in
                try await body(records)
                sampling.saw(records.count)
            }
        }
    }

    private static let silent = Logger(label: "stagelink.bench") { _ in SwiftLogNoOpLogHandler() }
}
