import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The service lease and sync requests, and the service's events (jobs role).
extension PostgresStore {
    /// The lease's row is locked for the transaction: two processes asking at once are answered one
    /// after the other, and exactly one holds the lease.
    public func acquireLease(_ holder: LeaseHolder, for duration: Duration, replacing stale: LeaseHolder?) async throws -> LeaseResult {
        let now = Date().timeIntervalSince1970
        let expiresAt = now + duration.seconds
        do {
            return try await transaction(fenced: false) { connection in
                let existing = try await leases("name = \(Self.serviceLease) FOR UPDATE", in: connection).first
                guard let existing else {
                    let epoch = try await grantLease(to: holder, at: now, connection)
                    let inserted = try await connection.rows(
                        """
                        INSERT INTO lease (name, holderName, host, pid, since, expiresAt, epoch)
                        VALUES (\(Self.serviceLease), \(holder.name), \(holder.host), \(holder.pid), \(now), \(expiresAt), \(epoch))
                        ON CONFLICT (name) DO NOTHING RETURNING name
                        """, logger: logger
                    ).decode(String.self).collect()
                    if inserted.isEmpty, let winner = try await leases("name = \(Self.serviceLease)", in: connection).first {
                        // Another process inserted it first: this transaction's grant is rolled back with it.
                        throw LeaseLost(winner: winner)
                    }
                    return .acquired(
                        Lease(holder: holder, since: Date(timeIntervalSince1970: now), expiresAt: Date(timeIntervalSince1970: expiresAt), epoch: epoch), tookOver: nil)
                }
                let isMine = existing.holder == holder
                if !isMine && existing.expiresAt.timeIntervalSince1970 > now && existing.holder != stale { return .heldBy(existing) }
                let since = isMine ? existing.since.timeIntervalSince1970 : now
                // A change of hands takes the next epoch (a fencing token); a renewal keeps it.
                let epoch = isMine ? existing.epoch : try await grantLease(to: holder, at: now, connection)
                try await connection.run(
                    """
                    UPDATE lease SET holderName = \(holder.name), host = \(holder.host), pid = \(holder.pid), since = \(since), expiresAt = \(expiresAt),
                        epoch = \(epoch)
                    WHERE name = \(Self.serviceLease)
                    """, logger: logger)
                let lease = Lease(holder: holder, since: Date(timeIntervalSince1970: since), expiresAt: Date(timeIntervalSince1970: expiresAt), epoch: epoch)
                return .acquired(lease, tookOver: isMine ? nil : existing.holder)
            }
        } catch let lost as LeaseLost {
            return .heldBy(lost.winner)
        }
    }

    /// Raised inside the lease's transaction when another process inserted the lease first, so that
    /// the grant this one appended is rolled back.
    private struct LeaseLost: Error { var winner: Lease }

    /// Appends a change of hands to `lease_grant` and returns its epoch: the ids only grow, also
    /// across a release (which deletes the lease, never a grant).
    private func grantLease(to holder: LeaseHolder, at now: Double, _ connection: PostgresConnection) async throws -> Int64 {
        let epochs = try await connection.rows(
            """
            INSERT INTO lease_grant (name, holderName, host, pid, at)
            VALUES (\(Self.serviceLease), \(holder.name), \(holder.host), \(holder.pid), \(now)) RETURNING epoch
            """, logger: logger
        ).decode(Int64.self).collect()
        guard let epoch = epochs.first else { throw PostgresStoreError.unexpected("lease_grant returned no epoch") }
        return epoch
    }

    public func releaseLease(_ holder: LeaseHolder) async throws {
        try await run(
            """
            DELETE FROM lease WHERE name = \(Self.serviceLease) AND holderName = \(holder.name) AND host = \(holder.host) AND pid = \(holder.pid)
            """, fenced: false, logger: logger)
    }

    public func currentLease() async throws -> Lease? {
        try await leases("name = \(Self.serviceLease)").first
    }

    public func requestSync(_ directions: Set<Job.Direction>, actor: Actor) async throws {
        try await run(
            """
            INSERT INTO sync_request (directions, actor, at)
            VALUES (\(directions.map(\.rawValue).sorted().joined(separator: ",")), \(actor.description), \(Date().timeIntervalSince1970))
            """, logger: logger)
    }

    /// Each request is returned once, however many processes take at the same moment.
    public func takeSyncRequests() async throws -> [SyncRequest] {
        // Read before the transaction commits: a request that does not read is left where it is.
        try await transaction { connection in
            try await connection.rows("DELETE FROM sync_request RETURNING id, directions, actor, at", logger: logger)
                .decode((Int64, String, String, Double).self).collect()
                .sorted { $0.0 < $1.0 }
                .map { _, directions, actor, at in try StoredColumns.syncRequest(directions: directions, actor: actor, at: at) }
        }
    }

    // MARK: - Events

    /// Events beyond this many are trimmed, oldest first: they are a live view, not the audit trail.
    static let keptEvents = 5_000

    public func appendEvents(_ events: [SyncEvent]) async throws {
        guard !events.isEmpty else { return }
        try await transaction { connection in
            try await connection.run(
                """
                INSERT INTO event (at, jobID, level, message)
                SELECT at, CASE WHEN hasJob THEN jobID END, level, message
                FROM unnest(\(events.map(\.at.timeIntervalSince1970))::float8[], \(events.map { $0.jobID ?? 0 })::int8[],
                    \(events.map { $0.jobID != nil })::bool[], \(events.map(\.level.rawValue))::text[],
                    \(events.map { StoredText.storable($0.message) })::text[])
                    AS t(at, jobID, hasJob, level, message)
                """, logger: logger)
            try await connection.run("DELETE FROM event WHERE id <= (SELECT MAX(id) FROM event) - \(Self.keptEvents)", logger: logger)
        }
    }

    public func recentEvents(limit: Int) async throws -> [SyncEvent] {
        try await client.query("SELECT at, jobID, level, message FROM event ORDER BY id DESC LIMIT \(limit)", logger: logger)
            .decode((Double, Int64?, String, String).self).collect()
            .map { at, jobID, level, message in
                try SyncEvent(at: Date(timeIntervalSince1970: at), jobID: jobID, level: StoredValue.decode(level, "event.level"), message: message)
            }
    }

    static let serviceLease = "service"

    func leases(_ condition: PostgresQuery, in connection: PostgresConnection? = nil) async throws -> [Lease] {
        let query = PostgresQuery(unsafeSQL: "SELECT holderName, host, pid, since, expiresAt, epoch FROM lease WHERE \(condition.sql)", binds: condition.binds)
        let rows = if let connection {
            try await connection.rows(query, logger: logger).decode((String, String, Int32, Double, Double, Int64).self).collect()
        } else {
            try await client.query(query, logger: logger).decode((String, String, Int32, Double, Double, Int64).self).collect()
        }
        return rows.map { name, host, pid, since, expiresAt, epoch in
            Lease(
                holder: LeaseHolder(name: name, host: host, pid: pid), since: Date(timeIntervalSince1970: since),
                expiresAt: Date(timeIntervalSince1970: expiresAt), epoch: epoch)
        }
    }
}
