import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func startJob(kind: Job.Kind, direction: Job.Direction?, actor: Actor, trigger: Job.Trigger) async throws -> Job {
        try await write { db in
            var record = JobRecord(Job(id: 0, kind: kind, direction: direction, actor: actor, trigger: trigger, startedAt: Date()))
            try record.insert(db)
            return try record.job
        }
    }

    public func updateJob(_ job: Job) async throws {
        try await write { db in try JobRecord(job).update(db) }
    }

    public func job(id: Int64) async throws -> Job? {
        try await pool.read { db in try JobRecord.fetchOne(db, key: id)?.job }
    }

    public func jobs(before: Int64?, limit: Int) async throws -> [Job] {
        try await pool.read { db in
            var request = JobRecord.order(JobRecord.Columns.id.desc).limit(limit)
            if let before { request = request.filter(JobRecord.Columns.id < before) }
            return try request.fetchAll(db).map { try $0.job }
        }
    }

    public func lastJob(_ selection: JobSelection) async throws -> Job? {
        try await pool.read { db in
            var request = JobRecord.filter(selection.statuses.map(\.rawValue).contains(JobRecord.Columns.status))
            if let direction = selection.direction { request = request.filter(JobRecord.Columns.direction == direction.rawValue) }
            if let kinds = selection.kinds { request = request.filter(kinds.map(\.rawValue).contains(JobRecord.Columns.kind)) }
            if let triggers = selection.triggers { request = request.filter(triggers.map(\.rawValue).contains(JobRecord.Columns.trigger)) }
            return try request.order(JobRecord.Columns.id.desc).fetchOne(db)?.job
        }
    }

    public func interruptRunningJobs(message: String) async throws -> Int {
        try await write { db in
            let running = try Int64.fetchAll(db, sql: "SELECT id FROM job WHERE status = ?", arguments: [Job.Status.running.rawValue])
            for id in running {
                try db.execute(
                    sql: "UPDATE job SET status = ?, finishedAt = ?, message = ? WHERE id = ?",
                    arguments: [Job.Status.interrupted.rawValue, Date().seconds, message, id])
                try db.execute(
                    sql: "UPDATE staged_row SET claimedBy = NULL, claimedUntil = NULL WHERE claimedBy = ?", arguments: [Actor.job(id).description])
            }
            return running.count
        }
    }
}
