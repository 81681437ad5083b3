import ArgumentParser
import Foundation
import GRDB
import StagelinkEngine
import StagelinkStore
import StagelinkDefaults
import Testing

@testable import stagelink

/// `status` exits 0 healthy, 1 degraded, 2 failing, and 3 or 4 when the configuration or the
/// store cannot even be read; with --json it prints JSON whatever happens. Every command ends with
/// 3 or 4 for those, never with 1. Serialized: one test reads from another working folder.
@Suite(.serialized)
struct ExitCodeTests {
    static let mapping = DocumentationTests.root.appendingPathComponent("config/mapping.yaml").path

    static func status(_ arguments: [String]) async throws -> (output: String, exitCode: Int32, json: JSONValue) {
        let report = await StatusCommand.report(try StoreOptions.parse(arguments), json: true)
        return (report.output, report.exitCode, try JSONValue(parsing: Array(report.output.utf8)))
    }

    @Test func aMissingStoreIsExit4AndStillJSON() async throws {
        let temporary = try TemporaryFolder("absent")
        let missing = temporary.file("absent.sqlite")
        let status = try await Self.status(["--store", missing])
        #expect(status.exitCode == 4)
        #expect(status.json["level"]?.stringValue == "error")
        #expect(status.json["exitCode"] == .number("4"))
        #expect(status.json["part"]?.stringValue == "store")
        #expect(status.json["error"]?.stringValue?.contains(missing) == true)
        #expect(!FileManager.default.fileExists(atPath: missing), "status never creates a store")
    }

    @Test func anUnreadableConfigurationIsExit3AndStillJSON() async throws {
        let temporary = try TemporaryFolder("config")
        let config = temporary.file("stagelink.yaml")
        try "store: [unclosed\n".write(toFile: config, atomically: true, encoding: .utf8)
        let status = try await Self.status(["--config", config])
        #expect(status.exitCode == 3)
        #expect(status.json["part"]?.stringValue == "configuration")
        let noStore = try await Self.status([])
        #expect(noStore.exitCode == 3 || noStore.exitCode == 4, "without --store and no stagelink.yaml here, nothing to read")
    }

    @Test func aStoreOfANewerStagelinkIsExit4NamingBothVersions() async throws {
        let store = try SQLiteStore.temporary("exit-codes")
        let path = store.path
        try await DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: "PRAGMA user_version = 42") }
        let status = try await Self.status(["--store", path])
        #expect(status.exitCode == 4)
        let message = status.json["error"]?.stringValue ?? ""
        #expect(message.contains("store version 42"), "\(message)")
        #expect(message.contains("up to \(StoreMigrations.version)"), "\(message)")
    }

    @Test func aStoreWithoutAMappingIsReadByStatusAndTheReadingCommands() async throws {
        let store = try SQLiteStore.temporary("exit-codes")
        let job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        var failed = job
        failed.status = .failed
        failed.finishedAt = Date()
        failed.message = "HTTP_5xx: HTTP_503"
        try await store.updateJob(failed)
        let elsewhere = FileManager.default.temporaryDirectory.path
        let previous = FileManager.default.currentDirectoryPath
        // Away from the repository's config/mapping.yaml: --store alone.
        _ = FileManager.default.changeCurrentDirectoryPath(elsewhere)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        let status = try await Self.status(["--store", store.path])
        #expect(status.exitCode == 2)
        #expect(status.json["level"]?.stringValue == "failing")
        #expect(status.json["inbound"]?["pull"]?["lastJob"]?["message"]?.stringValue == "HTTP_5xx: HTTP_503")
        // Away from any mapping file, the mapping built into the binary is the one read.
        let context = try await Context.open(StoreOptions.parse(["--store", store.path]), for: .reading)
        #expect(context.loadedMapping?.file == BuiltInFiles.mappingName)
        #expect(context.file?.access == .readOnly)
        let jobs = try JobsCommand.parse(["--store", store.path, "--json"])
        try await jobs.run()
    }

    @Test func retryOfAnUnknownRowIdFailsNamingTheIdAndRetriesNothing() async throws {
        let store = try SQLiteStore.temporary("exit-codes")
        let retry = try RetryCommand.parse(["--store", store.path, "--mapping", Self.mapping, "424242"])
        let error = await #expect(throws: ValidationError.self) { try await retry.run() }
        #expect(error?.message.contains("424242") == true)
        #expect(try await store.jobs(before: nil, limit: 10).isEmpty, "no retry job was started")
    }

    @Test func setupErrorsHaveTheirOwnExitCodes() {
        #expect(SetupError(.configuration, "x").exitCode == 3)
        #expect(SetupError(.store, "x").exitCode == 4)
        let help = StatusCommand.helpMessage()
        for line in ["0  healthy", "1  degraded", "2  failing", "3  the configuration", "4  the store"] {
            #expect(help.contains(line), "status --help documents \(line)")
        }
    }
}
