import Foundation
import PostgresNIO
import StagelinkEngine
@testable import StagelinkPostgres
import Testing

@testable import StagelinkStore

/// What PostgreSQL itself guarantees, whoever writes to the store (another program, a person at
/// `psql`): the SQLite store's migrations, append-only audit tables, status changes recorded by a
/// trigger, the person index without accents. Runs when `STAGELINK_TEST_POSTGRES` names a server.
@Suite(
    .enabled(
        if: StoreKind.serverURL != nil,
        "skipped: STAGELINK_TEST_POSTGRES is not set; start a server with: eval \"$(scripts/test-postgres.sh start)\""))
struct PostgresStoreTests {
    /// A connection of its own, as another program would open one.
    func direct<Result: Sendable>(_ schema: String, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let location = try PostgresLocation(parsing: try #require(StoreKind.serverURL))
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database, tls: .disable)
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test"))
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Runs one statement and waits for its answer (the async `query`, not the future one).
    /// Stages the Patients p1 to p`count`, each `{}`: their rows' ids, in that order.
    func stagePatients(_ count: Int, into store: PostgresStore) async throws -> [Int64] {
        let records = (1...count).map {
            IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p\($0)", version: "1", lastUpdated: nil, payload: Array("{}".utf8))
        }
        return try await store.stage(records, job: nil, advancing: nil).rowIDs
    }

    func run(_ query: PostgresQuery, on connection: PostgresConnection) async throws {
        let rows: PostgresRowSequence = try await connection.query(query, logger: Logger(label: "test"))
        for try await _ in rows {}
    }

    @Test func theMigrationsAreTheSQLiteStoresOneForOne() async throws {
        let store = try await StoreKind.postgres()
        #expect(PostgresMigrations.all.map(\.identifier) == StoreMigrations.migrator.migrations)
        #expect(try await store.appliedMigrations() == StoreMigrations.migrator.migrations)
        #expect(PostgresMigrations.version == StoreMigrations.version)
    }

    /// A first load fills an empty table faster than autovacuum takes its statistics: the store
    /// takes them itself once it has staged enough rows, so that claims plan on the table's size.
    @Test func stagingManyRowsTakesThePlannersStatisticsOfStagedRow() async throws {
        let store = try await StoreKind.postgres()
        let reltuples: PostgresQuery = "SELECT reltuples::int8 FROM pg_class WHERE oid = 'staged_row'::regclass"
        func statistics() async throws -> Int64 {
            try await direct(store.schema) { connection in
                var found: Int64 = -2
                for try await value in try await connection.query(reltuples, logger: Logger(label: "test")).decode(Int64.self) { found = value }
                return found
            }
        }
        let page = { (start: Int) in (start..<start + 500).map { IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p\($0)", version: "1", lastUpdated: nil, payload: Array("{\"id\":\"p\($0)\"}".utf8)) } }
        for start in stride(from: 0, to: StagedRowStatistics.minimumGrowth - 500, by: 500) { _ = try await store.stage(page(start), job: nil, advancing: nil) }
        #expect(try await statistics() == -1, "never taken below the threshold (-1: a table never analyzed)")
        _ = try await store.stage(page(StagedRowStatistics.minimumGrowth - 500), job: nil, advancing: nil)
        // Taken beside the staging, not before the page returns: read until they are.
        var (taken, reads) = (try await statistics(), 1)
        while taken != Int64(StagedRowStatistics.minimumGrowth), reads < 100 {
            try await Task.sleep(for: .milliseconds(50))
            (taken, reads) = (try await statistics(), reads + 1)
        }
        #expect(taken == Int64(StagedRowStatistics.minimumGrowth))
    }

    /// The rows staged since the statistics were last taken: taken again at half the table then,
    /// never below the minimum, by one caller at a time.
    @Test func theStatisticsAreTakenAgainWhenTheTableHasGrownByHalf() {
        let statistics = StagedRowStatistics()
        #expect(!statistics.staged(StagedRowStatistics.minimumGrowth - 1))
        #expect(statistics.staged(1))
        #expect(!statistics.staged(50_000), "another caller is taking them")
        statistics.taken(rows: 100_000)
        #expect(!statistics.staged(49_999))
        #expect(statistics.staged(1))
        statistics.notTaken()
        #expect(statistics.staged(0), "a failure is tried again by the next page")
        statistics.taken(rows: 4_000)
        #expect(!statistics.staged(StagedRowStatistics.minimumGrowth - 1))
        #expect(statistics.staged(1))
    }

