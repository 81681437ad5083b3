import Foundation
import GRDB
import Testing
import StagelinkEngine
@testable import StagelinkStore

/// The access log: every read of a row's evidence, append-only, listed by row and operator.
struct AccessLogTests {
    @Test func readsAreListedNewestFirstByRowAndByOperator() async throws {
        let store = try SQLiteStore.temporary("access-log")
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        try await store.recordAccess([
            RowAccess(at: at, rowID: 7, operatorName: "alice", process: "stagelink (pid 1 on h) as alice", via: .show),
            RowAccess(at: at.addingTimeInterval(1), rowID: 8, operatorName: "bob", process: "stagelink (pid 2 on h) as bob", via: .console),
        ])
        try await store.recordAccess(RowAccess(at: at.addingTimeInterval(2), rowID: 7, operatorName: "bob", process: "p", via: .why))

        let all = try await store.accessLog(AccessQuery())
        #expect(all.map(\.rowID) == [7, 8, 7])
        #expect(all.map(\.via) == [.why, .console, .show])
        #expect(all.last == RowAccess(id: all.last?.id, at: at, rowID: 7, operatorName: "alice", process: "stagelink (pid 1 on h) as alice", via: .show))
        #expect(try await store.accessLog(AccessQuery(rowID: 7)).map(\.operatorName) == ["bob", "alice"])
        #expect(try await store.accessLog(AccessQuery(operatorName: "bob")).map(\.rowID) == [7, 8])
        #expect(try await store.accessLog(AccessQuery(rowID: 8, operatorName: "alice")).isEmpty)
        let first = try await store.accessLog(AccessQuery(limit: 1))
        #expect(try await store.accessLog(AccessQuery(before: first[0].id, limit: 10)).count == 2, "keyset pages")
    }

    @Test func theLogRefusesUpdateAndDelete() async throws {
        let store = try SQLiteStore.temporary("access-log")
        try await store.recordAccess(RowAccess(rowID: 1, operatorName: "alice", via: .show))
        await #expect(throws: DatabaseError.self) {
            try await store.pool.write { db in try db.execute(sql: "UPDATE row_access SET operator = 'nobody'") }
        }
        await #expect(throws: DatabaseError.self) {
            try await store.pool.write { db in try db.execute(sql: "DELETE FROM row_access") }
        }
        #expect(try await store.accessLog(AccessQuery()).map(\.operatorName) == ["alice"])
    }

    @Test func aStoreOpenedForReadingStillLogsItsReadsAndAnUnwritableOneRefuses() async throws {
        let temporary = try TemporaryFolder("access")
        let folder = temporary.url
        let path = folder.appendingPathComponent("store.sqlite").path
        _ = try SQLiteStore(path: path)
        let reader = try SQLiteStore.forReading(path: path)
        #expect(reader.access == .readOnly)
        try await reader.recordAccess(RowAccess(rowID: 3, operatorName: "reviewer", via: .show))
        #expect(try await reader.accessLog(AccessQuery()).map(\.operatorName) == ["reviewer"])

        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path) }
        guard getuid() != 0 else { return }  // root writes whatever the mode says
        let locked = try SQLiteStore.forReading(path: path)
        await #expect(throws: StoreError.self) { try await locked.recordAccess(RowAccess(rowID: 3, operatorName: "reviewer", via: .show)) }
    }

    @Test func theProcessIsNamedWithItsPidHostAndLogin() {
        let process = RowAccess.currentProcess()
        #expect(process.contains("(pid \(ProcessInfo.processInfo.processIdentifier) on \(ProcessInfo.processInfo.hostName))"))
        #expect(process.contains(" as "))
    }
}

/// The purge audit is append-only too.
struct PurgeAuditTests {
    @Test func thePurgeAuditRefusesUpdateAndDelete() async throws {
        let store = try SQLiteStore.temporary("purge-audit")
        _ = try await store.purgePayloads(receivedBefore: Date(), actor: .operator("alice"), dryRun: false)
        await #expect(throws: DatabaseError.self) { try await store.pool.write { db in try db.execute(sql: "UPDATE payload_purge SET rows = 0") } }
        await #expect(throws: DatabaseError.self) { try await store.pool.write { db in try db.execute(sql: "DELETE FROM payload_purge") } }
        #expect(try await store.payloadPurges(limit: 5).count == 1)
    }
}
