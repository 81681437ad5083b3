import CSQLiteSettings
import Foundation
import GRDB
import StagelinkEngine

#if canImport(Glibc)
import Glibc
#endif

/// The engine's store in one SQLite file, through GRDB: WAL mode, owner-only file permissions,
/// one record type per table, migrations in one `DatabaseMigrator`.
///
/// Several processes may open the same file: the service writes while the console and the CLI
/// read, retry and push. Writers wait for each other (a busy timeout) instead of failing.
///
/// For example:
///
/// ```swift
/// let store = try SQLiteStore(path: "stagelink.sqlite")
/// let job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
/// ```
public final class SQLiteStore: SyncStore {
    /// The file this store lives in.
    public let path: String
    let pool: DatabasePool
    /// A connection of its own whose `PRAGMA data_version` moves when any other connection commits.
    private let watcher: DatabaseQueue

    /// The writing connection's cache and checkpoint settings; public so that a benchmark's raw
    /// sqlite3 reference writes with the same.
    public static let writerPragmas = "PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 8000;"

    /// SQLite's memory statistics take a process-wide mutex on every allocation it makes, a few
    /// per statement; nothing here reads them. Set once, before the first store opens (later, when
    /// something else already used SQLite in this process, SQLite refuses and nothing changes).
    private static let processSettings: Void = {
        _ = stagelink_sqlite3_disable_memory_statistics()
    }()

    /// Opens (creating if needed, mode 0600) and migrates the store at `path`.
    public init(path: String) throws {
        self.path = path
        _ = Self.processSettings
        try Self.createOwnerOnlyFile(at: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(15)
        configuration.label = "stagelink.store"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            guard !db.configuration.readonly else { return }
            // The writer links rows into several indexes keyed by record id, in random order: it
            // touches far more pages than SQLite's 2 MB default cache holds. A checkpoint every
            // 32 MB of WAL instead of every 4 MB copies a page rewritten by many transactions once.
            // Measured on the link benchmark: about 1.1× the rows per second of the defaults.
            try db.execute(sql: Self.writerPragmas)
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try StoreMigrations.migrator.migrate(pool)
        var watcherConfiguration = Configuration()
        watcherConfiguration.readonly = true
        watcherConfiguration.busyMode = .timeout(5)
        watcher = try DatabaseQueue(path: path, configuration: watcherConfiguration)
    }

    /// Creates the file with mode 0600 before SQLite does, so that it is never readable by others,
    /// and tightens an existing file's mode. SQLite gives the WAL and shared-memory files the
    /// database file's mode.
    private static func createOwnerOnlyFile(at path: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT, 0o600)
        guard descriptor >= 0 else {
            throw StoreError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else {
            throw StoreError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
    }

    public func changeToken() async throws -> Int {
        try await watcher.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }

    /// Runs SQLite's own consistency check; "ok" when the file is sound.
    public func integrityCheck() async throws -> String {
        try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n") }
    }
}

/// A store that cannot be opened or refuses an operation.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case noSuchRow(Int64)
    case noSuchConflict(Int64)
    /// A stored value cannot be read as what it should be.
    case corrupt(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open the store at \(path): \(reason)"
        case .noSuchRow(let id): "no staged row has id \(id)"
        case .noSuchConflict(let id): "no conflict has id \(id)"
        case .corrupt(let what): "the store holds an unreadable value: \(what)"
        }
    }
}

extension Date {
    var seconds: Double { timeIntervalSince1970 }
}

extension SQLiteStore {
    /// A store in a new temporary folder, for tests and benchmarks.
    public static func temporary(_ name: String = "stagelink") throws -> SQLiteStore {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try SQLiteStore(path: folder.appendingPathComponent("store.sqlite").path)
    }
}
