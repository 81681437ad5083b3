import Foundation
import Logging
import PostgresNIO
import StagelinkEngine
import StagelinkStore

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
    private let runner: Task<Void, Never>

    /// Connects, and migrates the store to this build's schema. A store holding a migration this
    /// build does not know was written by a newer Stagelink: refused before anything writes to it.
    ///
    /// - Parameter schema: the PostgreSQL schema to keep the tables in; tests give each store one of its own.
    public init(location: PostgresLocation, schema: String = "public", logger: Logger = Logger(label: "stagelink.postgres")) async throws {
        guard schema.range(of: #"^[a-z_][a-z0-9_]{0,62}$"#, options: .regularExpression) != nil else {
            throw PostgresStoreError.invalidSchema(schema)
        }
        self.location = location
        self.schema = schema
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: try Self.tls(location.tls))
        configuration.options.additionalStartupParameters = [("search_path", schema), ("application_name", "stagelink")]
        configuration.options.maximumConnections = 8
        // The pool's own messages (a connection closed as the store closes) are for warnings and worse.
        var background = logger
        if background.logLevel < .warning { background.logLevel = .warning }
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.client = client
        runner = Task { await client.run() }
        do {
            try await migrate()
        } catch {
            runner.cancel()
            throw error
        }
    }

    deinit { runner.cancel() }

    /// Closes the pool's connections.
    public func close() { runner.cancel() }

    /// `verify-full`: TLS required, the chain verified against the system's roots (or
    /// `sslrootcert`) and the certificate's name against the host, as libpq does.
    private static func tls(_ mode: PostgresLocation.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable:
            return .disable
        case .verifyFull(let rootCertificate):
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification
            if let rootCertificate { tls.trustRoots = .file(rootCertificate) }
            return .require(tls)
        }
    }

    // MARK: - Migrations

    /// A number every Stagelink process agrees on, for the advisory lock that serialises migrations.
    private static let migrationLock: Int64 = 0x5354_4147_454C_4E4B

    /// Applies this build's migrations that the store lacks, all in one transaction under an
    /// advisory lock (two processes starting at once migrate once).
    private func migrate() async throws {
        try await client.withConnection { connection in
            _ = try await connection.simpleQuery("BEGIN").get()
            do {
                _ = try await connection.rows("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
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
                    _ = try await connection.rows("INSERT INTO stagelink_migration (identifier) VALUES (\(migration.identifier))", logger: logger)
                }
                _ = try await connection.simpleQuery("COMMIT").get()
            } catch {
                _ = try? await connection.simpleQuery("ROLLBACK").get()
                throw error
            }
        }
    }

    /// The migrations the store holds, in the order they were applied.
    public func appliedMigrations() async throws -> [String] {
        try await client.query("SELECT identifier FROM stagelink_migration ORDER BY position", logger: logger)
            .decode(String.self).collect()
    }

    /// Runs one statement on a pooled connection and waits for the server's answer, its error included.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await client.query(query, logger: logger) {}
    }

    /// Runs `body` in one transaction on one pooled connection.
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withTransaction(logger: logger) { connection in try await body(connection) }
    }
}

/// A PostgreSQL store that cannot be opened or refuses an operation.
public enum PostgresStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Written by a newer Stagelink: refused, never written to.
    case newer(location: String, unknownMigrations: [String], known: Int)
    case invalidSchema(String)
    /// The server answered a statement in a way it never should (a RETURNING with no row).
    case unexpected(String)

    public var description: String {
        switch self {
        case .newer(let location, let unknown, let known):
            "the store at \(location) was written by a newer Stagelink: it holds migrations this build does not know (\(unknown.joined(separator: "; "))), "
                + "and this build knows store versions up to \(known); it was not changed. Run the newer Stagelink."
        case .invalidSchema(let schema):
            "\"\(DisplayText.escaped(schema))\" is not a schema name Stagelink uses (lower-case letters, digits and _, at most 63)"
        case .unexpected(let what):
            "the PostgreSQL server answered unexpectedly: \(what)"
        }
    }
}

extension PostgresStore {
    /// Drops the store's schema and everything in it: for a benchmark's or a test's own schema,
    /// never `public`.
    public func dropSchema() async throws {
        guard schema != "public" else { throw PostgresStoreError.invalidSchema(schema) }
        try await run(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: logger)
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

// The roles PostgresStore implements in full, each shown by StoreConformanceTests on SQLite and
// PostgreSQL alike. Not yet: PolicyStore, RowReader, HistoryReader, AccessLogStore, RetentionStore,
// ChangeTracking (and so not SyncStore, their composition).
extension PostgresStore: StagingStore, LinkingStore, JobStore, ServiceLeaseStore {}

extension PostgresConnection {
    /// Runs a statement and waits for the server's answer, its error included: the async `query`,
    /// never its `EventLoopFuture` twin, which an unused result would silently pick.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        let rows: PostgresRowSequence = try await self.query(query, logger: logger)
        for try await _ in rows {}
    }

    /// The rows a query answers (the async `query`).
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try await self.query(query, logger: logger)
    }
}
