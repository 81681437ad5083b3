import FHIRClient
import Foundation
import Logging
import SalesforceClient
import Sandbox
import StagelinkEngine
import StagelinkStore

/// Issue 22's figures: a first load and a day of admissions at real API latency, with the calls
/// in flight that `salesforce.concurrency` and `emr.concurrency` allow, beside the same work one
/// call at a time (concurrency 1) in the same run.
///
/// Each run gets a sandbox of its own that answers after the latency (with jitter), a fresh
/// store and fresh clients:
/// - the first load: an inbound cycle pulling the patients, their assessments and episodes from
///   the FHIR simulator and upserting them into the Salesforce simulator;
/// - the admissions: every seeded admission set to "Ready for Intake", then an outbound cycle
///   creating each Patient and ServiceRequest in the EHR and writing both ids back to Salesforce.
public enum ConcurrencyBenchmarks {
    /// What one run measured.
    struct Run {
        var concurrency: Int
        var loadSeconds: Double
        var loadRecords: Int
        var loadSalesforceCalls: Int
        /// Where the load's time went, job by job: `EMR pull 31.2 s, Salesforce pull 4.1 s, link 40.3 s`.
        var loadSteps = ""
        var admissionSeconds: Double
        var admissions: Int
        var admissionEMRCalls: Int
        var admissionSalesforceCalls: Int
        /// The steady cycle after the load (nil when none was asked for): seconds and records linked.
        var steadySeconds: Double?
        var steadyLinked = 0
        /// Where the steady cycle's time went, job by job and between jobs (see ``parts(of:)``).
        var steadySteps = ""
    }

    /// How the clients of one run write: calls in flight, EHR batch size, Bulk API threshold.
    struct Setup {
        var concurrency: Int
        /// `emr.batchSize` (1: one request at a time).
        var batchSize: Int
        /// `salesforce.bulkThreshold` (0: never Bulk API).
        var bulkThreshold: Int

        static func concurrent(_ concurrency: Int) -> Setup {
            Setup(concurrency: concurrency, batchSize: FHIRConfiguration.defaultBatchSize, bulkThreshold: 10_000)
        }

        /// One call at a time, no batch Bundles, no Bulk API: how Stagelink worked before issue 22.
        static let sequential = Setup(concurrency: 1, batchSize: 1, bulkThreshold: 0)
    }

    public static func run(
        patients: Int, admissions: Int, concurrency: Int = SyncSettings.defaultConcurrency, latency: SandboxLatency, mapping: MappingDocument
    ) async throws -> [BenchmarkFigure] {
        // Concurrency alone: the EHR one request per write in both runs, as the figures before batch were.
        let sequential = try await measure(
            patients: patients, admissions: admissions, setup: Setup(concurrency: 1, batchSize: 1, bulkThreshold: 0), latency: latency, mapping: mapping)
        let concurrent = try await measure(
            patients: patients, admissions: admissions, setup: Setup(concurrency: concurrency, batchSize: 1, bulkThreshold: 0), latency: latency, mapping: mapping)
        let at = "at \(latency)"
        let loadSpeedup = sequential.loadSeconds / concurrent.loadSeconds
        let admissionSpeedup = sequential.admissionSeconds / concurrent.admissionSeconds
        return [
            BenchmarkFigure(
                name: "first load \(at), concurrency \(concurrency): \(concurrent.loadRecords.formatted()) records (\(patients.formatted()) patients + assessments + episodes)",
                value: concurrent.loadSeconds, unit: "s", reference: .init(name: "concurrency 1", value: sequential.loadSeconds),
                target: "faster than concurrency 1 (\(String(format: "%.1f", loadSpeedup))× now)", meetsTarget: loadSpeedup > 1),
            BenchmarkFigure(
                name: "first load: Salesforce API calls, concurrency \(concurrency)", value: Double(concurrent.loadSalesforceCalls), unit: "calls",
                reference: .init(name: "concurrency 1", value: Double(sequential.loadSalesforceCalls)), target: "no more than concurrency 1",
                meetsTarget: concurrent.loadSalesforceCalls <= sequential.loadSalesforceCalls),
            BenchmarkFigure(
                name: "\(concurrent.admissions.formatted()) admissions pushed to the EHR \(at), concurrency \(concurrency)", value: concurrent.admissionSeconds,
                unit: "s", reference: .init(name: "concurrency 1", value: sequential.admissionSeconds),
                target: "≥ 3× faster than concurrency 1 (\(String(format: "%.1f", admissionSpeedup))× now)", meetsTarget: admissionSpeedup >= 3),
            BenchmarkFigure(
                name: "admissions: EHR API calls, concurrency \(concurrency) (Salesforce: \(concurrent.admissionSalesforceCalls.formatted()))",
                value: Double(concurrent.admissionEMRCalls), unit: "calls",
                reference: .init(name: "concurrency 1 (Salesforce: \(sequential.admissionSalesforceCalls.formatted()))", value: Double(sequential.admissionEMRCalls)),
                target: "no more than concurrency 1", meetsTarget: concurrent.admissionEMRCalls <= sequential.admissionEMRCalls),
        ]
    }

