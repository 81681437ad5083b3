import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func acquireLease(_ holder: LeaseHolder, for duration: Duration, replacing stale: LeaseHolder?) async throws -> LeaseResult {
        try await pool.write { db in
            let now = Date()
            let expiresAt = now.addingTimeInterval(duration.seconds).seconds
            if let existing = try LeaseRecord.fetchOne(db, key: LeaseRecord.serviceLease) {
                let isMine = existing.holder == holder
                if !isMine && existing.expiresAt > now.seconds && existing.holder != stale { return .heldBy(existing.lease) }
                var renewed = existing
                if !isMine {
                    renewed = try Self.grantLease(to: holder, at: now, until: expiresAt, db)
                }
                renewed.expiresAt = expiresAt
                try renewed.insert(db, onConflict: .replace)
                return .acquired(renewed.lease, tookOver: isMine ? nil : existing.holder)
            }
            let record = try Self.grantLease(to: holder, at: now, until: expiresAt, db)
            try record.insert(db)
            return .acquired(record.lease, tookOver: nil)
        }
    }

    /// A new holder's lease, with the next epoch: each change of hands appends to `lease_grant`,
    /// whose ids only grow (also across a release, which deletes the lease).
    private static func grantLease(to holder: LeaseHolder, at now: Date, until expiresAt: Double, _ db: Database) throws -> LeaseRecord {
        try db.execute(
            sql: "INSERT INTO lease_grant (name, holderName, host, pid, at) VALUES (?, ?, ?, ?, ?)",
            arguments: [LeaseRecord.serviceLease, holder.name, holder.host, holder.pid, now.seconds])
        return LeaseRecord(
            name: LeaseRecord.serviceLease, holderName: holder.name, host: holder.host, pid: holder.pid, since: now.seconds, expiresAt: expiresAt,
            epoch: db.lastInsertedRowID)
    }

    public func releaseLease(_ holder: LeaseHolder) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM lease WHERE name = ? AND holderName = ? AND host = ? AND pid = ?",
                arguments: [LeaseRecord.serviceLease, holder.name, holder.host, holder.pid])
        }
    }

    public func currentLease() async throws -> Lease? {
        try await pool.read { db in try LeaseRecord.fetchOne(db, key: LeaseRecord.serviceLease)?.lease }
    }

    public func requestSync(_ directions: Set<Job.Direction>, actor: Actor) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO sync_request (directions, actor, at) VALUES (?, ?, ?)",
                arguments: [directions.map(\.rawValue).sorted().joined(separator: ","), actor.description, Date().seconds])
        }
    }

    public func takeSyncRequests() async throws -> [SyncRequest] {
        try await write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT directions, actor, at FROM sync_request ORDER BY id")
            try db.execute(sql: "DELETE FROM sync_request")
            // Read before the transaction commits: a request that does not read is left where it is.
            return try rows.map { row in try StoredColumns.syncRequest(directions: row[0], actor: row[1], at: row[2]) }
        }
    }

    /// Events beyond this many are trimmed, oldest first: they are a live view, not the audit trail.
    static let keptEvents = 5_000

    public func appendEvents(_ events: [SyncEvent]) async throws {
        guard !events.isEmpty else { return }
        try await write { db in
            for event in events { try EventRecord(event).insert(db) }
            try db.execute(sql: "DELETE FROM event WHERE id <= (SELECT MAX(id) FROM event) - ?", arguments: [Self.keptEvents])
        }
    }

    public func recentEvents(limit: Int) async throws -> [SyncEvent] {
        try await pool.read { db in
            try EventRecord.order(Column("id").desc).limit(limit).fetchAll(db).map { try $0.event }
        }
    }
}
