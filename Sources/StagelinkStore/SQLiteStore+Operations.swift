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
                        system: try Self.value(row[0], SourceSystem.self, "staged_row.system"), resourceType: row[1],
                        status: try Self.value(row[2], RowStatus.self, "staged_row.status"), count: row[3]))
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
                        system: try Self.value(row[0], SourceSystem.self, "watermark.system"), resourceType: row[1],
                        value: Date(timeIntervalSince1970: row[2])))
            }
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM conflict GROUP BY status") {
                snapshot.conflicts[try Self.value(row[0], Conflict.Status.self, "conflict.status")] = row[1]
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
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO alert (rule, key, severity, summary, status, firedAt) VALUES (?, ?, ?, ?, 'firing', ?)",
                arguments: [condition.rule, condition.key, condition.severity.rawValue, condition.summary, at.seconds])
            return Alert(id: db.lastInsertedRowID, condition: condition, status: .firing, firedAt: at)
        }
    }

    public func resolveAlert(id: Int64, at: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE alert SET status = 'resolved', resolvedAt = ? WHERE id = ? AND status = 'firing'", arguments: [at.seconds, id])
        }
    }

    public func markAlertNotified(id: Int64, at: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE alert SET lastNotifiedAt = ?, notifications = notifications + 1 WHERE id = ?", arguments: [at.seconds, id])
        }
    }

    public func recordDelivery(_ delivery: AlertDelivery) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO alert_delivery (alertID, event, webhook, attempt, at, httpStatus, error, delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    delivery.alertID, delivery.event.rawValue, delivery.webhook, delivery.attempt, delivery.at.seconds, delivery.httpStatus,
                    delivery.error, delivery.delivered,
                ])
        }
    }

    public func deliveries(ofAlert id: Int64) async throws -> [AlertDelivery] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alert_delivery WHERE alertID = ? ORDER BY id", arguments: [id]).map { row in
                AlertDelivery(
                    alertID: row["alertID"], event: try Self.value(row["event"], AlertDelivery.Event.self, "alert_delivery.event"),
                    webhook: row["webhook"], attempt: row["attempt"], at: Date(timeIntervalSince1970: row["at"]), httpStatus: row["httpStatus"],
                    error: row["error"], delivered: row["delivered"])
            }
        }
    }

    private static func alert(_ row: Row) throws -> Alert {
        Alert(
            id: row["id"],
            condition: AlertCondition(
                rule: row["rule"], key: row["key"], severity: try value(row["severity"], AlertSeverity.self, "alert.severity"), summary: row["summary"]),
            status: try value(row["status"], Alert.Status.self, "alert.status"), firedAt: Date(timeIntervalSince1970: row["firedAt"]),
            resolvedAt: (row["resolvedAt"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastNotifiedAt: (row["lastNotifiedAt"] as Double?).map(Date.init(timeIntervalSince1970:)), notifications: row["notifications"])
    }

    /// A stored enumeration value, or an error naming the column: never a silent default.
    private static func value<Value: RawRepresentable>(_ raw: String, _ type: Value.Type, _ column: String) throws -> Value where Value.RawValue == String {
        try StoredValue.decode(raw, column)
    }
}
