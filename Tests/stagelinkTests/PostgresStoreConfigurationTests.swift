import Foundation
import StagelinkPostgres
import Testing
@testable import stagelink

/// `store:` names a SQLite file or a PostgreSQL server: the URL with its password from `${ENV}` or
/// `store.passwordFile`, TLS verified unless the host is loopback, and a URL that cannot be used
/// refused with the file, line and reason.
struct PostgresStoreConfigurationTests {
    typealias Folder = ConfigurationLimitsTests.Folder

    @Test func aPostgresURLIsAStoreOnAServerWithThePasswordFromTheEnvironment() throws {
        setenv("STAGELINK_TEST_PG_PASSWORD", "pa ss@word", 1)
        let folder = try Folder()
        let configuration = try folder.load("store: postgres://stagelink:${STAGELINK_TEST_PG_PASSWORD}@db.example.org:5432/sync?sslmode=verify-full\n")
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

    @Test func aCommandOnAPostgresStoreSaysWhatThisBuildRunsOn() throws {
        let folder = try Folder()
        try "store: postgres://stagelink@127.0.0.1:1/sync\n".write(toFile: folder.configuration, atomically: true, encoding: .utf8)
        let error = try #require(throws: SetupError.self) { try Context.open(config: folder.configuration) }
        #expect("\(error)".contains("PostgreSQL store"), "\(error)")
    }
}
