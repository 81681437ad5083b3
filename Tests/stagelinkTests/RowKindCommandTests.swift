import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

/// `stagelink rows --kind` as a user runs it: deletions and merges are listed apart, each merge
/// naming its survivor.
struct RowKindCommandTests {
    @Test func rowsKindListsDeletionsAndMergesApartNamingTheSurvivor() async throws {
        let temporary = try TemporaryFolder("rows-kind")
        let folder = temporary.url
        let store = try SQLiteStore(path: folder.appendingPathComponent("stagelink.sqlite").path)
        func record(_ id: String, _ kind: RecordKind, survivor: String? = nil) -> IncomingRecord {
            IncomingRecord(
                system: .emr, resourceType: "Patient", sourceID: id, version: "2", lastUpdated: Date(), payload: Array("{\"id\":\"\(id)\"}".utf8),
                kind: kind, survivorID: survivor)
        }
        _ = try await store.stage(
            [record("p-1", .record), record("p-2", .deletion), record("p-3", .merge, survivor: "p-9")], job: nil, advancing: nil)
        let options = ["--store", store.path, "--mapping", HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path]

        let deletions = try await HostileOutputTests.run(["rows", "--kind", "deletion"] + options, in: folder)
        #expect(deletions.status == 0, "\(deletions.stderr)")
        #expect(deletions.stdout.contains("p-2") && !deletions.stdout.contains("p-1") && !deletions.stdout.contains("p-3"), "\(deletions.stdout)")
        #expect(deletions.stdout.contains("1 of 1 rows"))
        let merges = try await HostileOutputTests.run(["rows", "--kind", "merge", "--json"] + options, in: folder)
        #expect(merges.stdout.contains(#""survivor": "p-9""#) && merges.stdout.contains(#""kind": "merge""#), "\(merges.stdout)")
        let refused = try await HostileOutputTests.run(["rows", "--kind", "purge"] + options, in: folder)
        #expect(refused.status != 0 && refused.stderr.contains("kind"), "\(refused.stderr)")
    }
}
