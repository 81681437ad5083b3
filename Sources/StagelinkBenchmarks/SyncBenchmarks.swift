import FHIRClient
import Foundation
import Logging
import SalesforceClient
import Sandbox
import StagelinkEngine
import StagelinkStore

/// The end-to-end figure of issue 5: an inbound cycle — delta pull from the FHIR simulator,
/// staging, mapping, policy, sObject Collections upserts into the Salesforce simulator — over
/// loopback, with the Salesforce calls it took per 1,000 records.
public enum SyncBenchmarks {
    public static func inbound(patients: Int, assessmentsPerPatient: Int, mapping: MappingDocument) async throws -> [BenchmarkFigure] {
        try await BenchmarkSandbox.with("sync") { configuration in
            configuration.patientCount = patients
            configuration.assessmentsPerPatient = assessmentsPerPatient...assessmentsPerPatient
            configuration.customFields = CustomFieldSpec.fields(of: mapping)
        } _: { systems in
            try await measure(systems, patients: patients, assessmentsPerPatient: assessmentsPerPatient, mapping: mapping)
        }
    }

    private static func measure(_ systems: BenchmarkSandbox, patients: Int, assessmentsPerPatient: Int, mapping: MappingDocument) async throws -> [BenchmarkFigure] {
        let salesforce = try await systems.salesforceClient()
        let emr = try await systems.fhirClient()
        let store = try SQLiteStore.temporary("bench-sync")
        defer { EngineBenchmarks.discard(store) }
        try await mapping.loadPolicy(into: store)
        let endpoints = SyncEndpoints(emrSource: emr, salesforceTarget: salesforce, integrationUserID: { try? await salesforce.integrationUserID() })
        let cycle = SyncCycle(store: store, mapping: mapping, endpoints: endpoints, settings: SyncSettings(pageSize: 1_000), logger: silent)

        let start = ContinuousClock.now
        let report = try await cycle.run([.inbound], actor: .system, stop: StopSignal())
        let seconds = (ContinuousClock.now - start).seconds
        let counts = report.counts(.inbound)
        guard counts.failed == 0, counts.linked == counts.staged else {
            throw BenchmarkFailure("the cycle linked \(counts.linked) of \(counts.staged) staged records (\(counts.failed) failed)")
        }
        let salesforceCalls = salesforce.meter.calls
        let rate = Double(counts.linked) / seconds
        let callsPerThousand = Double(salesforceCalls) * 1_000 / Double(max(1, counts.linked))
        return [
            BenchmarkFigure(
                name: "inbound end to end: \(patients.formatted()) patients + \((patients * assessmentsPerPatient).formatted()) assessments (+ episodes) pulled, staged, linked",
                value: rate, unit: "records/s", target: "≥ 2,000", meetsTarget: rate >= 2_000),
            BenchmarkFigure(
                name: "Salesforce API calls per 1,000 records linked (token included)", value: callsPerThousand, unit: "calls/1000 records",
                reference: .init(name: "one call per record", value: 1_000), target: "≤ 6", meetsTarget: callsPerThousand <= 6),
        ]
    }

    private static let silent = Logger(label: "stagelink.bench") { _ in SwiftLogNoOpLogHandler() }
}
