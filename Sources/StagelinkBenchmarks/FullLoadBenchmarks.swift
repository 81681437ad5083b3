import Foundation
import Sandbox
import StagelinkEngine

/// Issue 22's full benchmark at real API latency: a first load of the given patients (two
/// assessments each, and their episodes), the admissions pushed to the EHR, and a steady cycle of
/// changed Patients, with everything issue 22 built on (concurrency, Bulk API 2.0 above
/// `salesforce.bulkThreshold`, FHIR batch Bundles); beside the same work done one call at a time,
/// without Bulk API and without batch, in the same run.
///
/// One call at a time, the full load would take hours at this latency, so the sequential reference
/// runs on a slice (`1/slice` of the patients, `1/admissionSlice` of the admissions) and on one
/// patient and one admission, and is extended along the line through the two
/// (``ScaledReference``): the one-patient run's seconds and calls (the tokens, the
/// CapabilityStatement, the first page of each type, the first call of each object) are counted
/// once, and what the slice cost beyond them is scaled by the records; the figure names say so.
/// Seconds and calls grow linearly with the records (one call per 200 records or per record, each
/// waiting for the last), so that is what the whole load would cost one call at a time.
public enum FullLoadBenchmarks {
    public static func run(
        patients: Int, admissions: Int, slice: Int, admissionSlice: Int, steadyChanges: Int, latency: SandboxLatency, mapping: MappingDocument
    ) async throws -> [BenchmarkFigure] {
        let full = try await ConcurrencyBenchmarks.measure(
            patients: patients, admissions: admissions, setup: .concurrent(SyncSettings.defaultConcurrency), steadyChanges: steadyChanges,
            latency: latency, mapping: mapping)
        let reference = try await ConcurrencyBenchmarks.measure(
            patients: max(1, patients / slice), admissions: max(1, admissions / admissionSlice), setup: .sequential, latency: latency, mapping: mapping)
        // Its fixed costs, measured apart: the same run for one patient and one admission.
        let fixed = try await ConcurrencyBenchmarks.measure(patients: 1, admissions: 1, setup: .sequential, latency: latency, mapping: mapping)
        func load(_ value: (ConcurrencyBenchmarks.Run) -> Double) -> ScaledReference {
            ScaledReference(fixed: (fixed.loadRecords, value(fixed)), slice: (reference.loadRecords, value(reference)))
        }
        func pushed(_ value: (ConcurrencyBenchmarks.Run) -> Double) -> ScaledReference {
            ScaledReference(fixed: (fixed.admissions, value(fixed)), slice: (reference.admissions, value(reference)))
        }
        let loadFactor = load(\.loadSeconds).factor(at: full.loadRecords)
        let admissionFactor = pushed(\.admissionSeconds).factor(at: full.admissions)
        let sequentialLoad = load(\.loadSeconds).value(at: full.loadRecords)
        let sequentialAdmissions = pushed(\.admissionSeconds).value(at: full.admissions)
        let loadSpeedup = sequentialLoad / full.loadSeconds
        let admissionSpeedup = sequentialAdmissions / full.admissionSeconds
        let once = "the one-patient run's \(String(format: "%.1f", fixed.loadSeconds)) s and \(fixed.loadSalesforceCalls) calls once"
        let scaled = "one call at a time, no Bulk API, no batch: \(once), the rest of 1/\(slice) scaled ×\(String(format: "%.1f", loadFactor))"
        let scaledAdmissions =
            "one request at a time: the one-admission run's \(String(format: "%.1f", fixed.admissionSeconds)) s once, "
            + "the rest of \(reference.admissions.formatted()) scaled ×\(String(format: "%.1f", admissionFactor))"
        var figures = [
            BenchmarkFigure(
                name: "full first load at \(latency): \(full.loadRecords.formatted()) records (\(patients.formatted()) patients, their assessments and episodes; "
                    + "\(full.loadSteps))",
                value: full.loadSeconds, unit: "s", reference: .init(name: scaled + " (the slice: \(reference.loadSteps))", value: sequentialLoad),
                target: "≤ 180 s and ≥ 5× faster (\(String(format: "%.1f", loadSpeedup))× now)", meetsTarget: full.loadSeconds <= 180 && loadSpeedup >= 5),
            BenchmarkFigure(
                name: "full first load: Salesforce API calls", value: Double(full.loadSalesforceCalls), unit: "calls",
                reference: .init(name: scaled, value: load { Double($0.loadSalesforceCalls) }.value(at: full.loadRecords)), target: "≤ 1,000",
                meetsTarget: full.loadSalesforceCalls <= 1_000),
            BenchmarkFigure(
                name: "\(full.admissions.formatted()) admissions pushed to the EHR at \(latency) (batch Bundles of \(FHIRBatchFigure.batchSize), concurrency \(full.concurrency))",
                value: full.admissionSeconds, unit: "s", reference: .init(name: scaledAdmissions, value: sequentialAdmissions),
                target: "≥ 4× faster (\(String(format: "%.1f", admissionSpeedup))× now)", meetsTarget: admissionSpeedup >= 4),
            BenchmarkFigure(
                name: "admissions: EHR API calls (Salesforce: \(full.admissionSalesforceCalls.formatted()))", value: Double(full.admissionEMRCalls), unit: "calls",
                reference: .init(
                    name: "\(scaledAdmissions) (Salesforce: \(Int(pushed { Double($0.admissionSalesforceCalls) }.value(at: full.admissions)).formatted()))",
                    value: pushed { Double($0.admissionEMRCalls) }.value(at: full.admissions)),
                target: "fewer than one at a time", meetsTarget: Double(full.admissionEMRCalls) < pushed { Double($0.admissionEMRCalls) }.value(at: full.admissions)),
        ]
        figures += steadyFigure(of: full, changes: steadyChanges, latency: latency)
        return figures
    }