    @Test func openingAgainAppliesNothingTwice() async throws {
        let store = try await StoreKind.postgres()
        let again = try await PostgresStore(location: store.location, schema: store.schema)
        #expect(try await again.appliedMigrations().count == PostgresMigrations.version)
    }

    /// A transaction may wait for its client a third of `lease.ttl`, between 2 s and 10 s, so that a
    /// holder frozen inside a write releases the lease row before its lease lapses.
    @Test func aSessionsIdleInTransactionLimitIsAThirdOfTheLeaseTTL() async throws {
        #expect(PostgresStore.idleInTransactionLimit(leaseTTL: .seconds(30)) == "10000ms")
        #expect(PostgresStore.idleInTransactionLimit(leaseTTL: .seconds(10)) == "3333ms")
        #expect(PostgresStore.idleInTransactionLimit(leaseTTL: .seconds(3)) == "2000ms")
        #expect(PostgresStore.idleInTransactionLimit(leaseTTL: .seconds(600)) == "10000ms")
        #expect(PostgresStore.idleInTransactionLimit(leaseTTL: nil) == "10000ms")
        let base = try await StoreKind.postgres()
        let store = try await PostgresStore(location: base.location, schema: base.schema, leaseTTL: .seconds(9))
        defer { store.close() }
        let shown = try await store.client.query("SHOW idle_in_transaction_session_timeout", logger: Logger(label: "test")).decode(String.self).collect()
        #expect(shown == ["3s"])
    }

    /// The store's statements are never compiled to machine code, whatever the server's `jit` is
    /// (a claim by one of two workers was estimated costly enough to be, at 280 ms a claim).
    @Test func theStoresSessionsCompileNoQuery() async throws {
        let store = try await StoreKind.postgres()
        defer { store.close() }
        for _ in 0..<3 {
            #expect(try await store.client.query("SHOW jit", logger: Logger(label: "test")).decode(String.self).collect() == ["off"])
        }
    }

    /// A closed store's change token is refused at once, whether it was listening or never asked:
    /// nothing would ever listen again to answer a call that waited.
    @Test(.timeLimit(.minutes(1))) func aClosedStoresChangeTokenIsRefusedNotAWaitForever() async throws {
        let listening = try await StoreKind.postgres()
        _ = try await listening.changeToken()
        let never = try await PostgresStore(location: listening.location, schema: listening.schema)
        listening.close()
        never.close()
        for store in [listening, never] {
            await #expect(throws: PostgresServerError.storeClosed) { try await store.changeToken() }
        }
    }

    /// Two services starting on a fresh store load the mapping's rules at once (the failover crash
    /// test found the second dying on the rule's key): here another process has inserted a rule and
    /// not committed yet when the store loads the file; the load waits for it and keeps its rule.
    @Test func aPolicyLoadWaitsForAnotherProcessLoadingTheSameRulesAndKeepsTheirs() async throws {
        let store = try await StoreKind.postgres()
        let declarations = (1...5).map { PolicyDeclaration(object: "Contact", field: "Field\($0)__c", rule: .salesforce) }
        let loaded = try await direct(store.schema) { connection in
            try await run("BEGIN", on: connection)
            try await run(
                """
                INSERT INTO policy_rule (object, field, rule, fileRule, changedBy, changedAt, reason)
                VALUES ('Contact', 'Field1__c', 'salesforce', 'salesforce', 'file:mapping.yaml', 1790000000, 'declared in the mapping file')
                """, on: connection)
            let load = Task { try await store.loadPolicy(declarations, actor: Actor("file:mapping.yaml")) }
            // Gives the load time to reach the rule the other process holds (a shorter wait could
            // only let this test pass without the lock, never fail with it).
            try await Task.sleep(for: .milliseconds(500))
            try await run("COMMIT", on: connection)
            return try await load.value
        }
        #expect(loaded.map(\.field) == ["Field2__c", "Field3__c", "Field4__c", "Field5__c"], "the rule the other process loaded is kept, not loaded again")
        #expect(try await store.policyRules().count == 5)
    }

