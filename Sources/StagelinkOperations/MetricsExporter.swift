import CoreMetrics
import Foundation
import Prometheus
import StagelinkEngine

/// The store's state as Prometheus metrics: every figure is read from the store when `/metrics` is
/// scraped (so a scrape of any process on the store, service or not, tells the same), recorded
/// through swift-metrics into a swift-prometheus registry of its own, and rendered in the text format.
///
/// Gauges (rows by status, failed rows by code, ages, lags, conflicts, API usage, the lease) are
/// set to what the store holds; a label set that disappears is set to 0. Counters and the job
/// duration histogram are built from finished jobs, each counted once, in id order, from the
/// first job the store holds: their totals equal the sums over the store's job table.
///
/// `docs/monitoring.md` lists every metric.
///
/// For example:
///
/// ```swift
/// let exporter = MetricsExporter(store: store)
/// let text = try await exporter.scrape()   // "# TYPE stagelink_rows gauge\nstagelink_rows{…} 12\n…"
/// ```
public actor MetricsExporter {
    /// The job-duration histogram's buckets, from a quick pull to a slow first load.
    public static let jobDurationBuckets: [Duration] = [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600].map { .seconds($0) }

    let store: any OperationsStore
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    /// The highest job id counted, with the ids above it that were counted out of order.
    private var countedThrough: Int64 = 0
    private var countedAbove: Set<Int64> = []
    /// Label sets set on the previous scrape, per gauge name, to zero the ones that disappear.
    private var lastGaugeLabels: [String: Set<[String]>] = [:]

    public init(store: any OperationsStore) {
        self.store = store
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = ["stagelink_job_duration_seconds": Self.jobDurationBuckets]
        self.factory = factory
        // Present from the first scrape, before any job finishes.
        for direction in Job.Direction.allCases {
            for name in ["stagelink_records_pulled_total", "stagelink_records_linked_total", "stagelink_api_calls_total", "stagelink_sign_in_failures_total"] {
                _ = CoreMetrics.Counter(label: name, dimensions: [("direction", direction.rawValue)], factory: factory)
            }
        }
    }

    /// Reads the store, updates every metric, and returns the Prometheus text exposition.
    public func scrape() async throws -> String {
        try await refresh()
        return registry.emitToString()
    }

    /// Reads the store and updates every metric.
    public func refresh() async throws {
        let snapshot = try await store.operationsSnapshot()
        let firing = try await store.firingAlerts()
        try await countFinishedJobs()
        record(snapshot, firingAlerts: firing)
    }

    private func record(_ snapshot: OperationsSnapshot, firingAlerts: [Alert]) {
        let now = snapshot.takenAt
        var gauges: [String: [[String]: Double]] = [:]
        func set(_ name: String, labels: KeyValuePairs<String, String> = [:], _ value: Double) {
            gauges[name, default: [:]][labels.flatMap { [$0.key, $0.value] }] = value
        }
        for row in snapshot.rows {
            set("stagelink_rows", labels: ["system": row.system.rawValue, "resource": row.resourceType, "status": row.status.rawValue], Double(row.count))
        }
        // A code is a label only as `AlertText.code` lets it through (a remote system may fill a code with free text).
        var failedByCode: [String: Int] = [:]
        for (code, count) in snapshot.failedByCode { failedByCode[AlertText.code(code), default: 0] += count }
        for (code, count) in failedByCode { set("stagelink_failed_rows", labels: ["code": code], Double(count)) }
        set("stagelink_oldest_failed_row_age_seconds", snapshot.oldestFailedReceivedAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        for watermark in snapshot.watermarks {
            set("stagelink_watermark_lag_seconds", labels: ["system": watermark.system.rawValue, "resource": watermark.resourceType], max(0, now.timeIntervalSince(watermark.value)))
        }
        for status in Conflict.Status.allCases { set("stagelink_conflicts", labels: ["status": status.rawValue], Double(snapshot.conflicts[status, default: 0])) }
        set("stagelink_conflicts_held", Double(snapshot.conflictsHeld))
        for direction in Job.Direction.allCases {
            let state = snapshot.directions[direction]
            if let finished = state?.lastSuccessfulPull?.finishedAt {
                set("stagelink_last_successful_pull_timestamp_seconds", labels: ["direction": direction.rawValue], finished.timeIntervalSince1970)
            }
        }
        set("stagelink_jobs_running", Double(snapshot.runningJobs.count))
        for job in snapshot.runningJobs {
            let labels: KeyValuePairs<String, String> = ["kind": job.kind.rawValue, "direction": job.direction?.rawValue ?? "none"]
            let key = labels.flatMap { [$0.key, $0.value] }
            let age = max(0, now.timeIntervalSince(job.startedAt))
            if age > gauges["stagelink_running_job_age_seconds"]?[key] ?? -1 { set("stagelink_running_job_age_seconds", labels: labels, age) }
        }
        if let usage = snapshot.apiUsage {
            set("stagelink_api_usage_used", Double(usage.used))
            set("stagelink_api_usage_limit", Double(usage.limit))
            set("stagelink_api_usage_share", usage.share)
        }
        if let lease = snapshot.lease {
            set("stagelink_lease_held", labels: ["holder": lease.holder.name, "host": lease.holder.host, "pid": String(lease.holder.pid)], lease.expiresAt > now ? 1 : 0)
            set("stagelink_lease_expires_in_seconds", lease.expiresAt.timeIntervalSince(now))
        }
        for rule in AlertRule.Kind.allCases.map(\.rawValue) + ["test"] {
            set("stagelink_alerts_firing", labels: ["rule": rule], Double(firingAlerts.filter { $0.condition.rule == rule }.count))
        }
        for (name, values) in gauges {
            for (labels, value) in values { gauge(name, labels).record(value) }
            for gone in lastGaugeLabels[name, default: []].subtracting(values.keys) { gauge(name, gone).record(0) }
            lastGaugeLabels[name] = Set(values.keys)
        }
        for (name, labels) in lastGaugeLabels where gauges[name] == nil {
            for gone in labels { gauge(name, gone).record(0) }
            lastGaugeLabels[name] = []
        }
    }

    private func gauge(_ name: String, _ flatLabels: [String]) -> CoreMetrics.Gauge {
        let dimensions = stride(from: 0, to: flatLabels.count, by: 2).map { (flatLabels[$0], flatLabels[$0 + 1]) }
        return CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
    }

    /// Counts each finished job once: its duration, the records it pulled and linked, its API
    /// calls, and whether the other system refused our credentials.
    private func countFinishedJobs() async throws {
        var cursor = countedThrough
        var oldestRunning = Int64.max
        while true {
            let page = try await store.finishedJobs(afterID: cursor, limit: 500)
            oldestRunning = min(oldestRunning, page.oldestRunning ?? .max)
            let fresh = page.jobs.filter { !countedAbove.contains($0.id) }
            for job in fresh { count(job) }
            countedAbove.formUnion(fresh.map(\.id))
            guard let last = page.jobs.last else { break }
            cursor = last.id
            if page.jobs.count < 500 { break }
        }
        // Every id up to the oldest running job's is counted; above it, the counted ones are remembered.
        let through = min(cursor, oldestRunning - 1)
        if through > countedThrough {
            countedThrough = through
            countedAbove = countedAbove.filter { $0 > through }
        }
    }

    private func count(_ job: Job) {
        let direction = job.direction?.rawValue ?? "none"
        if let finished = job.finishedAt {
            let nanoseconds = Int64(max(0, finished.timeIntervalSince(job.startedAt)) * 1e9)
            CoreMetrics.Timer(
                label: "stagelink_job_duration_seconds", dimensions: [("kind", job.kind.rawValue), ("direction", direction), ("status", job.status.rawValue)],
                factory: factory
            ).recordNanoseconds(nanoseconds)
        }
        CoreMetrics.Counter(label: "stagelink_records_pulled_total", dimensions: [("direction", direction)], factory: factory).increment(by: job.counts.pulled)
        CoreMetrics.Counter(label: "stagelink_records_linked_total", dimensions: [("direction", direction)], factory: factory).increment(by: job.counts.linked)
        CoreMetrics.Counter(label: "stagelink_api_calls_total", dimensions: [("direction", direction)], factory: factory).increment(by: job.apiCalls)
        if OperationsSnapshot.isSignInFailure(job.message) {
            CoreMetrics.Counter(label: "stagelink_sign_in_failures_total", dimensions: [("direction", direction)], factory: factory).increment()
        }
    }
}
