import Foundation
import StagelinkEngine
import StagelinkStore

/// A store holding a little of everything monitoring reads: staged, linked and failed rows (whose
/// error messages quote patient data, as a remote system's can), finished jobs with counts and
/// API usage, watermarks and a lease.
enum OperationsFixture {
    /// Patient data that must never reach an alert or a metric label.
    static let patientName = "Marisol Quintanilla-Okafor"
    static let patientID = "pat-7f3a91"

    static func store() async throws -> SQLiteStore {
        let store = try SQLiteStore.temporary("operations")
        let job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        let records = (0..<6).map { index in
            IncomingRecord(
                system: .emr, resourceType: index < 4 ? "Patient" : "QuestionnaireResponse", sourceID: "\(patientID)-\(index)", version: "1",
                lastUpdated: Date(timeIntervalSinceNow: -600), payload: Array("{\"name\":\"\(patientName)\",\"i\":\(index)}".utf8))
        }
        let staged = try await store.stage(records, job: job.id, advancing: WatermarkAdvance(system: .emr, resourceType: "Patient", to: Date(timeIntervalSinceNow: -600)))
        var finished = job
        finished.status = .succeeded
        finished.finishedAt = finished.startedAt.addingTimeInterval(4)
        finished.counts = Job.Counts(pulled: 6, staged: 6)
        finished.apiCalls = 3
        try await store.updateJob(finished)
        let ids = staged.rowIDs
        try await store.record([
            LinkOutcome(rowID: ids[0], actor: .system, at: Date(), status: .linked, attempt: .linked),
            LinkOutcome(
                rowID: ids[1], actor: .system, at: Date(), status: .failed, attempt: .failed,
                error: LinkError(code: "INVALID_FIELD", message: "Birthdate of \(patientName) (\(patientID)-1) is not a date")),
            LinkOutcome(
                rowID: ids[2], actor: .system, at: Date(), status: .failed, attempt: .failed,
                error: LinkError(code: "INVALID_FIELD", message: "Gender of \(patientName) is unknown")),
            LinkOutcome(
                rowID: ids[4], actor: .system, at: Date(), status: .failed, attempt: .failed,
                error: LinkError(code: "Name \(patientName) refused", message: "a remote system put free text in its code")),
        ])
        var link = try await store.startJob(kind: .link, direction: .inbound, actor: .system)
        link.status = .partial
        link.finishedAt = link.startedAt.addingTimeInterval(90)
        link.counts = Job.Counts(linked: 1, failed: 3)
        link.apiCalls = 5
        link.apiUsage = APIUsage(used: 850, limit: 1000)
        try await store.updateJob(link)
        return store
    }

    /// Finishes a job of this kind now: how tests make the service's history grow.
    @discardableResult
    static func finishJob(
        _ store: SQLiteStore, kind: Job.Kind = .pull, direction: Job.Direction = .outbound, status: Job.Status = .succeeded, seconds: Double = 2,
        pulled: Int = 0, linked: Int = 0, apiCalls: Int = 0, message: String? = nil
    ) async throws -> Job {
        var job = try await store.startJob(kind: kind, direction: direction, actor: .system)
        job.status = status
        job.startedAt = Date(timeIntervalSinceNow: -seconds)
        job.finishedAt = Date()
        job.counts = Job.Counts(pulled: pulled, linked: linked)
        job.apiCalls = apiCalls
        job.message = message
        try await store.updateJob(job)
        return job
    }
}
