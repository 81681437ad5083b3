import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import StagelinkOperations

/// `/metrics`: every figure the issue lists, in the Prometheus text format, equal to what the store holds.
struct MetricsExporterTests {
    @Test func everyListedMetricIsExposedWithTheStoresValues() async throws {
        let store = try await OperationsFixture.store()
        _ = try await store.acquireLease(LeaseHolder(name: "run", host: "ops-host", pid: 41), for: .seconds(30))
        try await OperationsFixture.finishJob(store, direction: .outbound, status: .failed, message: "unauthorized: invalid_grant")
        let metrics = try PrometheusText(try await MetricsExporter(store: store).scrape())

        // Rows by status and object.
        #expect(metrics.value("stagelink_rows", ["system": "emr", "resource": "Patient", "status": "failed"]) == 2)
        #expect(metrics.value("stagelink_rows", ["system": "emr", "resource": "Patient", "status": "linked"]) == 1)
        #expect(metrics.value("stagelink_rows", ["system": "emr", "resource": "Patient", "status": "staged"]) == 1)
        #expect(metrics.value("stagelink_rows", ["system": "emr", "resource": "QuestionnaireResponse", "status": "failed"]) == 1)
        #expect(metrics.types["stagelink_rows"] == "gauge")
        // Failed rows by error code; a code holding free text is counted under UNREADABLE_CODE, never as a label.
        #expect(metrics.value("stagelink_failed_rows", ["code": "INVALID_FIELD"]) == 2)
        #expect(metrics.value("stagelink_failed_rows", ["code": "UNREADABLE_CODE"]) == 1)
        // Ages and lags.
        let oldest = try #require(metrics.value("stagelink_oldest_failed_row_age_seconds"))
        #expect(oldest >= 0 && oldest < 120)
        let lag = try #require(metrics.value("stagelink_watermark_lag_seconds", ["system": "emr", "resource": "Patient"]))
        #expect(lag >= 600 && lag < 720)
        // Job durations (a histogram) and records pulled and linked, summed over finished jobs.
        #expect(metrics.types["stagelink_job_duration_seconds"] == "histogram")
        #expect(metrics.value("stagelink_job_duration_seconds_count", ["kind": "pull", "direction": "inbound", "status": "succeeded"]) == 1)
        let pullSeconds = try #require(metrics.value("stagelink_job_duration_seconds_sum", ["kind": "pull", "direction": "inbound", "status": "succeeded"]))
        #expect(abs(pullSeconds - 4) < 0.01)
        #expect(metrics.value("stagelink_job_duration_seconds_bucket", ["kind": "link", "direction": "inbound", "status": "partial", "le": "60.0"]) == 0)
        #expect(metrics.value("stagelink_job_duration_seconds_bucket", ["kind": "link", "direction": "inbound", "status": "partial", "le": "120.0"]) == 1)
        #expect(metrics.value("stagelink_records_pulled_total", ["direction": "inbound"]) == 6)
        #expect(metrics.value("stagelink_records_linked_total", ["direction": "inbound"]) == 1)
        #expect(metrics.types["stagelink_records_pulled_total"] == "counter")
        // API calls and the limit share.
        #expect(metrics.value("stagelink_api_calls_total", ["direction": "inbound"]) == 8)
        #expect(metrics.value("stagelink_api_usage_share") == 0.85)
        #expect(metrics.value("stagelink_api_usage_used") == 850)
        #expect(metrics.value("stagelink_api_usage_limit") == 1000)
        // Conflicts open and held, sign-in failures, the lease holder.
        #expect(metrics.value("stagelink_conflicts", ["status": "open"]) == 0)
        #expect(metrics.value("stagelink_conflicts_held") == 0)
        #expect(metrics.value("stagelink_sign_in_failures_total", ["direction": "outbound"]) == 1)
        #expect(metrics.value("stagelink_sign_in_failures_total", ["direction": "inbound"]) == 0)
        #expect(metrics.value("stagelink_lease_held", ["holder": "run", "host": "ops-host", "pid": "41"]) == 1)
    }

