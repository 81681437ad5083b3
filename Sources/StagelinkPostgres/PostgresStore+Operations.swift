import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// What monitoring reads (`/metrics`, the health endpoints, the alert rules) and the alerts with
// their webhook deliveries, as the SQLite store keeps them: counts, codes and instants only.
extension PostgresStore: OperationsStore {
    /// Every figure in one read-only transaction at `REPEATABLE READ`: one snapshot of the store,
    /// whatever the service commits meanwhile.
    public func operationsSnapshot() async throws -> OperationsSnapshot {
        let finished = JobSelection.finished.map(\.rawValue).sorted()
        let completed = JobSelection.completed.map(\.rawValue).sorted()
        var snapshot = try await client.withConnection { connection in
            try await connection.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                var snapshot = OperationsSnapshot(takenAt: Date())
                for (system, type, status, count) in try await connection.rows(
                    "SELECT system, resourceType, status, COUNT(*) FROM staged_row GROUP BY system, resourceType, status", logger: logger
                ).decode((String, String, String, Int64).self).collect() {
                    snapshot.rows.append(
                        OperationsSnapshot.RowCount(
                            system: try StoredValue.decode(system, "staged_row.system"), resourceType: type,
                            status: try StoredValue.decode(status, "staged_row.status"), count: Int(count)))
                }
                for (code, count) in try await connection.rows(
                    "SELECT COALESCE(errorCode, \(ErrorCode.noErrorCode.rawValue)), COUNT(*) FROM staged_row WHERE status = 'failed' GROUP BY errorCode",
                    logger: logger
                ).decode((String, Int64).self).collect() {
                    snapshot.failedByCode[code, default: 0] += Int(count)
                }
                snapshot.oldestFailedReceivedAt = try await connection.rows(
                    "SELECT MIN(receivedAt) FROM staged_row WHERE status = 'failed'", logger: logger
                ).decode(Double?.self).collect().first?.map(Date.init(timeIntervalSince1970:))
                for (system, type, value) in try await connection.rows(
                    #"SELECT system, resourceType, value FROM watermark ORDER BY system COLLATE "C", resourceType COLLATE "C""#, logger: logger
                ).decode((String, String, Double).self).collect() {
                    snapshot.watermarks.append(
                        OperationsSnapshot.WatermarkReading(
                            system: try StoredValue.decode(system, "watermark.system"), resourceType: type, value: Date(timeIntervalSince1970: value)))
                }
                for (status, count) in try await connection.rows("SELECT status, COUNT(*) FROM conflict GROUP BY status", logger: logger)
                    .decode((String, Int64).self).collect()
                {
                    snapshot.conflicts[try StoredValue.decode(status, "conflict.status") as Conflict.Status] = Int(count)
                }
                snapshot.conflictsHeld = Int(
                    try await connection.rows(
                        "SELECT COUNT(*) FROM conflict WHERE status = 'open' AND rule = \(OwnerRule.hold.rawValue)", logger: logger
                    ).decode(Int64.self).collect().first ?? 0)
                let unauthorized = "\(RemoteCallError.Kind.unauthorized.rawValue):%"
                for direction in Job.Direction.allCases {
                    var state = OperationsSnapshot.DirectionState()
                    state.lastSuccessfulPull = try await jobs(
                        "direction = \(direction.rawValue) AND kind = \(Job.Kind.pull.rawValue) AND status = ANY(\(completed)::text[]) ORDER BY id DESC LIMIT 1",
                        in: connection
                    ).first
                    state.lastFinished = try await jobs(
                        "direction = \(direction.rawValue) AND status = ANY(\(finished)::text[]) ORDER BY id DESC LIMIT 1", in: connection
                    ).first
                    state.signInFailures = Int(
                        try await connection.rows(
                            """
                            SELECT COUNT(*) FROM job WHERE direction = \(direction.rawValue) AND status IN ('failed', 'interrupted')
                                AND message LIKE \(unauthorized)
                            """, logger: logger
                        ).decode(Int64.self).collect().first ?? 0)
                    snapshot.directions[direction] = state
                }
                snapshot.runningJobs = try await jobs("status = \(Job.Status.running.rawValue) ORDER BY id", in: connection)
                snapshot.apiUsage = try await jobs("apiUsed IS NOT NULL AND apiLimit IS NOT NULL ORDER BY id DESC LIMIT 1", in: connection)
                    .first?.apiUsage
                snapshot.lease = try await leases("name = \(Self.serviceLease)", in: connection).first
                try await connection.run("COMMIT", logger: logger)
                return snapshot
            } catch {
                try? await connection.run("ROLLBACK", logger: logger)
                throw error
            }
        }
        // The exports in flight, read as the staging role reads them (one row per system).
        for system in SourceSystem.allCases {
            if let export = try await bulkExport(system: system) { snapshot.bulkExports.append(export) }
        }
        return snapshot
    }

    public func finishedJobs(afterID: Int64, limit: Int) async throws -> (jobs: [Job], oldestRunning: Int64?) {
        try await client.withConnection { connection in
            let jobs = try await jobs(
                "id > \(afterID) AND status <> \(Job.Status.running.rawValue) ORDER BY id LIMIT \(limit)", in: connection)
            let oldest = try await connection.rows("SELECT MIN(id) FROM job WHERE status = \(Job.Status.running.rawValue)", logger: logger)
                .decode(Int64?.self).collect().first ?? nil
            return (jobs, oldest)
        }
    }

    /// Jobs read on `connection` with a condition (and an order) that follows `WHERE`.
    private func jobs(_ condition: PostgresQuery, in connection: PostgresConnection) async throws -> [Job] {
        let query = PostgresQuery(unsafeSQL: "SELECT \(JobRecord.columnList) FROM job WHERE \(condition.sql)", binds: condition.binds)
        return try await connection.rows(query, logger: logger).decode(JobRecord.Values.self).collect().map { try JobRecord($0).job }
    }

    // MARK: - Alerts

    public func firingAlerts() async throws -> [Alert] {
        try await alerts("status = 'firing' ORDER BY id")
    }

    public func recentAlerts(limit: Int) async throws -> [Alert] {
        try await alerts("true ORDER BY id DESC LIMIT \(limit)")
    }

    public func openAlert(_ condition: AlertCondition, at: Date) async throws -> Alert {
        let ids = try await transaction { connection in
            try await connection.rows(
                """
                INSERT INTO alert (rule, key, severity, summary, status, firedAt)
                VALUES (\(condition.rule), \(condition.key), \(condition.severity.rawValue), \(StoredText.storable(condition.summary)), 'firing',
                    \(at.timeIntervalSince1970))
                RETURNING id
                """, logger: logger
            ).decode(Int64.self).collect()
        }
        guard let id = ids.first else { throw PostgresStoreError.unexpected("alert returned no id") }
        return Alert(id: id, condition: condition, status: .firing, firedAt: at)
    }

    public func resolveAlert(id: Int64, at: Date) async throws {
        try await run("UPDATE alert SET status = 'resolved', resolvedAt = \(at.timeIntervalSince1970) WHERE id = \(id) AND status = 'firing'", logger: logger)
    }

    public func markAlertNotified(id: Int64, at: Date) async throws {
        try await run("UPDATE alert SET lastNotifiedAt = \(at.timeIntervalSince1970), notifications = notifications + 1 WHERE id = \(id)", logger: logger)
    }

    public func recordDelivery(_ delivery: AlertDelivery) async throws {
        try await run(
            """
            INSERT INTO alert_delivery (alertID, event, webhook, attempt, at, httpStatus, error, delivered)
            VALUES (\(delivery.alertID), \(delivery.event.rawValue), \(delivery.webhook), \(delivery.attempt), \(delivery.at.timeIntervalSince1970),
                \(delivery.httpStatus), \(delivery.error.map(StoredText.storable)), \(delivery.delivered))
            """, logger: logger)
    }

    public func deliveries(ofAlert id: Int64) async throws -> [AlertDelivery] {
        try await client.query(
            "SELECT alertID, event, webhook, attempt, at, httpStatus, error, delivered FROM alert_delivery WHERE alertID = \(id) ORDER BY id", logger: logger
        ).decode((Int64, String, String, Int32, Double, Int32?, String?, Bool).self).collect().map { alertID, event, webhook, attempt, at, status, error, delivered in
            AlertDelivery(
                alertID: alertID, event: try StoredValue.decode(event, "alert_delivery.event"), webhook: webhook, attempt: Int(attempt),
                at: Date(timeIntervalSince1970: at), httpStatus: status.map(Int.init), error: error, delivered: delivered)
        }
    }

    /// Alerts read with a condition (and an order) that follows `WHERE`; an unknown severity or status is an error naming it.
    private func alerts(_ condition: PostgresQuery) async throws -> [Alert] {
        let query = PostgresQuery(
            unsafeSQL: "SELECT id, rule, key, severity, summary, status, firedAt, resolvedAt, lastNotifiedAt, notifications FROM alert WHERE \(condition.sql)",
            binds: condition.binds)
        return try await client.query(query, logger: logger)
            .decode((Int64, String, String, String, String, String, Double, Double?, Double?, Int32).self).collect()
            .map { id, rule, key, severity, summary, status, firedAt, resolvedAt, lastNotifiedAt, notifications in
                Alert(
                    id: id,
                    condition: AlertCondition(rule: rule, key: key, severity: try StoredValue.decode(severity, "alert.severity"), summary: summary),
                    status: try StoredValue.decode(status, "alert.status"), firedAt: Date(timeIntervalSince1970: firedAt),
                    resolvedAt: resolvedAt.map(Date.init(timeIntervalSince1970:)), lastNotifiedAt: lastNotifiedAt.map(Date.init(timeIntervalSince1970:)),
                    notifications: Int(notifications))
            }
    }
}
