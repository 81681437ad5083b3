import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The jobs role: each job's counts, progress, usage and watermarks as the cycle moves.
extension PostgresStore {
    public func startJob(kind: Job.Kind, direction: Job.Direction?, actor: Actor, trigger: Job.Trigger) async throws -> Job {
        var record = JobRecord(Job(id: 0, kind: kind, direction: direction, actor: actor, trigger: trigger, startedAt: Date()))
        let ids = try await transaction { connection in
            try await connection.rows(
                """
                INSERT INTO job (kind, direction, actor, trigger, startedAt, status, phase)
                VALUES (\(record.kind), \(record.direction), \(record.actor), \(record.trigger), \(record.startedAt), \(record.status), \(record.phase))
                RETURNING id
                """, logger: logger
            ).decode(Int64.self).collect()
        }
        record.id = ids.first
        return try record.job
    }

    public func updateJob(_ job: Job) async throws {
        let r = JobRecord(job)
        try await run(
            """
            UPDATE job SET kind = \(r.kind), direction = \(r.direction), actor = \(r.actor), trigger = \(r.trigger), startedAt = \(r.startedAt),
                finishedAt = \(r.finishedAt), status = \(r.status), pulled = \(r.pulled), staged = \(r.staged), deduplicated = \(r.deduplicated),
                linked = \(r.linked), failed = \(r.failed), superseded = \(r.superseded), conflicts = \(r.conflicts), withheld = \(r.withheld),
                apiCalls = \(r.apiCalls), apiUsed = \(r.apiUsed), apiLimit = \(r.apiLimit), watermarkBefore = \(r.watermarkBefore),
                watermarkAfter = \(r.watermarkAfter), phase = \(r.phase), progressDone = \(r.progressDone), progressTotal = \(r.progressTotal),
                progressAt = \(r.progressAt), message = \(r.message), exportErrors = \(r.exportErrors),
                checked = \(r.checked), changed = \(r.changed), missing = \(r.missing)
            WHERE id = \(job.id)
            """, logger: logger)
    }

    public func job(id: Int64) async throws -> Job? {
        try await jobs(where: "id = \(id)").first
    }

    public func jobs(before: Int64?, limit: Int) async throws -> [Job] {
        if let before { return try await jobs(where: "id < \(before) ORDER BY id DESC LIMIT \(limit)") }
        return try await jobs(where: "true ORDER BY id DESC LIMIT \(limit)")
    }

    public func lastJob(_ selection: JobSelection) async throws -> Job? {
        // NULL arrays take every kind and trigger; a NULL direction takes either.
        let kinds = selection.kinds.map { $0.map(\.rawValue) }
        let triggers = selection.triggers.map { $0.map(\.rawValue) }
        return try await jobs(
            where: """
                status = ANY(\(selection.statuses.map(\.rawValue))::text[])
                AND (\(selection.direction?.rawValue)::text IS NULL OR direction = \(selection.direction?.rawValue))
                AND (\(kinds)::text[] IS NULL OR kind = ANY(\(kinds)::text[]))
                AND (\(triggers)::text[] IS NULL OR trigger = ANY(\(triggers)::text[]))
                ORDER BY id DESC LIMIT 1
                """
        ).first
    }

    public func interruptRunningJobs(message: String) async throws -> Int {
        let now = Date().timeIntervalSince1970
        return try await transaction { connection in
            let ids = try await connection.rows(
                """
                UPDATE job SET status = \(Job.Status.interrupted.rawValue), finishedAt = \(now), message = \(message)
                WHERE status = \(Job.Status.running.rawValue) RETURNING id
                """, logger: logger
            ).decode(Int64.self).collect()
            let claimants = ids.map { Actor.job($0).description }
            if !claimants.isEmpty {
                try await connection.run(
                    "UPDATE staged_row SET claimedBy = NULL, claimedUntil = NULL WHERE claimedBy = ANY(\(claimants)::text[])", logger: logger)
            }
            return ids.count
        }
    }

    /// Jobs read with a condition (and an order) that follows `WHERE`.
    private func jobs(where condition: PostgresQuery) async throws -> [Job] {
        let query = PostgresQuery(unsafeSQL: "SELECT \(JobRecord.columnList) FROM job WHERE \(condition.sql)", binds: condition.binds)
        return try await client.query(query, logger: logger).decode(JobRecord.Values.self).collect().map { try JobRecord($0).job }
    }
}
