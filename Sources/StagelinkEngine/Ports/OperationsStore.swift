import Foundation

/// What monitoring reads from the store and what alerting keeps in it: the figures behind
/// `/metrics` and the alert rules, and the alerts with their webhook delivery attempts.
///
/// Nothing here is patient data: counts, codes, resource types, job ids and instants only.
/// The SQLite store conforms to both roles beside ``SyncStore``; the operations module reads only these.
public typealias OperationsStore = MonitoringReader & AlertStore

/// The figures monitoring reads: what `/metrics`, the health endpoints and the alert rules need.
public protocol MonitoringReader: Sendable {
    /// Every figure the metrics and the alert rules need, read in one transaction.
    func operationsSnapshot() async throws -> OperationsSnapshot
    /// Finished jobs whose id is above `afterID`, oldest first, and the oldest job still running,
    /// read together: what a metrics exporter has not counted yet, and where it must wait.
    func finishedJobs(afterID: Int64, limit: Int) async throws -> (jobs: [Job], oldestRunning: Int64?)
}

/// The alerts the alert rules fired, and each delivery attempt of their state to a webhook.
public protocol AlertStore: Sendable {
    /// Alerts still firing, oldest first.
    func firingAlerts() async throws -> [Alert]
    /// The newest alerts, firing or resolved, newest first.
    func recentAlerts(limit: Int) async throws -> [Alert]
    /// Records a new firing alert.
    func openAlert(_ condition: AlertCondition, at: Date) async throws -> Alert
    /// Marks a firing alert resolved.
    func resolveAlert(id: Int64, at: Date) async throws
    /// Notes that the alert's state was sent to the webhooks (the repeat interval counts from here).
    func markAlertNotified(id: Int64, at: Date) async throws
    /// Appends one delivery attempt to a webhook.
    func recordDelivery(_ delivery: AlertDelivery) async throws
    /// The delivery attempts of one alert, oldest first.
    func deliveries(ofAlert id: Int64) async throws -> [AlertDelivery]
}

/// The store's state as monitoring sees it, at one instant.
public struct OperationsSnapshot: Sendable, Hashable {
    /// Staged rows of one system, resource type and status.
    public struct RowCount: Sendable, Hashable {
        public var system: SourceSystem
        public var resourceType: String
        public var status: RowStatus
        public var count: Int

        public init(system: SourceSystem, resourceType: String, status: RowStatus, count: Int) {
            self.system = system
            self.resourceType = resourceType
            self.status = status
            self.count = count
        }
    }

    /// How far one resource type has been durably staged.
    public struct WatermarkReading: Sendable, Hashable {
        public var system: SourceSystem
        public var resourceType: String
        public var value: Date

        public init(system: SourceSystem, resourceType: String, value: Date) {
            self.system = system
            self.resourceType = resourceType
            self.value = value
        }
    }

    /// One direction's latest jobs.
    public struct DirectionState: Sendable, Hashable {
        /// The newest pull job that succeeded (or was partial).
        public var lastSuccessfulPull: Job?
        /// The newest finished job of any kind.
        public var lastFinished: Job?
        /// Jobs of this direction that failed because the other system refused our credentials.
        public var signInFailures: Int

        public init(lastSuccessfulPull: Job? = nil, lastFinished: Job? = nil, signInFailures: Int = 0) {
            self.lastSuccessfulPull = lastSuccessfulPull
            self.lastFinished = lastFinished
            self.signInFailures = signInFailures
        }
    }

    public var takenAt: Date
    public var rows: [RowCount]
    /// Failed rows by error code.
    public var failedByCode: [String: Int]
    /// When the oldest row that is failed now was staged.
    public var oldestFailedReceivedAt: Date?
    public var watermarks: [WatermarkReading]
    public var conflicts: [Conflict.Status: Int]
    /// Open conflicts waiting for a person under the `hold` rule.
    public var conflictsHeld: Int
    public var directions: [Job.Direction: DirectionState]
    /// Jobs still running, oldest first.
    public var runningJobs: [Job]
    /// Bulk Data exports kicked off and not yet staged to the end, also between pull jobs (a pull
    /// that gave up waiting leaves its export for the next one).
    public var bulkExports: [BulkExportProgress]
    /// The newest usage the other system reported (`Sforce-Limit-Info`).
    public var apiUsage: APIUsage?
    public var lease: Lease?

