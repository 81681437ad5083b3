import Foundation
import Logging
import PostgresNIO
import StagelinkEngine
import StagelinkStore
import Synchronization

/// The engine's store on a PostgreSQL server (postgres-nio's pooled `PostgresClient`), for several
/// service processes on several hosts sharing one store.
///
/// The schema is the SQLite store's, migration for migration (``PostgresMigrations``), with the
/// same guarantees kept by the database itself: payloads verbatim (`bytea`) beside their hashes,
/// every status change of a row recorded by a trigger, the audit tables append-only. Each method is
/// one transaction, as the store roles require.
///
/// For example:
///
/// ```swift
/// let store = try await PostgresStore(location: PostgresLocation(parsing: "postgres://stagelink@127.0.0.1:5432/stagelink?sslmode=disable"))
/// defer { store.close() }
/// let result = try await store.stage(records, job: job.id, advancing: advance)
/// ```
public final class PostgresStore: Sendable {
    /// Where the store is (its description never holds the password).
    public let location: PostgresLocation
    /// The schema the store's tables live in (`public` unless a test gave one of its own).
    public let schema: String
    let client: PostgresClient
    let logger: Logger
    /// The pool's run loop and the change listener, shared with the store's fenced views.
    private let lifetime: Lifetime
    /// The lease epoch every write of this store carries (``fenced(by:)``); nil: not fenced.
    let fence: Int64?
    /// The key-encryption key it was opened with (`encryption.keyFile`), if any.
    public let key: StoreKey?
    /// Payloads and values sealed as the SQLite store seals them (PostgresStore+Encryption), or kept
    /// in the clear when the store has no key.
    let sealing: StoreSealing
    /// The pages a puller said it stages next, prepared ahead (``StagingStore/prepareToStage(_:)``).
    let upcoming = UpcomingPages()
    /// When the planner's statistics of `staged_row` are taken again after staging.
    let statistics: StagedRowStatistics

    /// The store's sessions compile no query to machine code (`jit`). Its statements are short
    /// and many, the kind for which PostgreSQL's documentation says "the added overhead of
    /// performing JIT compilation will often be higher than the time it can save"
    /// (https://www.postgresql.org/docs/current/jit-decision.html); but the planner decides from
    /// its cost estimate, and a claim by one of two linking workers (its share is a hash of each
    /// row's person, which the planner cannot estimate) was estimated above `jit_optimize_above_cost`
    /// on every call: 280 ms of compiling and optimizing for 3 ms of work, measured with
    /// `auto_explain` on a server with JIT (Debian's PostgreSQL 15 and most managed services ship it on).
    static let jit = "off"

    /// How long the server lets one of the store's transactions wait for its client
    /// (`idle_in_transaction_session_timeout`, PostgreSQL's "Terminate any session that has been
    /// idle … within an open transaction for longer than the specified amount of time"). Every
    /// write of a fenced store holds the lease's row `FOR SHARE` to its commit, so a holder frozen
    /// (SIGSTOP, a stalled VM) or cut off from the server inside a transaction would keep the
    /// standby from taking the lease over for as long as it stays so, or until TCP keepalives
    /// notice (hours by default): the failover proof's `--freeze` mode found it. The server ends
    /// such a session after this, its transaction rolled back and the lock released; the store's
    /// own transactions never wait for their client anywhere near as long.
    ///
    /// A third of `lease.ttl`, between 2 s and 10 s: the lock is released well before the lease
    /// lapses, so the standby takes over at the lapse (with the 10 s used for every `lease.ttl`
    /// before, a holder frozen inside a write with a 10 s lease was replaced only after 21 s). The
    /// default, for commands that hold no lease: 10 s.
    static func idleInTransactionLimit(leaseTTL: Duration?) -> String {
        guard let leaseTTL else { return "10000ms" }
        let third = Int64(leaseTTL.seconds * 1_000) / 3
        return "\(min(max(third, 2_000), 10_000))ms"
    }