    static func measure(
        patients: Int, admissions: Int, setup: Setup, steadyChanges: Int = 0, latency: SandboxLatency, mapping: MappingDocument
    ) async throws -> Run {
        try await BenchmarkSandbox.with("concurrency") { configuration in
            configuration.patientCount = patients
            configuration.assessmentsPerPatient = 2...2
            configuration.referralCount = admissions
            configuration.customFields = CustomFieldSpec.fields(of: mapping)
            configuration.latency = latency
        } _: { systems in
            try await measure(systems, admissions: admissions, setup: setup, steadyChanges: steadyChanges, mapping: mapping)
        }
    }

    static func measure(_ systems: BenchmarkSandbox, admissions: Int, setup: Setup, steadyChanges: Int, mapping: MappingDocument) async throws -> Run {
        let concurrency = setup.concurrency
        let sandbox = systems.sandbox
        // Every admission is ready for intake: each one is pushed.
        for admission in sandbox.inspection.salesforceRecords("Admission__c") {
            guard let id = admission["Id"]?.stringValue else { continue }
            try sandbox.inspection.editSalesforceRecord("Admission__c", id: id, fields: ["Stage__c": "Ready for Intake"])
        }
        let salesforce = try await systems.salesforceClient { $0.bulkThreshold = setup.bulkThreshold }
        let emr = try await systems.fhirClient(batchSize: setup.batchSize)
        let store = try SQLiteStore.temporary("bench-concurrency")
        // A run that fails keeps its store, so that its failed rows can be read afterwards.
        var keep = false
        defer { if !keep { EngineBenchmarks.discard(store) } }
        try await mapping.loadPolicy(into: store)
        let endpoints = SyncEndpoints(
            emrSource: emr, emrWriter: emr, salesforceSource: salesforce, salesforceTarget: salesforce,
            integrationUserID: { try? await salesforce.integrationUserID() })
        let settings = SyncSettings(pageSize: 1_000, salesforceConcurrency: concurrency, emrConcurrency: concurrency)
        let cycle = SyncCycle(store: store, mapping: mapping, endpoints: endpoints, settings: settings, logger: silent)

        let salesforceBefore = salesforce.meter.calls
        var start = ContinuousClock.now
        let load = try await cycle.run([.inbound], actor: .system, stop: StopSignal())
        let loadSeconds = (ContinuousClock.now - start).seconds
        let loaded = load.counts(.inbound)
        // Episodes labelled 42 CFR Part 2 are withheld, never sent: the rest all link.
        guard loaded.failed == 0, loaded.linked + loaded.withheld == loaded.staged, loaded.linked > 0 else {
            keep = true
            throw BenchmarkFailure(
                "the first load linked \(loaded.linked) of \(loaded.staged) staged records (\(loaded.failed) failed, \(loaded.withheld) withheld)"
                    + (await failures(in: store)))
        }
        let loadSalesforceCalls = salesforce.meter.calls - salesforceBefore

        let emrBefore = emr.meter.calls
        let salesforceBeforePush = salesforce.meter.calls
        start = ContinuousClock.now
        let push = try await cycle.run([.outbound], actor: .system, stop: StopSignal())
        let admissionSeconds = (ContinuousClock.now - start).seconds
        let pushed = push.counts(.outbound)
        let created = sandbox.inspection.fhirResources("ServiceRequest").count
        guard pushed.failed == 0, created == admissions else {
            keep = true
            throw BenchmarkFailure("the push created \(created) of \(admissions) ServiceRequests (\(pushed.failed) rows failed)" + (await failures(in: store)))
        }
        var run = Run(
            concurrency: concurrency, loadSeconds: loadSeconds, loadRecords: loaded.linked, loadSalesforceCalls: loadSalesforceCalls,
            loadSteps: steps(of: load), admissionSeconds: admissionSeconds, admissions: created, admissionEMRCalls: emr.meter.calls - emrBefore,
            admissionSalesforceCalls: salesforce.meter.calls - salesforceBeforePush)
        guard steadyChanges > 0 else { return run }
        // A steady cycle: clinicians change that many Patients in the EMR; one cycle carries them over.
        for patient in sandbox.inspection.fhirResources("Patient").prefix(steadyChanges) {
            guard var object = patient.objectValue, let id = object["id"]?.stringValue else { continue }
            object["gender"] = object["gender"]?.stringValue == "other" ? "unknown" : "other"
            try sandbox.inspection.editFHIRResource("Patient", id: id, resource: .object(object))
        }
        start = ContinuousClock.now
        let steady = try await cycle.run(actor: .system, stop: StopSignal())
        run.steadySeconds = (ContinuousClock.now - start).seconds
        run.steadyLinked = steady.counts(.inbound).linked
        run.steadySteps = parts(of: steady)
        return run
    }

