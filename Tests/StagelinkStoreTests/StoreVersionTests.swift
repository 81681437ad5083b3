import Foundation
import GRDB
import StagelinkEngine
import Testing

@testable import StagelinkStore

/// A store written by a newer Stagelink is refused before anything writes to it; a store is read
/// without being written by the reading commands; jobs remember what started them.
struct StoreVersionTests {
    private static func bytes(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// A store with everything checkpointed into its main file, closed: its bytes are then the whole store.
    /// A store made and closed (its WAL checkpointed into the file) for a test to rewrite as
    /// another build left it; its folder goes when `folder` does, not when the store closes.
    private static func closedStore() throws -> (path: String, folder: TemporaryFolder) {
        let folder = try TemporaryFolder("store-version")
        let store = try SQLiteStore(path: folder.file("store.sqlite"))
        try store.pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        return (store.path, folder)
    }

    @Test func aNewStoreRecordsThisBuildsVersion() async throws {
        let store = try SQLiteStore.temporary("store-version")
        let version = try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") }
        #expect(version == StoreMigrations.version)
        #expect(StoreMigrations.version == StoreMigrations.migrator.migrations.count)
    }

    @Test func aStoreOfAHigherVersionIsRefusedNamingBothVersionsAndIsNotWritten() throws {
        let closed = try Self.closedStore()
        let path = closed.path
        try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: "PRAGMA user_version = \(StoreMigrations.version + 1)") }
        let before = try Self.bytes(path)
        for access in [SQLiteStore.Access.readWrite, .readOnly] {
            let error = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path, access: access) }
            let text = error?.description ?? ""
            #expect(text.contains("store version \(StoreMigrations.version + 1)"), "\(text)")
            #expect(text.contains("up to \(StoreMigrations.version)"), "\(text)")
            #expect(text.contains(path))
        }
        #expect(throws: StoreError.self) { _ = try SQLiteStore.forReading(path: path) }
        #expect(try Self.bytes(path) == before, "the refused store was not written")
    }

    @Test func aStoreWithAMigrationThisBuildDoesNotKnowIsRefused() throws {
        let closed = try Self.closedStore()
        let path = closed.path
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: something newer')")
        }
        let error = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
        #expect(error?.description.contains("v99: something newer") == true)
        #expect(error?.description.contains("this build knows store versions up to \(StoreMigrations.version)") == true)
    }

    @Test func aStoreIsReadWithoutBeingWrittenAndRefusesWrites() async throws {
        let closed = try Self.closedStore()
        let path = closed.path
        let writer = try SQLiteStore(path: path)
        let job = try await writer.startJob(kind: .pull, direction: .inbound, actor: .system)
        try await writer.pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        chmod(path, 0o400)
        defer { chmod(path, 0o600) }
        let before = try Self.bytes(path)
        let reader = try SQLiteStore.forReading(path: path)
        #expect(reader.access == .readOnly)
        #expect(try await reader.job(id: job.id)?.kind == .pull)
        await #expect(throws: (any Error).self) { _ = try await reader.startJob(kind: .pull, direction: .inbound, actor: .system) }
        #expect(try Self.bytes(path) == before)
    }

    @Test func readingOrWritingAMissingStoreIsAnErrorAndCreatesNothing() throws {
        let temporary = try TemporaryFolder("absent")
        let path = temporary.file("store.sqlite")
        let error = #expect(throws: StoreError.self) { _ = try SQLiteStore.forReading(path: path) }
        #expect(error?.description.contains("no such file") == true)
        #expect(throws: StoreError.self) { _ = try SQLiteStore.forWriting(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aFileThatHoldsNoStoreIsRefusedAndNotWritten() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString).sqlite").path
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for open in [{ try SQLiteStore.forReading(path: path) }, { try SQLiteStore.forWriting(path: path) }] {
            let error = #expect(throws: StoreError.self) { _ = try open() }
            #expect(error?.description.contains("holds no Stagelink store") == true, "\(String(describing: error))")
        }
        #expect(try Self.bytes(path).isEmpty)
    }

    @Test func aStoreOfAnOlderVersionIsUpgradedByACommandThatOwnsItAndRefusedByTheOthers() async throws {
        let closed = try Self.closedStore()
        let path = closed.path
        // Back to version 2: no trigger column, no v3 migration, user_version unset (as before v3).
        try await DatabaseQueue(path: path).writeWithoutTransaction { db in
            try db.execute(sql: "DROP INDEX job_step")
            try db.execute(sql: "ALTER TABLE job DROP COLUMN trigger")
            // And without what came after v3.
            try db.execute(sql: "DROP TABLE bulk_export")
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'alert%'") {
                try db.execute(sql: "DROP TABLE \(table)")
            }
            try db.execute(sql: "ALTER TABLE job DROP COLUMN exportErrors")
            try db.execute(sql: "DROP TABLE row_access")
            try db.execute(sql: "DROP TABLE payload_purge")
            try db.execute(sql: "DROP TABLE store_key")
            try db.execute(sql: "DROP TABLE store_key_audit")
            try db.execute(sql: "ALTER TABLE job DROP COLUMN withheld")
            try db.execute(sql: "ALTER TABLE job DROP COLUMN checked")
            try db.execute(sql: "ALTER TABLE job DROP COLUMN changed")
            try db.execute(sql: "ALTER TABLE job DROP COLUMN missing")
            try db.execute(sql: "ALTER TABLE staged_row DROP COLUMN payloadPurgedAt")
            try db.execute(sql: "ALTER TABLE staged_row DROP COLUMN errorFurther")
            try db.execute(sql: "DROP TABLE create_intent")
            try db.execute(sql: "DROP TABLE person_search")
            try db.execute(sql: "DROP TABLE row_parent")
            try db.execute(sql: "DROP INDEX staged_row_kind")
            try db.execute(sql: "ALTER TABLE staged_row DROP COLUMN kind")
            try db.execute(sql: "ALTER TABLE staged_row DROP COLUMN survivorID")
            try db.execute(sql: "ALTER TABLE record_link DROP COLUMN retired")
            try db.execute(sql: "ALTER TABLE record_link DROP COLUMN mergedInto")
            try db.execute(sql: "DROP TABLE lease_grant")
            try db.execute(sql: "ALTER TABLE lease DROP COLUMN epoch")
            try db.execute(sql: "DROP INDEX conflict_kind")
            try db.execute(sql: "ALTER TABLE conflict DROP COLUMN kind")
            try db.execute(sql: "ALTER TABLE conflict DROP COLUMN merge")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier NOT LIKE 'v1:%' AND identifier NOT LIKE 'v2:%'")
            try db.execute(sql: "PRAGMA user_version = 0")
            let insert = "INSERT INTO job (kind, direction, actor, startedAt, status) VALUES (?, ?, ?, 0, 'succeeded')"
            for (kind, direction, actor) in [
                ("pull", "inbound", "system"), ("push", "outbound", "operator:dana"), ("pull", "outbound", "operator:ed"), ("push", "outbound", "operator:ed"),
                ("retry", nil, "operator:dana"),
            ] {
                try db.execute(sql: insert, arguments: [kind, direction, actor])
            }
        }
        let error = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path, access: .readOnly) }
        #expect(error?.description.contains("store version 2") == true)
        #expect(error?.description.contains("version \(StoreMigrations.version)") == true)
        // A command that reads or writes without owning the store refuses it, saying what to run;
        // only one that owns it (the service, sync, `store migrate`) upgrades it.
        let before = try Self.bytes(path)
        for open in [{ try SQLiteStore.forReading(path: path) }, { try SQLiteStore.forWriting(path: path) }] {
            let refusal = #expect(throws: StoreError.self) { _ = try open() }
            #expect(refusal?.description.contains("stagelink store migrate --store \(path)") == true, "\(String(describing: refusal))")
        }
        #expect(try Self.bytes(path) == before, "the refusals did not write")
        let upgraded = try SQLiteStore(path: path)
        let triggers = try await upgraded.jobs(before: nil, limit: 10).reversed().map(\.trigger)
        #expect(triggers == [.scheduled, .manual, .onDemand, .onDemand, .manual])
    }

    @Test func theMigrationToThePersonIndexIndexesTheRowsStagedBefore() async throws {
        let store = try SQLiteStore.temporary("store-version")
        let path = store.path
        let patient = #"{"resourceType":"Patient","id":"p1","name":[{"family":"Müller","given":["Zoë"]}],"birthDate":"1984-02-29"}"#
        let episode = #"{"resourceType":"EpisodeOfCare","id":"e1","patient":{"reference":"Patient/p1"}}"#
        _ = try await store.stage(
            [
                IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: nil, payload: Array(patient.utf8)),
                IncomingRecord(system: .emr, resourceType: "EpisodeOfCare", sourceID: "e1", version: "1", lastUpdated: nil, payload: Array(episode.utf8)),
            ], job: nil, advancing: nil)
        // Back to the store before the person index: its rows have no documents.
        try await store.pool.writeWithoutTransaction { db in
            try db.execute(sql: "DROP TABLE person_search")
            try db.execute(sql: "DROP TABLE row_parent")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v10:%'")
            try db.execute(sql: "PRAGMA user_version = \(StoreMigrations.version - 1)")
        }
        let upgraded = try SQLiteStore(path: path)
        let found = try await upgraded.rows(RowQuery(filter: RowFilter(text: "muller"), limit: 10))
        #expect(found.map(\.sourceID) == ["p1", "e1"], "the patient and, through it, her episode")
        #expect(found.map(\.personName) == ["Zoë Müller", "Zoë Müller"])
        let episodeID = try #require(found.last?.id)
        #expect(try await upgraded.parents(ofRows: [episodeID])[episodeID]?.row?.id == found.first?.id, "and the episode's parent")
    }

    @Test func theLastJobIsFoundByKindDirectionTriggerAndStatus() async throws {
        let store = try SQLiteStore.temporary("store-version")
        func finish(_ job: Job, _ status: Job.Status) async throws -> Job {
            var job = job
            job.status = status
            job.finishedAt = Date()
            try await store.updateJob(job)
            return job
        }
        let pull = try await finish(try await store.startJob(kind: .pull, direction: .inbound, actor: .system), .failed)
        let link = try await finish(try await store.startJob(kind: .link, direction: .inbound, actor: .system), .succeeded)
        let push = try await finish(
            try await store.startJob(kind: .push, direction: .outbound, actor: .operator("dana"), trigger: .manual), .failed)
        #expect(try await store.job(id: push.id)?.trigger == .manual)
        let cycles: Set<Job.Trigger> = [.scheduled, .onDemand]
        #expect(try await store.lastJob(JobSelection(kinds: [.pull], direction: .inbound, triggers: cycles, statuses: JobSelection.finished))?.id == pull.id)
        #expect(try await store.lastJob(JobSelection(direction: .inbound, statuses: JobSelection.completed))?.id == link.id)
        #expect(try await store.lastJob(JobSelection(kinds: [.push], triggers: cycles, statuses: JobSelection.finished)) == nil)
        #expect(try await store.lastJob(JobSelection(triggers: [.manual], statuses: JobSelection.finished))?.id == push.id)
    }
}
