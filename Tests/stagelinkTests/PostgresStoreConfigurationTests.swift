import Console
import Foundation
import Logging
import StagelinkEngine
import StagelinkPostgres
import StagelinkStore
import StagelinkTestSupport
import Testing
@testable import stagelink

/// `store:` names a SQLite file or a PostgreSQL server: the URL with its password from `${ENV}` or
/// `store.passwordFile`, TLS verified unless the host is loopback, and a URL that cannot be used
/// refused with the file, line and reason.
struct PostgresStoreConfigurationTests {
    typealias Folder = ConfigurationLimitsTests.Folder

    @Test func aPostgresURLIsAStoreOnAServerWithThePasswordFromTheEnvironment() throws {
        let folder = try Folder()
        let configuration = try StagelinkConfiguration.$environment.withValue(["STAGELINK_TEST_PG_PASSWORD": "pa ss@word"]) {
            try folder.load("store: postgres://stagelink:${STAGELINK_TEST_PG_PASSWORD}@db.example.org:5432/sync?sslmode=verify-full\n")
        }
        let location = try #require(configuration.postgres)
        #expect(location.password == "pa ss@word")
        #expect(location.tls == .verifyFull(rootCertificate: nil))
        #expect(configuration.store == "postgres://stagelink@db.example.org:5432/sync?sslmode=verify-full", "shown without the password")
    }

    @Test func thePasswordMayComeFromAFileNamedBesideTheURL() throws {
        let folder = try Folder(files: ["pg.password": "from-the-file\n"])
        let configuration = try folder.load(
            """
            store:
              url: postgres://stagelink@db.example.org/sync
              passwordFile: pg.password

            """)
        #expect(configuration.postgres?.password == "from-the-file")
    }

    @Test func aSQLiteStoreIsStillAFilePathBesideTheConfiguration() throws {
        let folder = try Folder()
        let configuration = try folder.load("store: stagelink.sqlite\n")
        #expect(configuration.postgres == nil)
        #expect(configuration.store == folder.url.appendingPathComponent("stagelink.sqlite").path)
    }

    @Test func aURLThatDoesNotVerifyTheServerIsRefusedNamingTheFileAndLine() throws {
        let folder = try Folder()
        let error = try #require(folder.error("mapping: m.yaml\nstore: postgres://stagelink@db.example.org/sync?sslmode=require\n"))
        #expect(error.contains("stagelink.yaml:2"), "\(error)")
        #expect(error.contains("sslmode=require towards db.example.org does not verify the server"), "\(error)")
    }

    @Test func aMalformedURLIsRefusedWithItsReason() throws {
        let folder = try Folder()
        let error = try #require(folder.error("store: postgres://db.example.org/sync\n"))
        #expect(error.contains("names no user"), "\(error)")
        let file = try #require(folder.error("store:\n  url: stagelink.sqlite\n  passwordFile: pg.password\n"))
        #expect(file.contains("passwordFile is for a postgres:// store"), "\(file)")
    }

    @Test func aSchemaOfItsOwnIsNamedInTheURLAndShownWithIt() throws {
        let location = try PostgresLocation(parsing: "postgres://stagelink@127.0.0.1/sync?schema=site_b")
        #expect(location.schema == "site_b")
        #expect(location.description == "postgres://stagelink@127.0.0.1:5432/sync?sslmode=disable&schema=site_b")
        #expect(try PostgresLocation(parsing: "postgres://stagelink@127.0.0.1/sync").schema == "public")
        for hostile in ["public;drop", "Site", "1abc", "a%22b", ""] {
            #expect(throws: PostgresLocationError.self, "\(hostile)") { try PostgresLocation(parsing: "postgres://stagelink@127.0.0.1/sync?schema=\(hostile)") }
        }
    }