    public init(
        takenAt: Date, rows: [RowCount] = [], failedByCode: [String: Int] = [:], oldestFailedReceivedAt: Date? = nil,
        watermarks: [WatermarkReading] = [], conflicts: [Conflict.Status: Int] = [:], conflictsHeld: Int = 0,
        directions: [Job.Direction: DirectionState] = [:], runningJobs: [Job] = [], bulkExports: [BulkExportProgress] = [],
        apiUsage: APIUsage? = nil, lease: Lease? = nil
    ) {
        self.takenAt = takenAt
        self.rows = rows
        self.failedByCode = failedByCode
        self.oldestFailedReceivedAt = oldestFailedReceivedAt
        self.watermarks = watermarks
        self.conflicts = conflicts
        self.conflictsHeld = conflictsHeld
        self.directions = directions
        self.runningJobs = runningJobs
        self.bulkExports = bulkExports
        self.apiUsage = apiUsage
        self.lease = lease
    }

    /// Failed rows to fix, by code: rows waiting on their parent (`WAITING_ON_PARENT`) link by
    /// themselves and are left out, as health leaves them out.
    public var failuresByCode: [String: Int] { failedByCode.filter { !Self.waitingCodes.contains($0.key) } }

    /// Failed rows to fix, in all (waiting rows left out).
    public var failedRows: Int { failuresByCode.values.reduce(0, +) }

    private static let waitingCodes = ErrorCode.codes(.waiting)

    /// A job message that says the other system refused our credentials (how `SyncCycle` records it).
    public static func isSignInFailure(_ message: String?) -> Bool {
        message?.hasPrefix("\(RemoteCallError.Kind.unauthorized.rawValue):") == true
    }
}

/// Something an alert rule found wrong, before it is kept: which rule, a key that tells this
/// occurrence from another of the same rule (an error code, a direction), and a summary made of
/// codes, counts and durations only, never patient data.
public struct AlertCondition: Sendable, Hashable {
    public var rule: String
    public var key: String
    public var severity: AlertSeverity
    public var summary: String

    public init(rule: String, key: String, severity: AlertSeverity, summary: String) {
        self.rule = rule
        self.key = key
        self.severity = severity
        self.summary = summary
    }
}

public enum AlertSeverity: String, Sendable, Hashable, CaseIterable, Codable {
    case warning, critical
}

/// An alert as the store keeps it: fired once, resolved once, re-sent every repeat interval while it fires.
public struct Alert: Sendable, Hashable, Identifiable {
    public enum Status: String, Sendable, Hashable, CaseIterable, Codable {
        case firing, resolved
    }

    public var id: Int64
    public var condition: AlertCondition
    public var status: Status
    public var firedAt: Date
    public var resolvedAt: Date?
    /// When its state was last sent to the webhooks.
    public var lastNotifiedAt: Date?
    /// How many times it was sent (firing, repeats, resolved).
    public var notifications: Int

    public init(
        id: Int64, condition: AlertCondition, status: Status, firedAt: Date, resolvedAt: Date? = nil, lastNotifiedAt: Date? = nil, notifications: Int = 0
    ) {
        self.id = id
        self.condition = condition
        self.status = status
        self.firedAt = firedAt
        self.resolvedAt = resolvedAt
        self.lastNotifiedAt = lastNotifiedAt
        self.notifications = notifications
    }
}

/// One attempt to deliver an alert's state to one webhook.
public struct AlertDelivery: Sendable, Hashable {
    /// What was being said.
    public enum Event: String, Sendable, Hashable, CaseIterable, Codable {
        case firing, `repeat`, resolved, test
    }

    public var alertID: Int64
    public var event: Event
    /// The webhook's name from the configuration (never its URL, which may hold a secret).
    public var webhook: String
    public var attempt: Int
    public var at: Date
    /// The HTTP status the webhook answered, when it answered.
    public var httpStatus: Int?
    /// Why the attempt failed, when it did.
    public var error: String?
    public var delivered: Bool

    public init(alertID: Int64, event: Event, webhook: String, attempt: Int, at: Date, httpStatus: Int?, error: String?, delivered: Bool) {
        self.alertID = alertID
        self.event = event
        self.webhook = webhook
        self.attempt = attempt
        self.at = at
        self.httpStatus = httpStatus
        self.error = error
        self.delivered = delivered
    }
}