    @Test func aStoreWithAMigrationThisBuildDoesNotKnowIsRefusedAndNotWritten() async throws {
        let store = try await StoreKind.postgres()
        try await direct(store.schema) { connection in
            try await run("INSERT INTO stagelink_migration (identifier) VALUES ('v99: from the future')", on: connection)
        }
        let error = try await #require(throws: PostgresStoreError.self) { try await PostgresStore(location: store.location, schema: store.schema) }
        #expect(error.description.contains("v99: from the future"))
        #expect(error.description.contains("newer Stagelink"))
    }

    // MARK: - Opening an existing store

    static func freshSchema() -> String { "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "_") }

    @Test func anExistingStoreIsRequiredAndAMistypedSchemaIsNeverCreated() async throws {
        let location = try PostgresLocation(parsing: try #require(StoreKind.serverURL))
        let typo = Self.freshSchema()
        for _ in 1...2 {
            let error = try await #require(throws: PostgresStoreError.self) { try await PostgresStore(location: location, schema: typo, opening: .existing) }
            #expect(error == .missing(location: location.description, schema: typo, schemaExists: false), "and the second time too: nothing was created")
            #expect(error.description.contains("the database has no schema \(typo); nothing was created"), "\(error)")
        }
        // A schema that is there but holds no store.
        try await direct("public") { connection in try await run(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(typo)"), on: connection) }
        let empty = try await #require(throws: PostgresStoreError.self) { try await PostgresStore(location: location, schema: typo, opening: .existing) }
        #expect(empty.description.contains("the schema \(typo) holds no Stagelink tables"), "\(empty)")
        let tables = try await direct("public") { connection in
            let rows: PostgresRowSequence = try await connection.query("SELECT count(*) FROM pg_tables WHERE schemaname = \(typo)", logger: Logger(label: "test"))
            var count = -1
            for try await value in rows.decode(Int.self) { count = value }
            try await run(PostgresQuery(unsafeSQL: "DROP SCHEMA \(typo)"), on: connection)
            return count
        }
        #expect(tables == 0, "refusing wrote nothing")
    }

    @Test func anExistingStoreOfThisBuildOpensAndAnOlderOneIsRefusedNamingWhatToRun() async throws {
        let store = try await StoreKind.postgres()
        let existing = try await PostgresStore(location: store.location, schema: store.schema, opening: .existing)
        #expect(try await existing.appliedMigrations().count == PostgresMigrations.version)
        existing.close()
        let last = try #require(PostgresMigrations.all.last?.identifier)
        try await direct(store.schema) { connection in
            try await run("DELETE FROM stagelink_migration WHERE identifier = \(last)", on: connection)
        }
        let error = try await #require(throws: PostgresStoreError.self) { try await PostgresStore(location: store.location, schema: store.schema, opening: .existing) }
        #expect(error.description.contains("holds \(PostgresMigrations.version - 1) of this build's \(PostgresMigrations.version) migrations (the first it lacks: \(last))"))
        #expect(error.description.contains("stagelink store migrate --store URL"))
        #expect(try await store.appliedMigrations().count == PostgresMigrations.version - 1, "nothing was migrated")
    }

    // MARK: - The server's errors, told plainly

    @Test func aMissingDatabaseIsNamedWithTheServersCodeAndNoPassword() async throws {
        let server = try PostgresLocation(parsing: try #require(StoreKind.serverURL))
        var location = server
        location.database = "no_such_db_\(UUID().uuidString.prefix(8).lowercased())"
        location.password = "sekrit-password-1"
        let error = try await #require(throws: PostgresServerError.self) { try await PostgresStore(location: location, opening: .existing) }
        #expect(error.sqlState == "3D000")
        #expect(error.description.contains("the PostgreSQL server at \(location) refused: database \"\(location.database)\" does not exist (SQLSTATE 3D000)"), "\(error)")
        #expect(error.description.contains("createdb"))
        #expect(!error.description.contains("sekrit-password-1"))
        #expect(!error.description.contains("Generic description"))
    }

    @Test func aRefusedConnectionSaysSoWithItsCause() async throws {
        var location = try PostgresLocation(parsing: try #require(StoreKind.serverURL))
        location.port = 1
        location.password = "sekrit-password-2"
        let error = try await #require(throws: PostgresServerError.self) { try await PostgresStore(location: location) }
        #expect(error.sqlState == nil)
        #expect(error.description.contains("the PostgreSQL server at postgres://\(location.user)@\(location.host):1/"), "\(error)")
        #expect(error.description.contains("cannot connect"), "\(error)")
        #expect(error.description.lowercased().contains("refused"), "the cause: \(error)")
        #expect(!error.description.contains("sekrit-password-2"))
    }

    @Test func aUserWithoutThePrivilegeToCreateTheStoreIsToldWhichGrantIsMissing() async throws {
        let server = try PostgresLocation(parsing: try #require(StoreKind.serverURL))
        let role = "nopriv_" + UUID().uuidString.prefix(8).lowercased()
        try await direct("public") { connection in try await run(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"), on: connection) }
        var location = server
        location.user = role
        let error = await #expect(throws: PostgresServerError.self) { try await PostgresStore(location: location, schema: Self.freshSchema()) }
        try await direct("public") { connection in try await run(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"), on: connection) }
        #expect(error?.sqlState == "42501")
        #expect(error?.description.contains("permission denied") == true, "\(String(describing: error))")
        #expect(error?.description.contains("grant it CONNECT and CREATE on the database") == true)
    }

    @Test func everyCodeAnOperatorMeetsComesWithWhatToCheck() {
        #expect(PostgresServerError.advice(for: "28P01")?.contains("check the user and the password") == true)
        #expect(PostgresServerError.advice(for: "40001")?.contains("may be run again") == true)
        #expect(PostgresServerError.advice(for: "40P01")?.contains("may be run again") == true)
        #expect(PostgresServerError.advice(for: "53300")?.contains("max_connections") == true)
        #expect(PostgresServerError.advice(for: "08006")?.contains("reachable") == true)
        #expect(PostgresServerError.advice(for: "23505") == nil)
        #expect(PostgresServerError.explaining(CancellationError()) == nil, "only postgres-nio's errors are told again")
    }

    @Test(arguments: ["policy_audit", "row_access", "payload_purge", "store_key_audit"])
    func anAuditTableRefusesUpdateDeleteAndTruncateFromAnyConnection(_ table: String) async throws {
        let store = try await StoreKind.postgres()
        let refusals = try await direct(store.schema) { connection in
            var refusals: [String] = []
            for statement in ["UPDATE \(table) SET id = id", "DELETE FROM \(table)", "TRUNCATE \(table)"] {
                do {
                    try await run(PostgresQuery(unsafeSQL: statement), on: connection)
                } catch let error as PSQLError {
                    refusals.append(error.serverInfo?[.message] ?? "")
                }
            }
            return refusals
        }
        // UPDATE and DELETE on an empty table run no row trigger; fill it first for those two.
        #expect(refusals.last == "\(table) is append-only")
        let filled = try await direct(store.schema) { connection in
            try await run(PostgresQuery(unsafeSQL: Self.oneRow[table]!), on: connection)
            var refusals: [String] = []
            for statement in ["UPDATE \(table) SET id = id", "DELETE FROM \(table)"] {
                do {
                    try await run(PostgresQuery(unsafeSQL: statement), on: connection)
                } catch let error as PSQLError {
                    refusals.append(error.serverInfo?[.message] ?? "")
                }
            }
            return refusals
        }
        #expect(filled == ["\(table) is append-only", "\(table) is append-only"])
    }

    static let oneRow = [
        "policy_audit": "INSERT INTO policy_audit (at, actor, object, field, newRule) VALUES (1, 'file:m.yaml', 'Contact', 'Phone', 'salesforce')",
        "row_access": "INSERT INTO row_access (at, rowID, operator, process, via) VALUES (1, 1, 'dana', 'console', 'show')",
        "payload_purge": "INSERT INTO payload_purge (at, actor, cutoff, rows, bytes) VALUES (1, 'system', 0, 0, 0)",
        "store_key_audit": "INSERT INTO store_key_audit (at, actor, event, keyID) VALUES (1, 'system', 'created', 'k1')",
    ]

    /// For each table whose rows name a staged row: a row naming one that exists, and a row
    /// naming one that does not (`%@` is the id).
    static let naming = [
        "staged_payload": "INSERT INTO staged_payload (rowID, payload) VALUES (%@, '\\x7b7d'::bytea)",
        "person_search": "INSERT INTO person_search (rowID, name, identifiers, birthDate) VALUES (%@, 'Ana', '', '')",
        "row_parent": "INSERT INTO row_parent (rowID, system, resourceType, sourceID) VALUES (%@, 'emr', 'Patient', 'p0')",
        "row_transition": "INSERT INTO row_transition (rowID, toStatus, at, actor) VALUES (%@, 'staged', 1, 'operator:psql')",
        "link_attempt": "INSERT INTO link_attempt (rowID, number, at, actor, outcome) VALUES (%@, 1, 1, 'operator:psql', 'linked')",
        "record_link": """
            INSERT INTO record_link (system, resourceType, sourceID, targetType, targetID, recordKey, linkedRowID, updatedAt)
            VALUES ('emr', 'Patient', 'p-%@', 'Contact', 'c-%@', 'k-%@', %@, 1)
            """,
        "record_write": "INSERT INTO record_write (object, recordKey, writtenTo, rowID, actor, at, fields) VALUES ('Contact', 'k', 'salesforce', %@, 'job:1', 1, '{}')",
        "conflict": """
            INSERT INTO conflict (object, recordKey, field, rowID, emrValue, salesforceValue, rule, status, createdAt)
            VALUES ('Contact', 'k-%@', 'Phone', %@, 'a', 'b', 'emr', 'open', 1)
            """,
        "conflict_row": """
            WITH c AS (
                INSERT INTO conflict (object, recordKey, field, emrValue, salesforceValue, rule, status, createdAt)
                VALUES ('Contact', 'k-%@', 'Email', 'a', 'b', 'emr', 'open', 1) RETURNING id
            ) INSERT INTO conflict_row (conflictID, rowID) SELECT id, %@ FROM c
            """,
    ]

    /// What the foreign keys to `staged_row` refused, statement-level triggers refuse (migration
    /// v19): a row naming a staged row that does not exist, written by any program, is refused
    /// with the table, the id and SQLSTATE 23503, and nothing of its statement is kept; a row
    /// naming one that exists is written, and so is a statement naming no row.
    @Test(arguments: PostgresMigrations.namingStagedRows.map(\.0))
    func aRowNamingAStagedRowThatDoesNotExistIsRefusedWhoeverWritesIt(_ table: String) async throws {
        let store = try await StoreKind.postgres()
        let existing = try #require(try await stagePatients(1, into: store).first)
        let statement = try #require(Self.naming[table])
        let (refusal, counts) = try await direct(store.schema) { connection in
            func count() async throws -> Int64 {
                var found: Int64 = -1
                let rows: PostgresRowSequence = try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: Logger(label: "test"))
                for try await value in rows.decode(Int64.self) { found = value }
                return found
            }
            let before = try await count()
            if table != "staged_payload", table != "person_search" {
                try await run(PostgresQuery(unsafeSQL: statement.replacingOccurrences(of: "%@", with: "\(existing)")), on: connection)
            }
            let written = try await count()
            var refusal: (state: String?, message: String?)?
            do {
                try await run(PostgresQuery(unsafeSQL: statement.replacingOccurrences(of: "%@", with: "999999")), on: connection)
            } catch let error as PSQLError {
                refusal = (error.serverInfo?[.sqlState], error.serverInfo?[.message])
            }
            return (refusal, [before, written, try await count()])
        }
        #expect(refusal?.state == "23503")
        #expect(refusal?.message == "\(table) names staged row 999999, which does not exist")
        // The staged row's payload and person document were written by staging it.
        let wrote: Int64 = table == "staged_payload" || table == "person_search" ? 0 : 1
        #expect(counts == [counts[0], counts[0] + wrote, counts[0] + wrote], "a row naming the staged row is written; the refused one is not")
    }

    /// A row updated to name a staged row that does not exist is refused as a new one is.
    @Test func aRowChangedToNameAStagedRowThatDoesNotExistIsRefused() async throws {
        let store = try await StoreKind.postgres()
        _ = try await stagePatients(1, into: store)
        let message = try await direct(store.schema) { connection -> String? in
            do {
                try await run("UPDATE staged_payload SET rowID = rowID + 1000", on: connection)
                return nil
            } catch let error as PSQLError {
                return error.serverInfo?[.message]
            }
        }
        #expect(message?.hasPrefix("staged_payload names staged row ") == true)
        #expect(message?.hasSuffix(", which does not exist") == true)
    }

    /// Staged rows are the store's evidence and every history names them: no program deletes,
    /// renumbers or truncates them (which also keeps each row another names from vanishing).
    @Test func aStagedRowIsNeverDeletedRenumberedOrTruncated() async throws {
        let store = try await StoreKind.postgres()
        let id = try #require(try await stagePatients(1, into: store).first)
        let (refusals, remaining) = try await direct(store.schema) { connection in
            var refusals: [String] = []
            for statement: PostgresQuery in ["DELETE FROM staged_row WHERE id = \(id)", "UPDATE staged_row SET id = id + 1000", "TRUNCATE staged_row CASCADE"] {
                do {
                    try await run(statement, on: connection)
                } catch let error as PSQLError {
                    refusals.append(error.serverInfo?[.message] ?? "")
                }
            }
            var remaining: [Int64] = []
            let rows: PostgresRowSequence = try await connection.query("SELECT id FROM staged_row", logger: Logger(label: "test"))
            for try await value in rows.decode(Int64.self) { remaining.append(value) }
            return (refusals, remaining)
        }
        #expect(refusals == ["DELETE", "UPDATE", "TRUNCATE"].map { "staged rows are kept for their history: \($0) on staged_row is refused" })
        #expect(remaining == [id])
    }

    /// The status trigger runs once a statement (migration v19): a statement changing many rows
    /// records one transition for each row whose status changed, with that row's own actor,
    /// note and instant, and none for a row it left at its status or a claim.
    @Test func oneStatementChangingManyRowsRecordsEachStatusChangeOnce() async throws {
        let store = try await StoreKind.postgres()
        let ids = try await stagePatients(3, into: store)
        #expect(ids.count == 3)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        let transitions = try await direct(store.schema) { connection in
            try await run(
                """
                UPDATE staged_row SET status = CASE id WHEN \(ids[0]) THEN 'ignored' WHEN \(ids[1]) THEN 'failed' ELSE status END,
                    updatedBy = 'operator:' || id, note = 'note ' || id, updatedAt = id
                """, on: connection)
            let rows: PostgresRowSequence = try await connection.query(
                "SELECT rowID, fromStatus, toStatus, actor, note, at FROM row_transition ORDER BY id", logger: Logger(label: "test"))
            var transitions: [String] = []
            for try await (row, from, to, actor, note, at) in rows.decode((Int64, String?, String, String, String?, Double).self) {
                transitions.append("\(row) \(from ?? "-")→\(to) \(actor) \(note ?? "-") \(Int64(at))")
            }
            return transitions
        }
        #expect(transitions == [
            "\(ids[0]) staged→ignored operator:\(ids[0]) note \(ids[0]) \(ids[0])",
            "\(ids[1]) staged→failed operator:\(ids[1]) note \(ids[1]) \(ids[1])",
        ])
    }

    /// A claim changes only columns no index holds, and the page keeps room for it (migration
    /// v20): claimed rows are rewritten on their own pages, heap-only updates that touch no index.
    @Test func aClaimRewritesItsRowsOnTheirOwnPages() async throws {
        let store = try await StoreKind.postgres()
        #expect(try await stagePatients(200, into: store).count == 200)
        #expect(try await store.claimRows(ClaimRequest(), limit: 200, actor: .job(1)).count == 200)
        store.close()
        // A session's counts reach the statistics when it ends (or goes idle); read until they have.
        var counts: [Int64] = []
        for _ in 0..<50 {
            counts = try await direct(store.schema) { connection in
                var counts: [Int64] = []
                let rows: PostgresRowSequence = try await connection.query(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'staged_row'::regclass", logger: Logger(label: "test"))
                for try await (updated, hot) in rows.decode((Int64, Int64).self) { counts = [updated, hot] }
                return counts
            }
            if counts.first == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counts.first == 200)
        // A page's last rows may find its room taken by the new versions of the rows before them
        // (measured: 192 of 200 heap-only; on full pages only the last page's rows could be).
        #expect((counts.last ?? 0) >= 180, "\(counts)")
    }

    @Test func aStatusChangedByAnotherProgramIsRecordedByTheDatabase() async throws {
        let store = try await StoreKind.postgres()
        let id = try #require(try await stagePatients(1, into: store).first)
        let transitions = try await direct(store.schema) { connection in
            let logger = Logger(label: "test")
            try await run("UPDATE staged_row SET status = 'ignored', updatedBy = 'operator:psql', note = 'by hand', updatedAt = 5 WHERE id = \(id)", on: connection)
            try await run("UPDATE staged_row SET note = 'no status change' WHERE id = \(id)", on: connection)
            let rows: PostgresRowSequence = try await connection.query(
                "SELECT fromStatus, toStatus, actor, note, at FROM row_transition WHERE rowID = \(id) ORDER BY id", logger: logger)
            var transitions: [(String?, String, String, String?, Double)] = []
            for try await row in rows.decode((String?, String, String, String?, Double).self) { transitions.append(row) }
            return transitions
        }
        #expect(transitions.count == 1)
        #expect(transitions.first?.0 == "staged")
        #expect(transitions.first?.1 == "ignored")
        #expect(transitions.first?.2 == "operator:psql")
        #expect(transitions.first?.3 == "by hand")
        #expect(transitions.first?.4 == 5)
    }

    /// postgres-nio binds arrays without NULL elements only; ``NullableArray`` (the outcome
    /// statement's columns that may be NULL) reaches the server element for element, NULLs in place.
    @Test func anArrayWithNullElementsIsBoundAsItIs() async throws {
        let store = try await StoreKind.postgres()
        let logger = Logger(label: "test")
        let texts = NullableArray<String>(["a", nil, "", "Zoë \u{1F600}"])
        let read = try await store.client.query(
            "SELECT t FROM unnest(\(texts)::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n", logger: logger).decode(String?.self).collect()
        #expect(read == ["a", nil, "", "Zoë \u{1F600}"])
        let numbers = NullableArray<Int64>([nil, 7, Int64.min])
        #expect(try await store.client.query("SELECT \(numbers)::int8[]::text", logger: logger).decode(String.self).collect() == ["{NULL,7,-9223372036854775808}"])
        let instants = NullableArray<Double>([nil, nil, 1.5])
        #expect(try await store.client.query("SELECT \(instants)::float8[]::text", logger: logger).decode(String.self).collect() == ["{NULL,NULL,1.5}"])
        let none = NullableArray<String>([])
        #expect(try await store.client.query("SELECT cardinality(\(none)::text[])", logger: logger).decode(Int32.self).collect() == [0])
    }

    /// Each document's words are kept as the SQLite store's tokenizer makes them (folded in
    /// Swift, ``PersonWords``), a child's with its parent's, and the index answers a search for them.
    @Test func thePersonIndexKeepsEachDocumentsFoldedWordsAChildsWithItsParents() async throws {
        let store = try await StoreKind.postgres()
        let staged = try await stageZoeAndHerEpisode(into: store)
        let words = try await direct(store.schema) { connection in
            let rows: PostgresRowSequence = try await connection.query("SELECT rowID, words FROM person_search ORDER BY rowID", logger: Logger(label: "test"))
            var words: [Int64: [String]] = [:]
            for try await (id, list) in rows.decode((Int64, [String]).self) { words[id] = list }
            return words
        }
        #expect(words[staged[0]] == ["zoe", "muller", "p1", "zoe", "muller", "clinic", "example", "1984", "02", "29"])
        #expect(words[staged[1]] == ["zoe", "muller", "e1", "p1", "zoe", "muller", "clinic", "example", "1984", "02", "29"], "the parent's name, identifiers and birth date")
        let found = try await direct(store.schema) { connection in
            let rows: PostgresRowSequence = try await connection.query(
                "SELECT rowID FROM person_search WHERE words @> ARRAY['zoe', 'clinic'] ORDER BY rowID", logger: Logger(label: "test"))
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            return ids
        }
        #expect(found == staged)
    }

    /// Documents indexed before migration v21, and those `stagelink store copy` brings from SQLite,
    /// have no words: the migration's fill folds them, and searches find their rows again.
    @Test func documentsWithoutWordsAreFoldedByTheFill() async throws {
        let store = try await StoreKind.postgres()
        let staged = try await stageZoeAndHerEpisode(into: store)
        try await direct(store.schema) { connection in try await run("UPDATE person_search SET words = NULL", on: connection) }
        #expect(try await store.countRows(RowFilter(text: "zoe")) == 0, "a document without words matches nothing")
        try await store.fillPersonWords()
        #expect(try await store.rows(RowQuery(filter: RowFilter(text: "Zoë clinic.example"))).map(\.id) == staged)
        let empty = try await direct(store.schema) { connection in
            let rows: PostgresRowSequence = try await connection.query("SELECT count(*) FROM person_search WHERE words IS NULL", logger: Logger(label: "test"))
            var count = -1
            for try await number in rows.decode(Int.self) { count = number }
            return count
        }
        #expect(empty == 0)
    }

    /// Zoë Müller (identifier `zoe.muller@clinic.example`) and her episode: their rows' ids.
    func stageZoeAndHerEpisode(into store: PostgresStore) async throws -> [Int64] {
        let patient = """
            {"resourceType":"Patient","id":"p1","identifier":[{"value":"zoe.muller@clinic.example"}],\
            "name":[{"family":"Müller","given":["Zoë"]}],"birthDate":"1984-02-29"}
            """
        let episode = #"{"resourceType":"EpisodeOfCare","id":"e1","patient":{"reference":"Patient/p1"}}"#
        return try await store.stage(
            [
                IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: nil, payload: Array(patient.utf8)),
                IncomingRecord(system: .emr, resourceType: "EpisodeOfCare", sourceID: "e1", version: "1", lastUpdated: nil, payload: Array(episode.utf8)),
            ], job: nil, advancing: nil
        ).rowIDs
    }
}


extension PostgresStoreTests {
    /// A session the server ends in the middle of a transaction (`pg_terminate_backend` here; on a
    /// loaded machine `idle_in_transaction_session_timeout`) is an error the store throws, not a
    /// wait: postgres-nio never answers a statement sent on a connection already closed, and the
    /// full suite hung so. The store then goes on, on a new connection.
    @Test(.timeLimit(.minutes(1)))
    func aTransactionWhoseSessionTheServerEndedIsAnErrorAndTheStoreGoesOn() async throws {
        let store = try await StoreKind.postgres()
        let ended = await #expect(throws: PostgresServerError.self) {
            try await store.transaction(fenced: false) { connection in
                let pid = try await connection.rows("SELECT pg_backend_pid()", logger: Logger(label: "test")).decode(Int32.self).collect()
                try await direct("public") { other in try await run("SELECT pg_terminate_backend(\(try #require(pid.first)))", on: other) }
                try await connection.closeFuture.get()
                try await connection.run("INSERT INTO stagelink_migration (identifier) VALUES ('never kept')", logger: Logger(label: "test"))
            }
        }
        #expect(ended?.description.contains("closed the connection") == true, "\(String(describing: ended))")
        #expect(try await store.appliedMigrations() == PostgresMigrations.all.map(\.identifier))
        try await store.dropSchema()
        store.close()
    }
}
