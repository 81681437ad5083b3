import Foundation
import SalesforceClient
import Sandbox
import StagelinkEngine

/// The Bulk API 2.0 figures of `stagelink bench`: a load of Contacts upserted by external id
/// through Bulk API 2.0 jobs (10,000 rows a job), beside the same load through sObject Collections
/// (200 a call) in the same run, into the Salesforce sandbox at loopback: seconds and API calls.
///
/// At loopback a call costs about a millisecond, so the seconds say what the client and the
/// simulator cost; the calls are what a real org's latency (100–500 ms a call) multiplies.
///
/// For example:
///
/// ```swift
/// for figure in try await BulkIngestBenchmarks.run(records: 100_000) { print(figure.name, figure.value) }
/// ```
public enum BulkIngestBenchmarks {
    public static func run(records: Int) async throws -> [BenchmarkFigure] {
        let count = max(1, records)
        return try await BenchmarkSandbox.with("bulk-ingest", { $0.patientCount = 0 }) { systems in
            let salesforce = try await systems.salesforceClient { $0.bulkPollInterval = .milliseconds(20) }
            _ = try await salesforce.integrationUserID()

            let collections = try await load(count, prefix: "collections", into: salesforce) { records in
                try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
            }
            let bulk = try await load(count, prefix: "bulk", into: salesforce) { records in
                var results: [RecordResult] = []
                // The linker hands over one batch of `bulkBatchSize` rows at a time.
                for start in stride(from: 0, to: records.count, by: SalesforceClient.bulkBatchSize) {
                    let batch = Array(records[start..<min(start + SalesforceClient.bulkBatchSize, records.count)])
                    results += try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: batch)
                }
                return results
            }
            return [
                BenchmarkFigure(
                    name: "upsert \(count) Contacts through Bulk API 2.0 (10,000 a job): seconds at loopback", value: bulk.seconds, unit: "s",
                    reference: .init(name: "sObject Collections, 200 a call", value: collections.seconds)),
                BenchmarkFigure(
                    name: "upsert \(count) Contacts through Bulk API 2.0 (10,000 a job): API calls", value: Double(bulk.calls), unit: "calls",
                    reference: .init(name: "sObject Collections, 200 a call", value: Double(collections.calls))),
            ]
        }
    }

    private static func load(
        _ count: Int, prefix: String, into salesforce: SalesforceClient, _ upsert: ([TargetRecord]) async throws -> [RecordResult]
    ) async throws -> (seconds: Double, calls: Int) {
        let records = (0..<count).map { index in
            TargetRecord(fields: [
                MappedField(name: "EMR_Patient_Id__c", value: .text("\(prefix)-\(index)")), MappedField(name: "FirstName", value: .text("Bench")),
                MappedField(name: "LastName", value: .text("Person \(index)")), MappedField(name: "Birthdate", value: .text("1980-01-01")),
                MappedField(name: "Gender__c", value: .text("Unknown")),
            ])
        }
        let callsBefore = salesforce.meter.calls
        let start = ContinuousClock.now
        let results = try await upsert(records)
        let elapsed = ContinuousClock.now - start
        guard results.count == count, results.allSatisfy({ if case .success = $0 { true } else { false } }) else {
            throw BenchmarkFailure("not every \(prefix) Contact was upserted")
        }
        return (elapsed.seconds, salesforce.meter.calls - callsBefore)
    }
}