    /// How a store is opened: by a command that creates and owns it, or by one that uses a store
    /// that must already be there.
    public enum Opening: Sendable, Hashable {
        /// The schema and its tables are created when missing and migrated to this build's schema
        /// (the service, `sync`, the demo, `store copy --to`, `store migrate`).
        case creatingOrMigrating
        /// Nothing is created or migrated: a missing schema, a schema without the store's tables
        /// and a store that lacks this build's migrations are refused (``PostgresStoreError``),
        /// so that a mistyped `?schema=` or database never becomes a new, empty store.
        case existing
    }

    /// Connects, and (``Opening/creatingOrMigrating``) migrates the store to this build's schema
    /// or (``Opening/existing``) checks that it is there at this build's schema. A store holding a
    /// migration this build does not know was written by a newer Stagelink: refused before
    /// anything writes to it.
    ///
    /// With a `key`, the store is encrypted as a SQLite store is: its data key is unwrapped with it
    /// (and made the first time a store is opened with a key). An encrypted store opened without
    /// its key, or with another key, is refused with an error naming the key file.
    ///
    /// - Parameter schema: the PostgreSQL schema to keep the tables in (default: the location's);
    ///   tests give each store one of its own.
    /// - Parameter leaseTTL: `lease.ttl` of the service this store serves, which sets how long a
    ///   transaction may wait for this process (``idleInTransactionLimit(leaseTTL:)``).
    /// - Parameter logger: the store's logger; the pool's own messages go to it at warning and worse.
    public init(
        location: PostgresLocation, schema: String? = nil, opening: Opening = .creatingOrMigrating, key: StoreKey? = nil,
        leaseTTL: Duration? = nil, logger: Logger = Logger(label: "stagelink.postgres")
    ) async throws {
        let schema = schema ?? location.schema
        guard PostgresLocation.isSchemaName(schema) else { throw PostgresStoreError.invalidSchema(schema) }
        self.location = location
        self.schema = schema
        self.logger = logger
        let tls = try Self.tls(location.tls)
        let startup = [
            ("search_path", schema), ("application_name", "stagelink"), ("idle_in_transaction_session_timeout", Self.idleInTransactionLimit(leaseTTL: leaseTTL)),
            ("jit", Self.jit),
        ]
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: tls.map { .require($0) } ?? .disable)
        configuration.options.additionalStartupParameters = startup
        configuration.options.maximumConnections = 8
        // The pool's own messages (a connection closed as the store closes) are for warnings and worse.
        var background = logger
        if background.logLevel < .warning { background.logLevel = .warning }
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        // postgres-nio: "Users must call [run()] in order to allow the client to process any
        // background work"; a connection leased before run() began logs "PostgresClient.run()
        // hasn't been called yet". `Task.immediate` (SE-0472) runs the task's start on this thread
        // until its first suspension, and run() marks the client running before it suspends: the
        // pool runs before the first query below, whatever the scheduler does.
        let lifetime = Lifetime(runner: Task.immediate { await client.run() })
        let cipher: StoreCipher?
        do {
            // Opening runs on a connection of its own, outside the pool: a refused connection, a
            // wrong password or a missing database fails here at once with the server's answer
            // (the pool would retry for a minute and then report only that it gave up).
            var direct = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
                tls: try tls.map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable)
            direct.options.additionalStartupParameters = startup
            let connection = try await PostgresConnection.connect(configuration: direct, id: 0, logger: background)
            do {
                switch opening {
                case .creatingOrMigrating: try await Self.migrate(on: connection, schema: schema, location: location, logger: logger)
                case .existing: try await Self.checkExisting(on: connection, schema: schema, location: location, logger: logger)
                }
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
            cipher = try await Self.unlock(client: client, location: location, key: key, logger: logger)
        } catch {
            lifetime.end()
            throw PostgresServerError.wrapping(error, location: location)
        }
        self.client = client
        self.lifetime = lifetime
        self.key = key
        sealing = StoreSealing(cipher)
        fence = nil
        statistics = StagedRowStatistics()
    }

    private init(sharing store: PostgresStore, fence: Int64) {
        location = store.location
        schema = store.schema
        client = store.client
        logger = store.logger
        lifetime = store.lifetime
        key = store.key
        sealing = store.sealing
        statistics = store.statistics
        self.fence = fence
    }

    /// Closes the pool's connections (and those of the store's fenced views).
    public func close() { lifetime.end() }

    /// Whether the store (or one of its fenced views) was closed.
    var isClosed: Bool { lifetime.runner.isCancelled }

    /// What a store and its fenced views share: the pool's run loop, which ends when the last of
    /// them is gone or one is closed, and the listener behind ``changeToken()``.
    private final class Lifetime: Sendable {
        let runner: Task<Void, Never>
        let changes = ChangeListener()

        init(runner: Task<Void, Never>) { self.runner = runner }

        func end() {
            changes.stop()
            runner.cancel()
        }

        deinit { end() }
    }

    /// `verify-full`: TLS required, the chain verified against the system's roots (or
    /// `sslrootcert`) and the certificate's name against the host, as libpq does.
    /// nil: no TLS (`disable`, loopback only).
    private static func tls(_ mode: PostgresLocation.TLSMode) throws -> TLSConfiguration? {
        switch mode {
        case .disable:
            return nil
        case .verifyFull(let rootCertificate):
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification
            if let rootCertificate { tls.trustRoots = .file(rootCertificate) }
            return tls
        }
    }

    // MARK: - Migrations

    /// A number every Stagelink process agrees on, for the advisory locks that serialise migrations.
    private static let migrationLock: Int32 = 0x5354_4147

    /// Applies this build's migrations that the store lacks, all in one transaction under an
    /// advisory lock of the store's schema (two processes starting at once migrate it once; stores
    /// in other schemas of the database migrate beside it). The extension the person index needs is
    /// the database's, not the schema's: it is created first under a lock of the whole database, so
    /// that two stores migrating at once do not both create it (`CREATE EXTENSION IF NOT EXISTS`
    /// racing itself fails on the catalog's unique index).
    private static func migrate(on connection: PostgresConnection, schema: String, location: PostgresLocation, logger: Logger) async throws {
        try await connection.inTransaction(logger: logger) { connection in
            _ = try await connection.rows("SELECT pg_advisory_xact_lock(\(migrationLock), 0)", logger: logger)
            try await connection.run(PostgresQuery(unsafeSQL: PostgresMigrations.extensions), logger: logger)
        }
        try await connection.inTransaction(logger: logger) { connection in
            _ = try await connection.rows("SELECT pg_advisory_xact_lock(\(migrationLock), hashtext(\(schema)))", logger: logger)
            // The name was checked by init: lower-case letters, digits and _.
            try await connection.run(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            try await connection.run(PostgresQuery(unsafeSQL: PostgresMigrations.bookkeeping), logger: logger)
            var applied = Set<String>()
            for try await identifier in try await connection.rows("SELECT identifier FROM stagelink_migration", logger: logger).decode(String.self) {
                applied.insert(identifier)
            }
            let known = PostgresMigrations.all.map(\.identifier)
            let unknown = applied.subtracting(known)
            guard unknown.isEmpty else {
                throw PostgresStoreError.newer(location: location.description, unknownMigrations: unknown.sorted(), known: PostgresMigrations.version)
            }
            for migration in PostgresMigrations.all where !applied.contains(migration.identifier) {
                for statement in PostgresMigrations.statements(migration.sql) { try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await migration.then?(connection, logger)
                _ = try await connection.rows("INSERT INTO stagelink_migration (identifier) VALUES (\(migration.identifier))", logger: logger)
            }
        }
    }

    /// ``Opening/existing``: the schema and the store's tables are there, with every migration of
    /// this build and none it does not know; nothing is written.
    private static func checkExisting(on connection: PostgresConnection, schema: String, location: PostgresLocation, logger: Logger) async throws {
        let found = try await connection.rows(
            """
            SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(schema)),
                   EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = \(schema) AND tablename = 'stagelink_migration')
            """, logger: logger
        ).decode((Bool, Bool).self).collect().first
        guard let (schemaExists, tableExists) = found, schemaExists, tableExists else {
            throw PostgresStoreError.missing(location: location.description, schema: schema, schemaExists: found?.0 ?? false)
        }
        let applied = try await connection.rows("SELECT identifier FROM stagelink_migration ORDER BY position", logger: logger)
            .decode(String.self).collect()
        let known = PostgresMigrations.all.map(\.identifier)
        let unknown = Set(applied).subtracting(known)
        guard unknown.isEmpty else {
            throw PostgresStoreError.newer(location: location.description, unknownMigrations: unknown.sorted(), known: PostgresMigrations.version)
        }
        let lacking = known.filter { !applied.contains($0) }
        guard lacking.isEmpty else {
            throw PostgresStoreError.needsMigration(location: location.description, applied: applied.count, current: known.count, firstLacking: lacking[0])
        }
    }

    /// The migrations the store holds, in the order they were applied.
    public func appliedMigrations() async throws -> [String] {
        try await client.query("SELECT identifier FROM stagelink_migration ORDER BY position", logger: logger)
            .decode(String.self).collect()
    }

    /// Runs one statement that writes as a transaction of its own (``transaction(fenced:_:)``) and
    /// waits for the server's answer, its error included.
    func run(_ query: PostgresQuery, fenced: Bool = true, logger: Logger) async throws {
        try await transaction(fenced: fenced) { connection in try await connection.run(query, logger: logger) }
    }

    /// Runs `body` in one transaction on one pooled connection: the one place every write of the
    /// store goes through. When the store is fenced (``fenced(by:)``) and `fenced` is true, the
    /// transaction first reads the lease's epoch and keeps the lease's row share-locked to the end,
    /// so that no process can take the lease between the check and the commit; a lease that
    /// changed hands throws ``StaleLease`` and nothing of the write lands. Every transaction ends
    /// with a notification on the store's channel, delivered at commit to every store that
    /// listens (``changeToken()``), unless `notifying` is false: `body` notifies in a statement of
    /// its own (`pg_notify(changeChannel, schema)`), saving a round trip. An error of `body` is
    /// thrown as it is (not wrapped), the server's and the connection's told plainly
    /// (``PostgresServerError``).
    func transaction<Result: Sendable>(
        fenced: Bool = true, notifying: Bool = true, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withConnection { connection in
                try await connection.inTransaction(logger: logger) { connection in
                    if fenced, let fence {
                        let lease = try await leases("name = \(Self.serviceLease) FOR SHARE", in: connection).first
                        guard let lease, lease.epoch == fence else { throw StaleLease(epoch: fence, current: lease) }
                    }
                    let result = try await body(connection)
                    if notifying { try await connection.run("SELECT pg_notify(\(Self.changeChannel), \(schema))", logger: logger) }
                    return result
                }
            }
        } catch {
            throw PostgresServerError.wrapping(error, location: location)
        }
    }
}

