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
        let credentials = try SandboxCredentials.generate()
        let directory = FileManager.default.temporaryDirectory.appending(path: "stagelink-bench-sync-\(UUID().uuidString)")
        let files = try credentials.write(to: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = SandboxConfiguration(credentials: credentials)
        configuration.patientCount = patients
        configuration.assessmentsPerPatient = assessmentsPerPatient...assessmentsPerPatient
        configuration.badShare = 0
        configuration.referralCount = 1
        configuration.dailyAPILimit = 100_000_000
        configuration.customFields = CustomFieldSpec.fields(of: mapping)
        let sandbox = try await Sandbox.start(configuration, logger: silent)
        defer { Task { await sandbox.stop() } }

        let user = credentials.salesforceUser
        let salesforce = try await SalesforceClient(
            configuration: SalesforceConfiguration(
                loginURL: URL(string: sandbox.salesforceURL)!,
                authentication: .jwtBearer(consumerKey: user.consumerKey, username: user.username, privateKeyFile: files.salesforcePrivateKey.path)),
            logger: silent)
        let emr = try await FHIRClient(
            configuration: FHIRConfiguration(
                baseURL: URL(string: sandbox.fhirURL)!, clientID: credentials.fhirClient.clientID, privateKeyFile: files.fhirPrivateKey.path,
                signingAlgorithm: credentials.fhirAlgorithm == "RS384" ? .rs384 : .es384),
            logger: silent)
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
