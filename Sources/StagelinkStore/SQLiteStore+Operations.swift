import Foundation
import GRDB
import StagelinkEngine

/// The figures behind `/metrics` and the alert rules, and the alerts with their deliveries.
extension SQLiteStore: OperationsStore {
    public func operationsSnapshot() async throws -> OperationsSnapshot {
        try await pool.read { db in
            var snapshot = OperationsSnapshot(takenAt: Date())
            for row in try Row.fetchAll(db, sql: "SELECT system, resourceType, status, COUNT(*) FROM staged_row GROUP BY system, resourceType, status") {
                snapshot.rows.append(
                    OperationsSnapshot.RowCount(
                        system: try StoredValue.decode(row[0] as String, "staged_row.system") as SourceSystem, resourceType: row[1],
                        status: try StoredValue.decode(row[2] as String, "staged_row.status") as RowStatus, count: row[3]))
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT COALESCE(errorCode, ?), COUNT(*) FROM staged_row WHERE status = 'failed' GROUP BY errorCode", arguments: [Self.noErrorCode])
            {
                snapshot.failedByCode[row[0] as String, default: 0] += row[1] as Int
            }
            snapshot.oldestFailedReceivedAt = try Double.fetchOne(db, sql: "SELECT MIN(receivedAt) FROM staged_row WHERE status = 'failed'")
                .map(Date.init(timeIntervalSince1970:))
            for row in try Row.fetchAll(db, sql: "SELECT system, resourceType, value FROM watermark ORDER BY system, resourceType") {
                snapshot.watermarks.append(
                    OperationsSnapshot.WatermarkReading(
                        system: try StoredValue.decode(row[0] as String, "watermark.system") as SourceSystem, resourceType: row[1],
                        value: Date(timeIntervalSince1970: row[2])))
            }
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM conflict GROUP BY status") {
                snapshot.conflicts[try StoredValue.decode(row[0] as String, "conflict.status") as Conflict.Status] = row[1]
            }
            snapshot.conflictsHeld =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conflict WHERE status = 'open' AND rule = ?", arguments: [OwnerRule.hold.rawValue]) ?? 0
            let finished = [Job.Status.succeeded, .partial, .failed, .interrupted].map(\.rawValue)
            for direction in Job.Direction.allCases {
                let ofDirection = JobRecord.filter(JobRecord.Columns.direction == direction.rawValue).order(JobRecord.Columns.id.desc)
                var state = OperationsSnapshot.DirectionState()
                state.lastSuccessfulPull = try ofDirection.filter(Column("kind") == Job.Kind.pull.rawValue)
                    .filter([Job.Status.succeeded.rawValue, Job.Status.partial.rawValue].contains(JobRecord.Columns.status)).fetchOne(db)?.job
                state.lastFinished = try ofDirection.filter(finished.contains(JobRecord.Columns.status)).fetchOne(db)?.job
                state.signInFailures =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM job WHERE direction = ? AND status IN ('failed', 'interrupted') AND message LIKE ?",
                        arguments: [direction.rawValue, "\(RemoteCallError.Kind.unauthorized.rawValue):%"]) ?? 0
                snapshot.directions[direction] = state
            }
            snapshot.runningJobs = try JobRecord.filter(JobRecord.Columns.status == Job.Status.running.rawValue).order(JobRecord.Columns.id)
                .fetchAll(db).map { try $0.job }
            snapshot.apiUsage = try JobRecord.filter(Column("apiUsed") != nil && Column("apiLimit") != nil).order(JobRecord.Columns.id.desc)
                .fetchOne(db)?.job.apiUsage
            snapshot.lease = try LeaseRecord.fetchOne(db, key: LeaseRecord.serviceLease)?.lease
            snapshot.bulkExports = try Self.bulkExports(in: db)
            return snapshot
        }
    }

    /// How a failed row without an error code is counted.
    public static let noErrorCode = ErrorCode.noErrorCode.rawValue

    public func finishedJobs(afterID: Int64, limit: Int) async throws -> (jobs: [Job], oldestRunning: Int64?) {
        try await pool.read { db in
            let jobs = try JobRecord.filter(JobRecord.Columns.id > afterID).filter(JobRecord.Columns.status != Job.Status.running.rawValue)
                .order(JobRecord.Columns.id).limit(limit).fetchAll(db).map { try $0.job }
            return (jobs, try Int64.fetchOne(db, sql: "SELECT MIN(id) FROM job WHERE status = ?", arguments: [Job.Status.running.rawValue]))
        }
    }

    // MARK: - Alerts

    public func firingAlerts() async throws -> [Alert] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alert WHERE status = 'firing' ORDER BY id").map(Self.alert)
        }
    }

    public func recentAlerts(limit: Int) async throws -> [Alert] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alert ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.alert)
        }
    }

    public func openAlert(_ condition: AlertCondition, at: Date) async throws -> Alert {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO alert (rule, key, severity, summary, status, firedAt) VALUES (?, ?, ?, ?, 'firing', ?)",
                arguments: [condition.rule, condition.key, condition.severity.rawValue, StoredText.storable(condition.summary), at.seconds])
            return Alert(id: db.lastInsertedRowID, condition: condition, status: .firing, firedAt: at)
        }
    }

    public func resolveAlert(id: Int64, at: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE alert SET status = 'resolved', resolvedAt = ? WHERE id = ? AND status = 'firing'", arguments: [at.seconds, id])
        }
    }

    public func markAlertNotified(id: Int64, at: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE alert SET lastNotifiedAt = ?, notifications = notifications + 1 WHERE id = ?", arguments: [at.seconds, id])
        }
    }

    public func recordDelivery(_ delivery: AlertDelivery) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO alert_delivery (alertID, event, webhook, attempt, at, httpStatus, error, delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    delivery.alertID, delivery.event.rawValue, delivery.webhook, delivery.attempt, delivery.at.seconds, delivery.httpStatus,
                    delivery.error.map(StoredText.storable), delivery.delivered,
                ])
        }
    }

    public func deliveries(ofAlert id: Int64) async throws -> [AlertDelivery] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alert_delivery WHERE alertID = ? ORDER BY id", arguments: [id]).map { row in
                AlertDelivery(
                    alertID: row["alertID"], event: try StoredValue.decode(row["event"] as String, "alert_delivery.event") as AlertDelivery.Event,
                    webhook: row["webhook"], attempt: row["attempt"], at: Date(timeIntervalSince1970: row["at"]), httpStatus: row["httpStatus"],
                    error: row["error"], delivered: row["delivered"])
            }
        }
    }

    private static func alert(_ row: Row) throws -> Alert {
        Alert(
            id: row["id"],
            condition: AlertCondition(
                rule: row["rule"], key: row["key"], severity: try StoredValue.decode(row["severity"] as String, "alert.severity") as AlertSeverity, summary: row["summary"]),
            status: try StoredValue.decode(row["status"] as String, "alert.status") as Alert.Status, firedAt: Date(timeIntervalSince1970: row["firedAt"]),
            resolvedAt: (row["resolvedAt"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastNotifiedAt: (row["lastNotifiedAt"] as Double?).map(Date.init(timeIntervalSince1970:)), notifications: row["notifications"])
    }
}