    @Test func storeOnTheCommandLineTakesAPostgresURLAndRefusesOneThatCannotBeUsed() async throws {
        let error = try await #require(throws: SetupError.self) {
            try await Context.open(StoreOptions.parse(["--store", "postgres://stagelink@db.example.org/sync?sslmode=require"]))
        }
        #expect(error.exitCode == 4)
        #expect(error.message.contains("--store sslmode=require towards db.example.org does not verify the server"), "\(error)")
    }

    @Test func aStoreThatLacksARoleIsRefusedNamingTheRolesItLacks() throws {
        #expect(Context.missingRoles(of: try SQLiteStore.temporary("roles")).isEmpty)
        #expect(Context.missingRoles(of: StagingOnly()) == [
            "LinkingStore", "PolicyStore", "JobStore", "ServiceLeaseStore", "RowReader", "HistoryReader", "AccessLogStore", "RetentionStore",
            "ChangeTracking", "LeaseFencing", "MonitoringReader", "AlertStore",
        ])
    }

    @Test func aSQLiteOnlyCommandOnAPostgresStoreSaysSo() throws {
        let context = Context(
            configuration: nil, store: try SQLiteStore.temporary("file-only"), file: nil, storeName: "postgres://stagelink@127.0.0.1:5432/sync?sslmode=disable",
            loadedMapping: nil, logger: Logger(label: "test"))
        let error = try #require(throws: SetupError.self) { try context.storeFile(for: "stagelink store rekey") }
        #expect(error.message == "stagelink store rekey works on a SQLite store file; postgres://stagelink@127.0.0.1:5432/sync?sslmode=disable is a PostgreSQL store.")
    }
}

/// A store of one role only.
private struct StagingOnly: StagingStore {
    func watermark(system: SourceSystem, resourceType: String) async throws -> Date? { nil }
    func stage(_ records: [IncomingRecord], job: Int64?, advancing watermark: WatermarkAdvance?) async throws -> StageResult {
        StageResult(staged: 0, deduplicated: 0, rowIDs: [])
    }
    func newestStaged(system: SourceSystem, resourceType: String, sourceIDs: [String]) async throws -> [String: Date] { [:] }
    func bulkExport(system: SourceSystem) async throws -> BulkExportProgress? { nil }
    func saveBulkExport(_ progress: BulkExportProgress) async throws {}
    func finishBulkExport(system: SourceSystem, job: Int64?, advancing watermarks: [WatermarkAdvance]) async throws {}
}

/// Commands on a PostgreSQL store, against the server `STAGELINK_TEST_POSTGRES` names (a schema of
/// each test's own).
@Suite(
    .enabled(
        if: ProcessInfo.processInfo.environment["STAGELINK_TEST_POSTGRES"].map { !$0.isEmpty } ?? false,
        "skipped: STAGELINK_TEST_POSTGRES is not set; start a server with: eval \"$(scripts/test-postgres.sh start)\""))
struct PostgresCommandTests {
    static func url() throws -> String {
        let server = try #require(ProcessInfo.processInfo.environment["STAGELINK_TEST_POSTGRES"])
        return server + (server.contains("?") ? "&" : "?") + "schema=c_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "_")
    }

    @Test func aCommandOpensThePostgresStoreTheURLNamesInItsOwnSchema() async throws {
        let url = try Self.url()
        let location = try PostgresLocation(parsing: url)
        let other = try await PostgresStore(location: location, schema: location.schema)
        let context = try await Context.open(StoreOptions.parse(["--store", url]), for: .reading)
        #expect(context.file == nil)
        #expect(context.storeName == location.description)
        #expect(try await context.store.countRows(RowFilter()) == 0)
        // What another process stages there, the command's store reads.
        let record = IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p-1", version: "1", lastUpdated: Date(timeIntervalSince1970: 1_790_000_000), payload: Array("{}".utf8))
        _ = try await other.stage([record], job: nil, advancing: nil)
        #expect(try await context.store.countRows(RowFilter()) == 1)
        #expect(throws: SetupError.self) { try context.storeFile(for: "stagelink store rekey") }
        try await other.dropSchema()
        other.close()
    }

