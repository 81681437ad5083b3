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

    /// Turns off SQLite's memory statistics, which take a process-wide mutex on every allocation
    /// SQLite makes (a few per statement); nothing here reads them.
    ///
    /// Call it first thing in a program's `main`, before any thread exists that might use SQLite:
    /// `sqlite3_config` "is not threadsafe. The application must ensure that no other SQLite
    /// interfaces are invoked by other threads while sqlite3_config() is running"
    /// (https://sqlite.org/c3ref/config.html). Opening a store never calls it, so that a process
    /// where several threads open stores at once (the test suite) never races it. Called after
    /// SQLite was first used, it changes nothing (SQLite refuses with SQLITE_MISUSE).
    public static func configureProcess() {
        _ = stagelink_sqlite3_disable_memory_statistics()
    }

    /// How a store is opened.
    public enum Access: Sendable, Hashable {
        /// Created if needed (mode 0600) and migrated to this build's schema.
        case readWrite
        /// Never written: no migrations, no file created. A store that needs this build's
        /// migrations is refused (open it once for writing).
        case readOnly
    }

    /// Whether this store was opened read-only.
    public let access: Access
    /// The key-encryption key it was opened with (`encryption.keyFile`), if any.
    public let key: StoreKey?
    /// The data key's uses, when the store is encrypted; nil for a store without a key, which
    /// keeps payloads and values in the clear (for development only).
    let cipher: StoreCipher?
    /// The lease epoch every write of this store carries (``fenced(by:)``); nil: not fenced.
    let fence: Int64?
    /// The folder a ``temporary(_:encrypted:)`` store lives in: removed when the store (and every
    /// fenced copy of it) is gone. Nil for a store at a path of its caller's.
    private let folder: TemporaryFolder?
    /// Pages a puller said it will stage next, prepared ahead (``prepareToStage(_:)``).
    let upcoming = UpcomingPages()

    /// Opens the store at `path`. A store written by a newer Stagelink (a schema version or a
    /// migration this build does not know) is refused before anything writes to it.
    ///
    /// With a `key`, the store is encrypted: its data key is unwrapped with it (and made, and
    /// everything already stored sealed with it, the first time a store is opened for writing with
    /// a key). An encrypted store opened without its key, or with another key, is refused with an
    /// error naming the key file.
    public convenience init(path: String, access: Access = .readWrite, key: StoreKey? = nil) throws {
        try self.init(path: path, access: access, key: key, folder: nil)
    }

    private init(path: String, access: Access, key: StoreKey?, folder: TemporaryFolder?) throws {
        self.path = path
        self.access = access
        self.key = key
        self.folder = folder
        fence = nil
        switch access {
        case .readWrite:
            try Self.createOwnerOnlyFile(at: path)
        case .readOnly:
            guard FileManager.default.fileExists(atPath: path) else {
                throw StoreError.cannotOpen(path: path, reason: "no such file")
            }
        }
        let standing = try Self.standing(at: path)
        if standing.isNewer {
            throw StoreError.newer(path: path, version: standing.version, known: StoreMigrations.version, unknownMigrations: standing.unknownMigrations)
        }
        if access == .readOnly, standing.needsUpgrade {
            throw StoreError.needsUpgrade(path: path, version: standing.version, current: StoreMigrations.version)
        }
        var configuration = Configuration()
        configuration.readonly = access == .readOnly
        configuration.busyMode = .timeout(15)
        configuration.label = "stagelink.store"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            db.add(function: Self.partitionFunction)
            guard !db.configuration.readonly else { return }
            // The writer links rows into several indexes keyed by record id, in random order: it
            // touches far more pages than SQLite's 2 MB default cache holds. A checkpoint every
            // 32 MB of WAL instead of every 4 MB copies a page rewritten by many transactions once.
            // Measured on the link benchmark: about 1.1× the rows per second of the defaults.
            try db.execute(sql: Self.writerPragmas)
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        if access == .readWrite {
            try StoreMigrations.migrate(pool)
        }
        cipher = try Self.unlock(pool, path: path, key: key, access: access)
        var watcherConfiguration = Configuration()
        watcherConfiguration.readonly = true
        watcherConfiguration.busyMode = .timeout(5)
        watcher = try DatabaseQueue(path: path, configuration: watcherConfiguration)
    }

    /// The same store (the same connections), every write of which commits only while the service
    /// lease is held at `epoch`: checked first in the write's own transaction (an `IMMEDIATE` one,
    /// so no other process can take the lease between the check and the commit), and refused with
    /// `StaleLease` otherwise.
    public func fenced(by epoch: Int64) -> any SyncStore {
        SQLiteStore(sharing: self, fence: epoch)
    }

    private init(sharing store: SQLiteStore, fence: Int64) {
        path = store.path
        access = store.access
        key = store.key
        pool = store.pool
        watcher = store.watcher
        cipher = store.cipher
        folder = store.folder
        self.fence = fence
    }

    /// A write transaction of the sync: fenced by the lease's epoch when this store is (``fenced(by:)``).
    func write<T: Sendable>(_ updates: @Sendable (Database) throws -> T) async throws -> T {
        guard let fence else { return try await pool.write(updates) }
        return try await pool.write { db in
            let lease = try LeaseRecord.fetchOne(db, key: LeaseRecord.serviceLease)
            guard let lease, lease.epoch == fence else { throw StaleLease(epoch: fence, current: lease?.lease) }
            return try updates(db)
        }
    }

    /// Opens a store for a command that only reads: read-only (so that a store file that is not
    /// writable, mode 0400, works), never created or migrated. A missing file, a file that holds
    /// no store and a store that needs this build's migrations are refused (`stagelink store
    /// migrate` upgrades one), as a PostgreSQL store is for the same commands.
    public static func forReading(path: String, key: StoreKey? = nil) throws -> SQLiteStore {
        try checkExisting(path)
        return try SQLiteStore(path: path, access: .readOnly, key: key)
    }

    /// Opens an existing store for a command that writes to it but does not own it (retry,
    /// policy changes, purge): never created or migrated, refused as ``forReading(path:key:)`` refuses.
    public static func forWriting(path: String, key: StoreKey? = nil) throws -> SQLiteStore {
        try checkExisting(path)
        return try SQLiteStore(path: path, access: .readWrite, key: key)
    }

    /// The file is there, holds a store, and is at this build's version (or a newer one, which the
    /// opening refuses with its own message).
    private static func checkExisting(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError.cannotOpen(path: path, reason: "no such file; nothing was created (a new store is made by the service, `stagelink run`, or `stagelink sync`)")
        }
        let standing = try standing(at: path)
        guard standing.version > 0 else {
            throw StoreError.cannotOpen(path: path, reason: "the file holds no Stagelink store; nothing was written to it")
        }
        if standing.needsUpgrade {
            throw StoreError.needsUpgrade(path: path, version: standing.version, current: StoreMigrations.version)
        }
    }

    /// The schema version of the store file at `path` and this build's, read without writing
    /// (for `stagelink check`): `newer` when a newer Stagelink wrote it.
    public static func schemaVersion(at path: String) throws -> (stored: Int, current: Int, newer: Bool) {
        let standing = try standing(at: path)
        return (standing.version, StoreMigrations.version, standing.isNewer)
    }

    /// The store file's schema version and migrations, read through a read-only connection.
    private static func standing(at path: String) throws -> StoreMigrations.Standing {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(15)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            return try queue.read(StoreMigrations.standing)
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(path: path, reason: error.message ?? "\(error)")
        }
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
    /// Written by a newer Stagelink: refused, never written to.
    case newer(path: String, version: Int, known: Int, unknownMigrations: [String])
    /// Opened read-only, but it needs this build's migrations first.
    case needsUpgrade(path: String, version: Int, current: Int)
    case noSuchRow(Int64)
    case noSuchConflict(Int64)
    /// A stored value this build cannot read (never replaced by a default).
    case unreadable(String)
    /// The store is encrypted and was opened without a key.
    case keyRequired(path: String)
    /// The key given does not unwrap the store's data key.
    case wrongKey(path: String, keyFile: String, keyID: String, expectedKeyID: String)
    /// A data-key rotation is re-sealing the store: writes wait until it finishes. `running`: this
    /// process opened the store before the rotation began.
    case rotating(path: String, running: Bool)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open the store at \(path): \(reason)"
        case .newer(let path, let version, let known, let unknown):
            "the store at \(path) was written by a newer Stagelink: it is at store version \(version)"
                + (unknown.isEmpty ? "" : " with migrations this build does not know (\(unknown.joined(separator: "; ")))")
                + ", and this build knows store versions up to \(known); it was not opened. Run the newer Stagelink, or restore a backup made by this version."
        case .needsUpgrade(let path, let version, let current):
            "the store at \(path) is at store version \(version) and this build reads version \(current): it was written by an older Stagelink and this command does not upgrade it; run `stagelink store migrate --store \(path)` (or start the service, `stagelink run`, which migrates as it starts) with write access to the file"
        case .noSuchRow(let id): "no staged row has id \(id)"
        case .noSuchConflict(let id): "no conflict has id \(id)"
        case .unreadable(let what): "the store holds a value this build cannot read: \(what)"
        case .keyRequired(let path):
            "the store at \(path) is encrypted and no key was given: name its key file in stagelink.yaml (encryption: { keyFile: PATH }) and run again"
        case .wrongKey(let path, let keyFile, let keyID, let expected):
            "the key in \(keyFile) (key id \(keyID)) does not open the store at \(path), which was locked with key id \(expected): "
                + "set encryption.keyFile to the key the store was written with (after `stagelink store rekey`, the new key)"
        case .rotating(let path, let running):
            "the store at \(path) is having its data key rotated (`stagelink store rekey --data-key`) and takes no writes until that finishes: "
                + (running
                    ? "this process opened it before the rotation began, so start it again afterwards"
                    : "if no rotation is running (it was interrupted), run `stagelink store rekey --data-key` again to finish it")
        }
    }
}

extension Date {
    var seconds: Double { timeIntervalSince1970 }
}

extension SQLiteStore {
    /// A store in a new temporary folder, for tests and benchmarks; the folder is removed with
    /// everything in it when the store is gone (``TemporaryFolder``). Keep the store while another
    /// connection or process still opens its path.
    /// With `encrypted`, a new key is written beside it (`store.key`) and the store is encrypted.
    public static func temporary(_ name: String = "stagelink", encrypted: Bool = false) throws -> SQLiteStore {
        let folder = try TemporaryFolder(name)
        let key = encrypted ? try StoreKey.generate(at: folder.file("store.key")) : nil
        return try SQLiteStore(path: folder.file("store.sqlite"), access: .readWrite, key: key, folder: folder)
    }
}
