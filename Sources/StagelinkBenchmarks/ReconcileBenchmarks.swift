import Foundation
import Logging
import SalesforceClient
import Sandbox
import StagelinkEngine
import StagelinkStore

/// The reconciliation figures of issue 16: `records` Contacts in the Salesforce simulator, each
/// staged and linked in the store, reconciled over loopback — once with nothing to find (the
/// listing alone: `SELECT Id, SystemModstamp, IsDeleted, MasterRecordId FROM Contact` by QueryAll,
/// 2,000 a call) and once after 1 % of them changed and 0.1 % left the Recycle Bin for good.
///
/// For example:
///
/// ```swift
/// for figure in try await ReconcileBenchmarks.run(records: 100_000, mapping: mapping) { print(figure.name, figure.value) }
/// ```
public enum ReconcileBenchmarks {
    public static func run(records: Int, mapping: MappingDocument) async throws -> [BenchmarkFigure] {
        let count = max(100, records)
        return try await BenchmarkSandbox.with("reconcile", {
            $0.patientCount = 1
            $0.assessmentsPerPatient = 0...0
            $0.referralCount = count
            $0.customFields = CustomFieldSpec.fields(of: mapping)
        }) { systems in
            let sandbox = systems.sandbox
            let salesforce = try await systems.salesforceClient()
            let store = try SQLiteStore.temporary("bench-reconcile")
            defer { EngineBenchmarks.discard(store) }
            let fields = SyncCycle(store: store, mapping: mapping, endpoints: SyncEndpoints()).outboundLinker.pullFields(for: "Contact")

            // The store's state: every Contact staged as a pull would, and linked to a Patient.
            var ids: [String] = []
            var cursor: PageCursor?
            repeat {
                let page = try await salesforce.page(DeltaRequest(resourceType: "Contact", since: nil, fields: fields, pageSize: 2_000), after: cursor)
                let staged = try await store.stage(page.records, job: nil, advancing: nil)
                let now = Date()
                try await store.record(
                    zip(page.records, staged.rowIDs).map { record, rowID in
                        LinkOutcome(
                            rowID: rowID, actor: .system, at: now, status: .linked, attempt: .linked,
                            links: [
                                RecordLink(
                                    source: SourceKey(system: .salesforce, resourceType: "Contact", sourceID: record.sourceID), targetType: "Patient",
                                    targetID: "bench-\(record.sourceID)", recordKey: "bench-\(record.sourceID)", linkedRowID: rowID,
                                    linkedVersion: record.recordVersion, updatedAt: now)
                            ])
                    })
                ids += page.records.map(\.sourceID)
                cursor = page.next
            } while cursor != nil
            guard ids.count == count else { throw BenchmarkFailure("\(ids.count) of \(count) Contacts were staged and linked") }

            let clean = try await reconcile(store: store, salesforce: salesforce, fields: fields)
            guard clean.counts.checked == count, clean.counts.changed == 0, clean.counts.missing == 0 else {
                throw BenchmarkFailure("a reconciliation with nothing to find reported \(clean.counts)")
            }
            // 1 % changed by a person in the org, 0.1 % deleted and purged from the Recycle Bin.
            let changed = count / 100
            let purged = count / 1_000
            sandbox.clock.advance(by: .seconds(1))
            for id in ids.prefix(changed) {
                try sandbox.inspection.editSalesforceRecord("Contact", id: id, fields: WireObject([("Phone", "(555) 010-0000")]))
            }
            for id in ids.suffix(purged) { try sandbox.inspection.deleteSalesforceRecord("Contact", id: id) }
            sandbox.inspection.ageRecycleBin(days: 16)
            let found = try await reconcile(store: store, salesforce: salesforce, fields: fields)
            guard found.counts.changed == changed, found.counts.missing == purged, found.counts.staged == changed + purged else {
                throw BenchmarkFailure("after \(changed) changes and \(purged) purges a reconciliation reported \(found.counts)")
            }

            let label = "\(count.formatted()) linked Contacts at loopback"
            return [
                BenchmarkFigure(
                    name: "reconciliation of \(label), nothing to find", value: clean.seconds, unit: "s", target: "≤ 60 s", meetsTarget: clean.seconds <= 60),
                BenchmarkFigure(
                    name: "Salesforce calls per 2,000 linked records, reconciliation with nothing to find", value: Double(clean.calls) * 2_000 / Double(count),
                    unit: "calls/2000 records", target: "≤ 1", meetsTarget: Double(clean.calls) * 2_000 / Double(count) <= 1),
                BenchmarkFigure(
                    name: "reconciliation of \(label), \(changed.formatted()) changed and \(purged.formatted()) purged (fetched, staged, held)",
                    value: found.seconds, unit: "s", target: "≤ 60 s", meetsTarget: found.seconds <= 60),
                BenchmarkFigure(
                    name: "Salesforce calls per 2,000 linked records, reconciliation with 1 % changed", value: Double(found.calls) * 2_000 / Double(count),
                    unit: "calls/2000 records"),
            ]
        }
    }

    private static func reconcile(store: SQLiteStore, salesforce: SalesforceClient, fields: [String]) async throws -> (
        seconds: Double, calls: Int, counts: Job.Counts
    ) {
        let recorder = try await JobRecorder.start(.reconcile, direction: .outbound, actor: .system, store: store, meters: [], logger: silent)
        let calls = salesforce.meter.calls
        let start = ContinuousClock.now
        try await Reconciler(store: store, source: salesforce).reconcile(
            "Contact", fields: fields, carrying: ["EMR_Patient_Id__c"], into: recorder, stop: StopSignal())
        let seconds = (ContinuousClock.now - start).seconds
        let job = try await recorder.finish()
        return (seconds, salesforce.meter.calls - calls, job.counts)
    }

    private static let silent = Logger(label: "stagelink.bench") { _ in SwiftLogNoOpLogHandler() }
}