    /// The steady cycle alone, cheaper to measure at full size: the same first load, push and
    /// steady cycle as ``run(patients:admissions:slice:admissionSlice:steadyChanges:latency:mapping:)``,
    /// without the one-call-at-a-time reference. The load and the push are figures without a goal
    /// (the state the cycle runs on); the steady cycle is the figure with its parts.
    public static func steadyCycle(
        patients: Int, admissions: Int, steadyChanges: Int, latency: SandboxLatency, mapping: MappingDocument
    ) async throws -> [BenchmarkFigure] {
        let full = try await ConcurrencyBenchmarks.measure(
            patients: patients, admissions: admissions, setup: .concurrent(SyncSettings.defaultConcurrency), steadyChanges: steadyChanges,
            latency: latency, mapping: mapping)
        return [
            BenchmarkFigure(
                name: "before the steady cycle, the first load at \(latency): \(full.loadRecords.formatted()) records (\(full.loadSteps))",
                value: full.loadSeconds, unit: "s"),
            BenchmarkFigure(
                name: "before the steady cycle, \(full.admissions.formatted()) admissions pushed to the EHR", value: full.admissionSeconds, unit: "s"),
        ] + steadyFigure(of: full, changes: steadyChanges, latency: latency)
    }

    /// The steady cycle's figure, with its parts, when the run had one.
    private static func steadyFigure(of run: ConcurrencyBenchmarks.Run, changes: Int, latency: SandboxLatency) -> [BenchmarkFigure] {
        guard let steady = run.steadySeconds else { return [] }
        return [
            BenchmarkFigure(
                name: "steady cycle at \(latency): \(changes.formatted()) Patients changed in the EMR (\(run.steadyLinked.formatted()) rows linked; "
                    + "\(run.steadySteps))",
                value: steady, unit: "s", target: "≤ 20 s", meetsTarget: steady <= 20 && run.steadyLinked >= changes)
        ]
    }
}

/// The batch size the full benchmark's concurrent run uses (the default of `emr.batchSize`).
enum FHIRBatchFigure {
    static var batchSize: Int { ConcurrencyBenchmarks.Setup.concurrent(1).batchSize }
}