    /// Each job of a cycle and how long it took: `EMR pull 31.2 s, Salesforce pull 4.1 s, link 40.3 s`.
    static func steps(of cycle: CycleReport) -> String {
        cycle.jobs.map(step).joined(separator: ", ")
    }

    /// One job and how long it took, with its calls and a pull's records: `link 40.3 s (310 calls)`,
    /// `Salesforce pull 2.1 s (14 calls, 6,666 read, 6,666 staged)`.
    private static func step(_ job: Job) -> String {
        let name = job.kind == .pull ? (job.direction == .inbound ? "EMR pull" : "Salesforce pull") : job.kind.rawValue
        let seconds = (job.finishedAt ?? job.startedAt).timeIntervalSince(job.startedAt)
        let counts = job.kind == .pull
            ? " (\(job.apiCalls.formatted()) calls, \(job.counts.pulled.formatted()) read, \(job.counts.staged.formatted()) staged)"
            : " (\(job.apiCalls.formatted()) calls)"
        return "\(name) \(String(format: "%.1f", seconds)) s\(counts)"
    }

    /// ``steps(of:)`` with the time between one job's end and the next one's start, where it is
    /// 0.1 s or more: what a cycle does outside its jobs (reading staged Contacts' values after
    /// the Salesforce pull, planning a reconciliation); jobs that ran at once are joined by
    /// `beside`. `EMR pull 2.5 s beside Salesforce pull 9.3 s, between 1.5 s, link 6.4 s, push 4.6 s`.
    static func parts(of cycle: CycleReport) -> String {
        var parts: [String] = []
        var previousEnd: Date?
        for job in cycle.jobs {
            if let previousEnd, job.startedAt.timeIntervalSince(previousEnd) >= 0.1 {
                parts.append("between \(String(format: "%.1f", job.startedAt.timeIntervalSince(previousEnd))) s")
            }
            // A job that started before the one before it ended ran beside it (the two pulls).
            if let previousEnd, job.startedAt < previousEnd, !parts.isEmpty {
                parts[parts.count - 1] += " beside \(step(job))"
            } else {
                parts.append(step(job))
            }
            previousEnd = max(previousEnd ?? .distantPast, job.finishedAt ?? job.startedAt)
        }
        return parts.joined(separator: ", ")
    }

    /// The failed rows of a run that failed, by error code (how many, of which types, the newest
    /// one's message), and where its store is kept, so that the run explains itself.
    static func failures(in store: SQLiteStore) async -> String {
        let groups = (try? await store.failureGroups()) ?? []
        let lines = groups.map { group in
            "\n  \(group.errorCode): \(group.count.formatted()) rows (\(group.resourceTypes.joined(separator: ", "))), the newest: \(group.sampleMessage)"
        }
        return (lines.isEmpty ? "" : "\nfailed rows by error code:" + lines.joined())
            + "\nthe run's store is kept: stagelink rows --store \(store.path) --status failed (remove its folder when done)"
    }

    private static let silent = Logger(label: "stagelink.bench") { _ in SwiftLogNoOpLogHandler() }
}
