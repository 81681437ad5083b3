import Foundation

/// One read of a staged row's evidence (its payload, error and lineage) by a person: who, when,
/// through what and from which process. Kept in an append-only log, like the policy audit.
///
/// For example:
///
/// ```swift
/// try await store.recordAccess(RowAccess(rowID: 4211, operatorName: "alice", via: .show))
/// try await store.accessLog(AccessQuery(rowID: 4211))   // newest first
/// ```
public struct RowAccess: Sendable, Hashable {
    /// The log's own id; nil before it is stored.
    public var id: Int64?
    public var at: Date
    public var rowID: Int64
    /// The person, as the audit trail names them (`--operator`, or the login name).
    public var operatorName: String
    /// The process that read it, and the login it ran as: `stagelink (pid 4242 on demo-host) as alice`
    /// (the operator name is given by the person; the login is the system's).
    public var process: String
    public var via: Via

    /// Where the row was read.
    public enum Via: String, Sendable, Hashable, CaseIterable {
        /// `stagelink show`.
        case show
        /// The console's detail view.
        case console
        /// `stagelink why`: the lineage of a field, which names the row.
        case why
    }

    public init(id: Int64? = nil, at: Date = Date(), rowID: Int64, operatorName: String, process: String = RowAccess.currentProcess(), via: Via) {
        self.id = id
        self.at = at
        self.rowID = rowID
        self.operatorName = operatorName
        self.process = process
        self.via = via
    }

    /// This process, as the log names it: `stagelink (pid 4242 on demo-host) as alice`.
    public static func currentProcess() -> String {
        let info = ProcessInfo.processInfo
        let login = info.environment["USER"] ?? info.environment["LOGNAME"] ?? "an unnamed login"
        return LeaseHolder(name: info.processName, host: info.hostName, pid: info.processIdentifier).description + " as \(login)"
    }
}

/// Which reads of the access log to list, newest first, keyset-paged by id.
public struct AccessQuery: Sendable, Hashable {
    public var rowID: Int64?
    public var operatorName: String?
    /// Entries older than this id (the next page).
    public var before: Int64?
    public var limit: Int

    public init(rowID: Int64? = nil, operatorName: String? = nil, before: Int64? = nil, limit: Int = 100) {
        self.rowID = rowID
        self.operatorName = operatorName
        self.before = before
        self.limit = limit
    }
}