// MARK: - Fencing and change tracking

extension PostgresStore {
    /// The same store (the same pool), every write of which commits only while the service lease
    /// is held at `epoch`: checked first in the write's own transaction (see
    /// ``transaction(fenced:_:)``), and refused with ``StaleLease`` otherwise. Taking, renewing and
    /// releasing the lease are not fenced.
    public func fenced(by epoch: Int64) -> any SyncStore {
        PostgresStore(sharing: self, fence: epoch)
    }

    /// The channel every write transaction notifies, with the store's schema as the payload (stores
    /// in other schemas of the same database share the channel and ignore each other).
    static let changeChannel = "stagelink_change"

    /// A number that moves whenever a write commits on any connection to this store, whatever
    /// process made it: a connection of the pool `LISTEN`s on ``changeChannel`` (from the first
    /// call, which returns once the server confirmed the `LISTEN`), and each notification for this
    /// schema moves the number. The tables are not read: a console that polls this number reads
    /// the store only when something changed. When the listening connection is lost, the number
    /// moves (notifications may have been missed) and it listens again.
    public func changeToken() async throws -> Int {
        try await lifetime.changes.token { [client, schema, logger] listener in
            await Self.listen(client: client, schema: schema, listener: listener, logger: logger)
        }
    }

    private static func listen(client: PostgresClient, schema: String, listener: ChangeListener, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: changeChannel) { notifications in
                        listener.listening()
                        for try await notification in notifications where notification.payload == schema { listener.moved() }
                    }
                }
                listener.lost(PostgresStoreError.unexpected("the connection listening for changes was closed"))
            } catch {
                listener.lost(error)
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// The change token of a PostgreSQL store: a counter moved by notifications, and the waiters of
/// the first call, which return once the listening connection is listening.
final class ChangeListener: Sendable {
    private struct State {
        var token = 0
        var listening = false
        var task: Task<Void, Never>?
        var waiters: [CheckedContinuation<Void, any Error>] = []
        /// Set by ``stop()``: the listening task has ended and none is started again.
        var stopped = false
    }

    private let state = Mutex(State())

    /// The token, once a connection listens (`listen` is started by the first call and runs until
    /// ``stop()``). After ``stop()`` (the store was closed) it throws
    /// ``PostgresServerError/storeClosed``: no task would ever listen again to answer it.
    func token(listen: @escaping @Sendable (ChangeListener) async -> Void) async throws -> Int {
        if let token = state.withLock({ $0.listening ? $0.token : nil }) { return token }
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            state.withLock { state in
                if state.stopped { return waiter.resume(throwing: PostgresServerError.storeClosed) }
                if state.listening { return waiter.resume() }
                state.waiters.append(waiter)
                if state.task == nil { state.task = Task { await listen(self) } }
            }
        }
        return state.withLock { $0.token }
    }

    /// The connection listens: what committed before may not have been seen, so the token moves.
    func listening() {
        let waiters = state.withLock { state in
            state.listening = !state.stopped
            state.token &+= 1
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// A write committed.
    func moved() { state.withLock { $0.token &+= 1 } }

    /// The listening connection failed: the token moves, and the first call's waiters get the error.
    func lost(_ error: any Error) {
        let waiters = state.withLock { state in
            state.listening = false
            state.token &+= 1
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    func stop() {
        state.withLock { state in
            state.stopped = true
            return state.task
        }?.cancel()
        lost(PostgresServerError.storeClosed)
    }
}

/// A PostgreSQL store that cannot be opened or refuses an operation.
public enum PostgresStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Written by a newer Stagelink: refused, never written to.
    case newer(location: String, unknownMigrations: [String], known: Int)
    case invalidSchema(String)
    /// A command that uses an existing store found none there (``PostgresStore/Opening/existing``).
    case missing(location: String, schema: String, schemaExists: Bool)
    /// A command that uses an existing store found one that lacks this build's migrations.
    case needsMigration(location: String, applied: Int, current: Int, firstLacking: String)
    /// The server answered a statement in a way it never should (a RETURNING with no row).
    case unexpected(String)
    /// Opened with a key for the first time while it holds rows in the clear.
    case clearRows(location: String)

    public var description: String {
        switch self {
        case .newer(let location, let unknown, let known):
            "the store at \(location) was written by a newer Stagelink: it holds migrations this build does not know (\(unknown.joined(separator: "; "))), "
                + "and this build knows store versions up to \(known); it was not changed. Run the newer Stagelink."
        case .missing(let location, let schema, let schemaExists):
            "there is no Stagelink store at \(location): "
                + (schemaExists ? "the schema \(schema) holds no Stagelink tables" : "the database has no schema \(schema)")
                + "; nothing was created. Check the URL (the database and ?schema=); a new store is made by the service "
                + "(`stagelink run`), `stagelink sync`, `stagelink store migrate --store URL` or `stagelink store copy --to URL`"
        case .needsMigration(let location, let applied, let current, let firstLacking):
            "the store at \(location) holds \(applied) of this build's \(current) migrations (the first it lacks: \(firstLacking)): "
                + "it was written by an older Stagelink and this command does not migrate it; nothing was changed. "
                + "Run `stagelink store migrate --store URL` (or start the service, `stagelink run`, which migrates as it starts) with this build"
        case .invalidSchema(let schema):
            "\"\(DisplayText.escaped(schema))\" is not a schema name Stagelink uses (lower-case letters, digits and _, at most 63)"
        case .unexpected(let what):
            "the PostgreSQL server answered unexpectedly: \(what)"
        case .clearRows(let location):
            "the store at \(location) holds rows in the clear and was opened with a key (encryption.keyFile) for the first time: "
                + "a PostgreSQL store is encrypted from its start. Keep it without a key, or move the rows into a new encrypted store "
                + "(a SQLite store opened once with the key seals what it holds; then `stagelink store copy` it to an empty PostgreSQL store). Nothing was changed."
        }
    }
}

extension PostgresStore {
    /// Drops the store's schema and everything in it: for a benchmark's or a test's own schema,
    /// never `public`.
    public func dropSchema() async throws {
        guard schema != "public" else { throw PostgresStoreError.invalidSchema(schema) }
        try await run(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), fenced: false, logger: logger)
    }
}

extension AsyncSequence {
    /// Every element, in order (decoded rows of a query).
    func collect() async throws -> [Element] {
        var elements: [Element] = []
        for try await element in self { elements.append(element) }
        return elements
    }
}

// Every role of the engine's store (and monitoring's, PostgresStore+Operations), each shown by
// StoreConformanceTests on SQLite and PostgreSQL alike.
extension PostgresStore: SyncStore {}

extension PostgresConnection {
    /// Runs a statement and waits for the server's answer, its error included: the async `query`,
    /// never its `EventLoopFuture` twin, which an unused result would silently pick.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await rows(query, logger: logger) {}
    }

    /// The rows a query answers (the async `query`): the one place every statement of the store is
    /// sent on a connection it holds.
    ///
    /// A connection the server has closed is refused here (``PostgresServerError/closedConnection``):
    /// postgres-nio 1.33 hands a statement to the connection's channel without a promise
    /// (`channel.write(…, promise: nil)`), and once the channel is closed the write fails with
    /// nobody told, so the statement's answer never comes and its caller waits forever. The full
    /// test suite on PostgreSQL hung so: sessions ended by `idle_in_transaction_session_timeout`
    /// (their client starved on a loaded machine), then the next statement, or the `ROLLBACK`
    /// postgres-nio's `withTransaction` sends after an error, waited with no connection left.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw PostgresServerError.closedConnection }
        return try await self.query(query, logger: logger)
    }

    /// `body` in one transaction on this connection: `BEGIN`, then `COMMIT`, or `ROLLBACK` when
    /// `body` or the commit throws (the error is thrown as it is). Unlike postgres-nio's
    /// `withTransaction`, nothing is sent on a connection the server closed (its transaction ended
    /// with the session), so an ended session is an error, never a wait (``rows(_:logger:)``).
    func inTransaction<Result>(
        logger: Logger, isolation: isolated (any _Concurrency.Actor)? = #isolation, _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await run("BEGIN", logger: logger)
        do {
            let result = try await body(self)
            try await run("COMMIT", logger: logger)
            return result
        } catch {
            if !isClosed { try? await run("ROLLBACK", logger: logger) }
            throw error
        }
    }
}
