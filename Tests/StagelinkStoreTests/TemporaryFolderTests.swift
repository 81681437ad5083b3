import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

/// Temporary stores and folders of tests and benchmarks leave nothing behind in the temporary
/// directory: each goes, with everything in it, when the last reference to it goes.
struct TemporaryFolderTests {
    @Test func aTemporaryStoresFolderIsRemovedWhenTheStoreAndItsFencedCopiesAreGone() async throws {
        var store: SQLiteStore? = try SQLiteStore.temporary("temporary-gone", encrypted: true)
        let folder = try #require(store.map { URL(fileURLWithPath: $0.path).deletingLastPathComponent().path })
        _ = try await store?.startJob(kind: .pull, direction: .inbound, actor: .system)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).contains("store.key"))
        var fenced: (any SyncStore)? = store?.fenced(by: 1)
        store = nil
        #expect(FileManager.default.fileExists(atPath: folder), "a fenced copy shares the store's connections, so the folder stays")
        #expect(try await fenced?.jobs(before: nil, limit: 10).count == 1, "and the store still reads")
        fenced = nil
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test func aTemporaryFolderIsRemovedWithWhatItHoldsWhenItIsGone() throws {
        var temporary: TemporaryFolder? = try TemporaryFolder("temporary-folder")
        let path = try #require(temporary?.path)
        #expect(path.hasPrefix(FileManager.default.temporaryDirectory.path) && path.contains("temporary-folder-"))
        try FileManager.default.createDirectory(atPath: path + "/nested", withIntermediateDirectories: true)
        try "x".write(toFile: path + "/nested/file", atomically: true, encoding: .utf8)
        temporary = nil
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aStoreAtTheCallersOwnPathIsNeverRemoved() throws {
        let temporary = try TemporaryFolder("own-path")
        var store: SQLiteStore? = try SQLiteStore(path: temporary.file("store.sqlite"))
        #expect(store != nil)
        store = nil
        #expect(FileManager.default.fileExists(atPath: temporary.file("store.sqlite")))
    }
}