    /// Issue 20's "the same guarantees" for encryption at rest, as a user runs it: an encrypted SQLite
    /// store copied with its key, then shown, rekeyed and described on PostgreSQL, and refused there
    /// with the old key.
    @Test func anEncryptedStoreIsCopiedShownAndRekeyedOnPostgreSQLAsAUserRunsIt() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pg-encrypted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        func run(_ arguments: [String]) async throws -> (stdout: String, stderr: String, status: Int32) { try await HostileOutputTests.run(arguments, in: folder) }
        let key = try StoreKey.generate(at: path("store.key"))
        let sqlite = try SQLiteStore(path: path("store.sqlite"), key: key)
        let staged = try await sqlite.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: nil, payload: Array(StoreCommandTests.payload.utf8))],
            job: nil, advancing: nil)
        let url = try Self.url()
        let mapping = HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path
        try "store: \(url)\nmapping: \(mapping)\nencryption: { keyFile: store.key }\n".write(toFile: path("stagelink.yaml"), atomically: true, encoding: .utf8)
        try "store: \(url)\nmapping: \(mapping)\nencryption: { keyFile: old.key }\n".write(toFile: path("old.yaml"), atomically: true, encoding: .utf8)

        let copied = try await run(["store", "copy", "--from", path("store.sqlite"), "--to", url])
        #expect(copied.status == 0, "\(copied.stdout)\(copied.stderr)")
        #expect(copied.stdout.contains("store_key") && copied.stdout.contains("opens with \(path("store.key"))"), "\(copied.stdout)")
        let shown = try await run(["show", String(staged.rowIDs[0])])
        #expect(shown.status == 0 && shown.stdout.contains("Quarterfield-Zoëlle") && shown.stdout.contains("hmac-sha256 "), "\(shown.stdout)\(shown.stderr)")

        try FileManager.default.copyItem(atPath: path("store.key"), toPath: path("old.key"))
        let rekey = try await run(["store", "rekey", "--operator", "alice"])
        #expect(rekey.status == 0 && rekey.stdout.contains("was \(key.id)"), "\(rekey.stdout)\(rekey.stderr)")
        let newKey = try StoreKey.load(file: path("store.key"))
        let info = try await run(["store", "info"])
        #expect(info.stdout.contains("key id \(newKey.id)") && info.stdout.contains("operator:alice") && info.stdout.contains("rewrapped"), "\(info.stdout)\(info.stderr)")
        #expect(info.stdout.contains(try PostgresLocation(parsing: url).description), "\(info.stdout)")
        let refused = try await run(["show", String(staged.rowIDs[0]), "--config", path("old.yaml")])
        #expect(refused.status == 4)
        #expect(refused.stderr.contains(path("old.key")) && refused.stderr.contains("does not open the store"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("Quarterfield"))
        // The data key itself, rotated on PostgreSQL: refused while a service holds the lease; then
        // the payload reads the same and the audit says so.
        let location = try PostgresLocation(parsing: url)
        let store = try await PostgresStore(location: location, schema: location.schema, key: newKey)
        let service = LeaseHolder(name: "stagelink run", host: "ops-host", pid: 4242)
        _ = try await store.acquireLease(service, for: .seconds(600), replacing: nil)
        let leased = try await run(["store", "rekey", "--data-key"])
        #expect(leased.status != 0 && leased.stderr.contains("holds the store's lease"), "\(leased.stderr)")
        try await store.releaseLease(service)
        let rotation = try await run(["store", "rekey", "--data-key", "--operator", "alice"])
        #expect(rotation.status == 0 && rotation.stdout.contains("Rotated the data key") && rotation.stdout.contains("1 staged rows"), "\(rotation.stdout)\(rotation.stderr)")
        let shownAfter = try await run(["show", String(staged.rowIDs[0])])
        #expect(shownAfter.status == 0 && shownAfter.stdout.contains("Quarterfield-Zoëlle"), "\(shownAfter.stdout)\(shownAfter.stderr)")
        let infoAfter = try await run(["store", "info"])
        #expect(infoAfter.stdout.contains("data key rotated") && !infoAfter.stdout.contains("unfinished"), "\(infoAfter.stdout)")

        try await store.dropSchema()
        store.close()
    }

    /// postgres-nio warns when a connection is leased before `PostgresClient.run()` began; the
    /// store starts it before its first query, so opening (and the first query on the pool) never warns.
    @Test func openingAStoreNeverLeasesAConnectionBeforeThePoolRuns() async throws {
        let capture = LogCapture()
        let location = try PostgresLocation(parsing: try Self.url())
        for opening in [PostgresStore.Opening.creatingOrMigrating, .existing, .creatingOrMigrating, .existing] {
            let store = try await PostgresStore(location: location, opening: opening, logger: capture.logger())
            #expect(try await store.appliedMigrations().count == PostgresMigrations.version)
            if opening == .existing { try await store.dropSchema() }
            store.close()
        }
        #expect(!capture.text.contains("hasn't been called yet"), "\(capture.text)")
    }

    /// A mistyped `?schema=` is refused by every command that does not own the store, and only
    /// one that owns it (the service, sync, `store migrate`) creates it.
    @Test func aMistypedSchemaIsRefusedByCommandsThatDoNotOwnTheStoreAndCreatedOnlyByOnesThatDo() async throws {
        let url = try Self.url()
        let location = try PostgresLocation(parsing: url)
        let withPassword = url.replacingOccurrences(of: "://\(location.user)@", with: "://\(location.user):pw-never-shown@")
        for purpose in [Context.Purpose.reading, .writing] {
            let error = try await #require(throws: SetupError.self) { try await Context.open(StoreOptions.parse(["--store", withPassword]), for: purpose) }
            #expect(error.exitCode == 4)
            #expect(error.message.hasPrefix("there is no Stagelink store at \(location): the database has no schema \(location.schema); nothing was created"), "\(error)")
            #expect(error.message.contains("stagelink store migrate --store URL"))
            #expect(!error.message.contains("pw-never-shown"))
        }
        let owning = try await Context.open(StoreOptions.parse(["--store", url]), for: .owning)
        let reading = try await Context.open(StoreOptions.parse(["--store", url]), for: .reading)
        #expect(try await reading.store.countRows(RowFilter()) == 0)
        try await (owning.store as? PostgresStore)?.dropSchema()
    }

    @Test @MainActor func theConsoleOnAPostgresStoreFollowsAnotherProcesssWritesThroughItsChangeToken() async throws {
        let url = try Self.url()
        let location = try PostgresLocation(parsing: url)
        let other = try await PostgresStore(location: location, schema: location.schema)
        let context = try await Context.open(StoreOptions.parse(["--store", url]), for: .reading)
        let record = IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p-42", version: "1", lastUpdated: Date(timeIntervalSince1970: 1_790_000_000), payload: Array("{}".utf8))
        let id = try #require(try await other.stage([record], job: nil, advancing: nil).rowIDs.first)
        var configuration = ConsoleConfiguration(storePath: context.storeName, readOnly: true, initialTab: .staged)
        configuration.handoffFolder = context.folder
        let console = try HeadlessConsole(store: context.store, actions: UnmappedConsoleActions(), configuration: configuration)
        await console.start()
        #expect(console.screen.text.contains("p-42"), "\(console.screen.text)")
        #expect(console.screen.text.contains("sslmode=disable&schema="), "the header names the server's store, without a password")
        // Another process ignores the row; the notification moves this store's token, and the next poll shows it.
        let before = try await context.store.changeToken()
        _ = try await other.setStatus(rowIDs: [id], to: .ignored, from: [.staged], actor: .operator("bob"), note: "from another process")
        var waited = 0
        while try await context.store.changeToken() == before, waited < 600 {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        await console.poll()
        #expect(console.screen.text.contains("⊘ ignored"), "\(console.screen.text)")
        try await other.dropSchema()
        other.close()
    }
}