    @Test func countersCountEachFinishedJobOnceAcrossScrapesAndWaitForRunningJobs() async throws {
        let store = try await OperationsFixture.store()
        let exporter = MetricsExporter(store: store)
        _ = try await exporter.scrape()
        var running = try await store.startJob(kind: .pull, direction: .outbound, actor: .system)
        try await OperationsFixture.finishJob(store, direction: .outbound, pulled: 5, apiCalls: 2)
        var metrics = try PrometheusText(try await exporter.scrape())
        #expect(metrics.value("stagelink_records_pulled_total", ["direction": "outbound"]) == 5)
        #expect(metrics.value("stagelink_records_pulled_total", ["direction": "inbound"]) == 6)
        #expect(metrics.value("stagelink_jobs_running") == 1)

        running.status = .succeeded
        running.finishedAt = Date()
        running.counts = Job.Counts(pulled: 7)
        try await store.updateJob(running)
        metrics = try PrometheusText(try await exporter.scrape())
        metrics = try PrometheusText(try await exporter.scrape())
        #expect(metrics.value("stagelink_records_pulled_total", ["direction": "outbound"]) == 12)
        #expect(metrics.value("stagelink_job_duration_seconds_count", ["kind": "pull", "direction": "outbound", "status": "succeeded"]) == 2)
        #expect(metrics.value("stagelink_jobs_running") == 0)
    }

    @Test func aLabelSetThatDisappearsFromTheStoreReadsZero() async throws {
        let store = try await OperationsFixture.store()
        let exporter = MetricsExporter(store: store)
        _ = try await exporter.scrape()
        let failed = try await store.rows(RowQuery(filter: RowFilter(statuses: [.failed]))).map(\.id)
        _ = try await store.setStatus(rowIDs: failed, to: .ignored, from: [.failed], actor: .operator("test"), note: "set aside")
        let metrics = try PrometheusText(try await exporter.scrape())
        #expect(metrics.value("stagelink_failed_rows", ["code": "INVALID_FIELD"]) == 0)
        #expect(metrics.value("stagelink_rows", ["system": "emr", "resource": "Patient", "status": "failed"]) == 0)
        #expect(metrics.value("stagelink_rows", ["system": "emr", "resource": "Patient", "status": "ignored"]) == 2)
        #expect(metrics.value("stagelink_oldest_failed_row_age_seconds") == 0)
    }

    @Test func noPatientDataReachesTheMetrics() async throws {
        let store = try await OperationsFixture.store()
        let text = try await MetricsExporter(store: store).scrape()
        #expect(!text.contains(OperationsFixture.patientName))
        #expect(!text.contains("Quintanilla"))
        #expect(!text.contains(OperationsFixture.patientID))
    }

    @Test func theDocsListEveryMetricExposedAndTheExamplesUseNoOther() async throws {
        let store = try await OperationsFixture.store()
        _ = try await store.acquireLease(LeaseHolder(name: "run", host: "h", pid: 1), for: .seconds(30))
        _ = try await store.startJob(kind: .pull, direction: .outbound, actor: .system)
        let metrics = try PrometheusText(try await MetricsExporter(store: store).scrape())
        let exposed = Set(metrics.types.keys)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func names(in file: String, rowsOnly: Bool) throws -> Set<String> {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            let lines = text.split(separator: "\n").filter { !rowsOnly || $0.hasPrefix("| `stagelink_") }.joined(separator: "\n")
            let pattern = try NSRegularExpression(pattern: #"stagelink_[a-z_]+"#)
            return Set(pattern.matches(in: lines, range: NSRange(lines.startIndex..., in: lines)).compactMap { match in
                Range(match.range, in: lines).map { String(lines[$0]).replacingOccurrences(of: #"_(bucket|count|sum)$"#, with: "", options: .regularExpression) }
            })
        }
        #expect(try names(in: "docs/monitoring.md", rowsOnly: true) == exposed)
        #expect(try names(in: "docs/monitoring/grafana-dashboard.json", rowsOnly: false).subtracting(exposed).sorted() == [])
        #expect(try names(in: "docs/monitoring/prometheus-alerts.yml", rowsOnly: false).subtracting(exposed).sorted() == [])
    }
}
