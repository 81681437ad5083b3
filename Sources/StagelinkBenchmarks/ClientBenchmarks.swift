import FHIRClient
import Foundation
import Logging
import SalesforceClient
import Sandbox
import StagelinkEngine
import StagelinkHTTP

/// The client figures of `stagelink bench`: records pulled per second from the FHIR sandbox,
/// records upserted per second into the Salesforce sandbox, and API calls per 1,000 records
/// upserted, each beside a reference measured in the same run.
///
/// The references: the sandbox's own raw URLSession loop over the same pages and 200-record
/// batches (what the clients add on top of bare HTTP), and a naive upsert of one record per call
/// (what batching saves).
///
/// For example:
///
/// ```swift
/// for figure in try await ClientBenchmarks.run(records: 5_000) {
///     print(figure.name, figure.value, figure.unit, figure.ratio ?? 0)
/// }
/// ```
public enum ClientBenchmarks {
    /// The most records the naive reference upserts one call each; its rate and its calls per
    /// record do not change with more.
    static let naiveSample = 1_000

    public static func run(records: Int) async throws -> [BenchmarkFigure] {
        let count = max(1, records)
        let reference = try await SandboxBenchmark.run(patients: count, records: count, logger: silent)
        return try await BenchmarkSandbox.with("clients") { $0.patientCount = count } _: { systems in
            try await measure(systems, records: count, reference: reference)
        }
    }

    private static func measure(_ systems: BenchmarkSandbox, records: Int, reference: SandboxBenchmark.Result) async throws -> [BenchmarkFigure] {
        let emr = try await systems.fhirClient()
        let salesforce = try await systems.salesforceClient()

        // Tokens first, so that the timings are of the work alone.
        _ = try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 1), after: nil)
        _ = try await salesforce.integrationUserID()

        var pulled: [IncomingRecord] = []
        var cursor: PageCursor?
        let pullStart = ContinuousClock.now
        repeat {
            let page = try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 1000), after: cursor)
            pulled += page.records
            cursor = page.next
        } while cursor != nil
        let pullSeconds = seconds(since: pullStart)
        guard pulled.count == records else { throw BenchmarkFailure("pulled \(pulled.count) of \(records) Patients") }

        let contacts = pulled.map { contact(from: $0, prefix: "bench") }
        let callsBefore = salesforce.meter.calls
        let upsertStart = ContinuousClock.now
        let results = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: contacts)
        let upsertSeconds = seconds(since: upsertStart)
        let batchedCalls = salesforce.meter.calls - callsBefore
        guard results.allSatisfy({ if case .success = $0 { true } else { false } }) else {
            throw BenchmarkFailure("not every Contact was upserted")
        }

        let naive = pulled.prefix(naiveSample).map { contact(from: $0, prefix: "naive") }
        let naiveCallsBefore = salesforce.meter.calls
        let naiveStart = ContinuousClock.now
        for record in naive {
            _ = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [record])
        }
        let naiveSeconds = seconds(since: naiveStart)
        let naiveCalls = salesforce.meter.calls - naiveCallsBefore

        let pullRate = Double(records) / pullSeconds
        let upsertRate = Double(records) / upsertSeconds
        let naiveRate = Double(naive.count) / naiveSeconds
        let callsPerThousand = Double(batchedCalls) * 1000 / Double(records)
        let naiveCallsPerThousand = Double(naiveCalls) * 1000 / Double(naive.count)
        return [
            BenchmarkFigure(
                name: "FHIR simulator: resources served on search pages (1,000 a page)", value: reference.fhirResourcesPerSecond,
                unit: "resources/s", target: "≥ 5,000", meetsTarget: reference.fhirResourcesPerSecond >= 5_000),
            BenchmarkFigure(
                name: "Salesforce simulator: records accepted by collections upsert (200 a call)", value: reference.salesforceRecordsPerSecond,
                unit: "records/s", target: "≥ 5,000", meetsTarget: reference.salesforceRecordsPerSecond >= 5_000),
            BenchmarkFigure(
                name: "pull \(records) FHIR Patients through FHIRClient (1,000 a page)", value: pullRate, unit: "records/s",
                reference: .init(name: "raw URLSession over the same pages", value: reference.fhirResourcesPerSecond)),
            BenchmarkFigure(
                name: "upsert \(records) Contacts through SalesforceClient (sObject Collections, 200 a call)", value: upsertRate,
                unit: "records/s",
                reference: .init(name: "raw URLSession, 200 a call", value: reference.salesforceRecordsPerSecond)),
            BenchmarkFigure(
                name: "upsert \(naive.count) Contacts one call each (naive)", value: naiveRate, unit: "records/s",
                reference: .init(name: "SalesforceClient, 200 a call", value: upsertRate)),
            BenchmarkFigure(
                name: "API calls per 1,000 records upserted", value: callsPerThousand, unit: "calls/1000 records",
                reference: .init(name: "naive, one call per record", value: naiveCallsPerThousand), target: "≤ 6",
                meetsTarget: callsPerThousand <= 6),
        ]
    }

    /// The Contact a Patient becomes, read straight from the resource (the mapper is measured elsewhere).
    static func contact(from record: IncomingRecord, prefix: String) -> TargetRecord {
        let resource = try? JSONValue(parsing: record.payload)
        let name = resource?["name"]?[0]
        let gender: String =
            switch resource?["gender"]?.stringValue {
            case "male": "Male"
            case "female": "Female"
            case "other": "Other"
            default: "Unknown"
            }
        return TargetRecord(fields: [
            MappedField(name: "EMR_Patient_Id__c", value: .text("\(prefix)-\(record.sourceID)")),
            MappedField(name: "FirstName", value: name?["given"]?[0]?.stringValue.map(FieldValue.text) ?? .null),
            MappedField(name: "LastName", value: .text(name?["family"]?.stringValue ?? "Unknown")),
            MappedField(name: "Birthdate", value: resource?["birthDate"]?.stringValue.map(FieldValue.text) ?? .null),
            MappedField(name: "Gender__c", value: .text(gender)),
        ])
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let (whole, attoseconds) = (ContinuousClock.now - start).components
        return max(1e-9, Double(whole) + Double(attoseconds) / 1e18)
    }

    private static let silent = Logger(label: "stagelink.bench") { _ in SwiftLogNoOpLogHandler() }
}

/// Why a benchmark run could not measure what it set out to.
struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
