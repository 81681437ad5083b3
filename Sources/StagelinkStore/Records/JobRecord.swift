import Foundation
import GRDB
import StagelinkEngine

/// A row of `job`.
struct JobRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "job"

    var id: Int64?
    var kind: String
    var direction: String?
    var actor: String
    var trigger: String
    var startedAt: Double
    var finishedAt: Double?
    var status: String
    var pulled: Int
    var staged: Int
    var deduplicated: Int
    var linked: Int
    var failed: Int
    var superseded: Int
    var conflicts: Int
    var withheld: Int
    var checked: Int
    var changed: Int
    var missing: Int
    var apiCalls: Int
    var apiUsed: Int?
    var apiLimit: Int?
    var watermarkBefore: Double?
    var watermarkAfter: Double?
    var phase: String
    var progressDone: Int
    var progressTotal: Int?
    var progressAt: Double?
    var message: String?
    /// JSON array of the export manifest's error texts; NULL when there were none.
    var exportErrors: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let direction = Column(CodingKeys.direction)
        static let kind = Column(CodingKeys.kind)
        static let trigger = Column(CodingKeys.trigger)
        static let status = Column(CodingKeys.status)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    init(_ job: Job) {
        id = job.id == 0 ? nil : job.id
        kind = job.kind.rawValue
        direction = job.direction?.rawValue
        actor = job.actor.description
        trigger = job.trigger.rawValue
        startedAt = job.startedAt.timeIntervalSince1970
        finishedAt = job.finishedAt?.timeIntervalSince1970
        status = job.status.rawValue
        pulled = job.counts.pulled
        staged = job.counts.staged
        deduplicated = job.counts.deduplicated
        linked = job.counts.linked
        failed = job.counts.failed
        superseded = job.counts.superseded
        conflicts = job.counts.conflicts
        withheld = job.counts.withheld
        checked = job.counts.checked
        changed = job.counts.changed
        missing = job.counts.missing
        apiCalls = job.apiCalls
        apiUsed = job.apiUsage?.used
        apiLimit = job.apiUsage?.limit
        watermarkBefore = job.watermarkBefore?.timeIntervalSince1970
        watermarkAfter = job.watermarkAfter?.timeIntervalSince1970
        phase = job.progress.phase
        progressDone = job.progress.done
        progressTotal = job.progress.total
        progressAt = job.progress.updatedAt?.timeIntervalSince1970
        message = job.message
        exportErrors = job.exportErrors.isEmpty ? nil : String(decoding: (try? JSONEncoder().encode(job.exportErrors)) ?? Data("[]".utf8), as: UTF8.self)
    }

    var job: Job {
        get throws { try readJob() }
    }

    private func readJob() throws -> Job {
        try Job(
            id: id ?? 0, kind: StoredValue.decode(kind, "job.kind"), direction: StoredValue.decode(direction, "job.direction"),
            actor: Actor(actor), trigger: StoredValue.decode(trigger, "job.trigger"), startedAt: Date(timeIntervalSince1970: startedAt),
            finishedAt: finishedAt.map(Date.init(timeIntervalSince1970:)), status: StoredValue.decode(status, "job.status"),
            counts: Job.Counts(
                pulled: pulled, staged: staged, deduplicated: deduplicated, linked: linked, failed: failed, superseded: superseded,
                conflicts: conflicts, withheld: withheld, checked: checked, changed: changed, missing: missing),
            apiCalls: apiCalls, apiUsage: apiUsed.flatMap { used in apiLimit.map { APIUsage(used: used, limit: $0) } },
            watermarkBefore: watermarkBefore.map(Date.init(timeIntervalSince1970:)), watermarkAfter: watermarkAfter.map(Date.init(timeIntervalSince1970:)),
            progress: Job.Progress(phase: phase, done: progressDone, total: progressTotal, updatedAt: progressAt.map(Date.init(timeIntervalSince1970:))),
            message: message, exportErrors: exportErrorList())
    }

    /// The stored error texts; a value that is not a JSON array of strings is reported, never read as none.
    private func exportErrorList() -> [String] {
        guard let exportErrors else { return [] }
        guard let list = try? JSONDecoder().decode([String].self, from: Data(exportErrors.utf8)) else {
            return ["(the stored export errors of job \(id ?? 0) are unreadable)"]
        }
        return list
    }
}
