import Foundation
import GRDB
import StagelinkEngine

/// A row of `job`.
package struct JobRecord: Codable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "job"

    package var id: Int64?
    package var kind: String
    package var direction: String?
    package var actor: String
    package var trigger: String
    package var startedAt: Double
    package var finishedAt: Double?
    package var status: String
    package var pulled: Int
    package var staged: Int
    package var deduplicated: Int
    package var linked: Int
    package var failed: Int
    package var superseded: Int
    package var conflicts: Int
    package var withheld: Int
    package var checked: Int
    package var changed: Int
    package var missing: Int
    package var apiCalls: Int
    package var apiUsed: Int?
    package var apiLimit: Int?
    package var watermarkBefore: Double?
    package var watermarkAfter: Double?
    package var phase: String
    package var progressDone: Int
    package var progressTotal: Int?
    package var progressAt: Double?
    package var message: String?
    /// JSON array of the export manifest's error texts; NULL when there were none.
    package var exportErrors: String?

    package enum Columns {
        package static let id = Column(CodingKeys.id)
        package static let direction = Column(CodingKeys.direction)
        package static let kind = Column(CodingKeys.kind)
        package static let trigger = Column(CodingKeys.trigger)
        package static let status = Column(CodingKeys.status)
    }

    /// The values of ``columnList`` in its order, as another store (PostgreSQL) reads them.
    package typealias Values = (
        Int64, String, String?, String, String, Double, Double?, String, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int?, Int?, Double?, Double?,
        String, Int, Int?, Double?, String?, String?, Int, Int, Int
    )

    /// Every column, in the order of ``Values``.
    package static let columnList = """
        id, kind, direction, actor, trigger, startedAt, finishedAt, status, pulled, staged, deduplicated, linked, failed, superseded, conflicts, \
        withheld, apiCalls, apiUsed, apiLimit, watermarkBefore, watermarkAfter, phase, progressDone, progressTotal, progressAt, message, exportErrors, \
        checked, changed, missing
        """

    /// A job read by another store, column for column in the order of ``columnList``.
    package init(_ c: Values) {
        (id, kind, direction, actor, trigger, startedAt, finishedAt, status, pulled, staged) = (c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9)
        (deduplicated, linked, failed, superseded, conflicts, withheld, apiCalls, apiUsed, apiLimit) = (c.10, c.11, c.12, c.13, c.14, c.15, c.16, c.17, c.18)
        (watermarkBefore, watermarkAfter, phase, progressDone, progressTotal, progressAt, message, exportErrors) = (c.19, c.20, c.21, c.22, c.23, c.24, c.25, c.26)
        (checked, changed, missing) = (c.27, c.28, c.29)
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    package init(_ job: Job) {
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
        message = job.message.map(StoredText.storable)
        exportErrors = job.exportErrors.isEmpty ? nil : String(decoding: (try? JSONEncoder().encode(job.exportErrors)) ?? Data("[]".utf8), as: UTF8.self)
    }

    package var job: Job {
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
