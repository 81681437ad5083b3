import FHIRClient
import Foundation
import Logging
import SalesforceClient
import Sandbox
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing



/// A sandbox, a fresh store, and the real clients wired into a sync cycle, as `stagelink run` does.
struct SyncHarness {
    let sandbox: Sandbox
    let harness: SandboxHarness
    let store: SQLiteStore
    let mapping: StagelinkEngine.MappingDocument
    var endpoints: SyncEndpoints
    var settings = SyncSettings(overlap: .seconds(5))

    static let mappingPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config/mapping.yaml").path

    static func start(
        patients: Int = 30, badShare: Double = 0.1, seed: UInt64 = 21, configure: (inout SandboxConfiguration) -> Void = { _ in }
    ) async throws -> SyncHarness {
        let harness = try await SandboxHarness.start(patients: patients, badShare: badShare, seed: seed, configure: configure)
        let store = try SQLiteStore.temporary("sync-e2e")
        let mapping = try StagelinkEngine.MappingDocument.load(contentsOf: mappingPath)
        try await mapping.loadPolicy(into: store)
        let salesforce = try await harness.salesforce()
        let emr = try await harness.fhir()
        let endpoints = SyncEndpoints(
            emrSource: emr, emrBulk: emr, emrWriter: emr, salesforceSource: salesforce, salesforceLookup: salesforce, salesforceTarget: salesforce,
            integrationUserID: { try? await salesforce.integrationUserID() })
        return SyncHarness(sandbox: harness.sandbox, harness: harness, store: store, mapping: mapping, endpoints: endpoints)
    }

    var cycle: SyncCycle { SyncCycle(store: store, mapping: mapping, endpoints: endpoints, settings: settings) }
    var operations: Operations { cycle.operations }
    var inspection: SandboxInspection { sandbox.inspection }

    @discardableResult
    func sync() async throws -> CycleReport {
        try await cycle.run(actor: .system, stop: StopSignal())
    }

    func stop() async { await sandbox.stop() }

    /// The staged rows of one source record, oldest first.
    func rows(_ system: SourceSystem, _ type: String, _ id: String) async throws -> [StagedRow] {
        let summaries = try await store.rows(RowQuery(filter: RowFilter(system: system, resourceType: type, text: id), limit: 100))
        var rows: [StagedRow] = []
        for summary in summaries where summary.sourceID == id {
            if let row = try await store.row(id: summary.id) { rows.append(row) }
        }
        return rows
    }

    /// The first admission at the ready stage that has a Contact: its id and its Contact's id.
    func readyAdmission() throws -> (id: String, contactID: String) {
        let admission = try #require(
            inspection.salesforceRecords("Admission__c").first { $0["Stage__c"]?.stringValue == "Ready for Intake" && $0["Contact__c"]?.stringValue != nil })
        return (try #require(admission["Id"]?.stringValue), try #require(admission["Contact__c"]?.stringValue))
    }

    /// Salesforce records of an object keyed by one of their fields.
    func salesforce(_ object: String, by field: String) -> [String: [SandboxJSON]] {
        Dictionary(grouping: inspection.salesforceRecords(object).filter { $0[field]?.stringValue != nil }, by: { $0[field]!.stringValue! })
    }

    /// FHIR resources of a type carrying an identifier of this system, keyed by its value.
    func fhir(_ type: String, identifiedBy system: String) -> [String: [SandboxJSON]] {
        var result: [String: [SandboxJSON]] = [:]
        for resource in inspection.fhirResources(type) {
            for identifier in resource["identifier"]?.arrayValue ?? [] where identifier["system"]?.stringValue == system {
                result[identifier["value"]?.stringValue ?? "", default: []].append(resource)
            }
        }
        return result
    }

    /// Writes the sandbox saw, by Stagelink's clients (mutations excluded).
    var writes: Int {
        inspection.counts().writes.values.reduce(0, +)
    }
}
