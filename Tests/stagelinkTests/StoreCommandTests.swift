import Foundation
import StagelinkEngine
@testable import StagelinkStore
import Testing

/// `stagelink store keygen | rekey | info` as a user runs them: a key is made private, a store kept
/// in the clear is sealed by the first command that writes it with a key, a rekey replaces the key
/// file and is recorded, and the old key no longer opens the store.
struct StoreCommandTests {
    /// Removed with everything in it when the test is done.
    let temporary: TemporaryFolder
    let folder: URL

    init() throws {
        temporary = try TemporaryFolder("store-cli")
        folder = temporary.url
    }

    func run(_ arguments: [String]) async throws -> (stdout: String, stderr: String, status: Int32) {
        try await HostileOutputTests.run(arguments, in: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func writeConfiguration(_ name: String, keyFile: String) throws {
        let mapping = HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path
        try "store: store.sqlite\nmapping: \(mapping)\nencryption: { keyFile: \(keyFile) }\n".write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    /// A store encrypted by `store.key`, with one patient staged.
    func encryptedStoreWithAPatient() async throws -> (StoreKey, SQLiteStore, StageResult) {
        let key = try StoreKey.generate(at: path("store.key"))
        let store = try SQLiteStore(path: path("store.sqlite"), key: key)
        let staged = try await store.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: nil, payload: Array(Self.payload.utf8))],
            job: nil, advancing: nil)
        return (key, store, staged)
    }

    static let payload = #"{"resourceType":"Patient","id":"p1","name":[{"family":"Quarterfield-Zoëlle"}]}"#

    @Test func keygenWritesAPrivateKeyOnceAndRekeyReplacesItUnderTheSameName() async throws {
        let made = try await run(["store", "keygen", path("store.key")])
        #expect(made.status == 0 && made.stdout.contains("key id"), "\(made.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: path("store.key"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try await run(["store", "keygen", path("store.key")]).status != 0, "an existing key file is never overwritten")
        let firstKey = try StoreKey.load(file: path("store.key"))
        try FileManager.default.copyItem(atPath: path("store.key"), toPath: path("old.key"))

        // A store kept in the clear, then named with a key.
        let clear = try SQLiteStore(path: path("store.sqlite"))
        let staged = try await clear.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: nil, payload: Array(Self.payload.utf8))],
            job: nil, advancing: nil)
        try writeConfiguration("stagelink.yaml", keyFile: "store.key")
        let before = try await run(["store", "info"])
        #expect(before.stdout.contains("Encryption  none"), "a reading command does not seal: \(before.stdout)\(before.stderr)")

        let rekey = try await run(["store", "rekey", "--operator", "alice"])
        #expect(rekey.status == 0, "\(rekey.stderr)")
        #expect(rekey.stdout.contains("was \(firstKey.id)") && rekey.stdout.contains("not re-encrypted"), "\(rekey.stdout)")
        #expect(!FileManager.default.fileExists(atPath: path("store.key.new")))
        let secondKey = try StoreKey.load(file: path("store.key"))
        #expect(secondKey.id != firstKey.id)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("store.sqlite"))) + ((try? Data(contentsOf: URL(fileURLWithPath: path("store.sqlite-wal")))) ?? Data())
        #expect(bytes.range(of: Data("Quarterfield".utf8)) == nil, "the first write with a key sealed what the store held")

        let info = try await run(["store", "info"])
        #expect(info.stdout.contains("key id \(secondKey.id)"), "\(info.stdout)")
        #expect(info.stdout.contains("operator:alice") && info.stdout.contains("rewrapped") && info.stdout.contains("encrypted"), "\(info.stdout)")
        let shown = try await run(["show", String(staged.rowIDs[0])])
        #expect(shown.status == 0 && shown.stdout.contains("Quarterfield-Zoëlle") && shown.stdout.contains("hmac-sha256 "), "\(shown.stdout)\(shown.stderr)")

        try writeConfiguration("old.yaml", keyFile: "old.key")
        let refused = try await run(["show", String(staged.rowIDs[0]), "--config", path("old.yaml")])
        #expect(refused.status == 4)
        #expect(refused.stderr.contains(path("old.key")) && refused.stderr.contains("does not open the store"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("Quarterfield"))
    }

    @Test func aCommandBetweenTheTwoStepsOfARekeyFindsTheNewKeyAndANewRekeyWaits() async throws {
        let (_, store, staged) = try await encryptedStoreWithAPatient()
        // A rekey stopped after wrapping the data key with FILE.new, before moving it over FILE.
        try await store.rewrapDataKey(with: try StoreKey.generate(at: path("store.key.new")), actor: .operator("alice"))
        try writeConfiguration("stagelink.yaml", keyFile: "store.key")
        let shown = try await run(["show", String(staged.rowIDs[0])])
        #expect(shown.status == 0 && shown.stdout.contains("Quarterfield-Zoëlle"), "\(shown.stderr)")
        let again = try await run(["store", "rekey"])
        #expect(again.status != 0 && again.stderr.contains("was interrupted"), "\(again.stderr)")
    }

    @Test func rekeyDataKeyWaitsForTheServiceThenSealsEverythingAgainAndTheStoreReadsTheSame() async throws {
        let (key, store, staged) = try await encryptedStoreWithAPatient()
        try writeConfiguration("stagelink.yaml", keyFile: "store.key")
        let service = LeaseHolder(name: "stagelink run", host: "ops-host", pid: 4242)
        _ = try await store.acquireLease(service, for: .seconds(600), replacing: nil)
        let refused = try await run(["store", "rekey", "--data-key"])
        #expect(refused.status != 0 && refused.stderr.contains("holds the store's lease"), "\(refused.stderr)")
        try await store.releaseLease(service)

        let rotated = try await run(["store", "rekey", "--data-key", "--operator", "alice"])
        #expect(rotated.status == 0 && rotated.stdout.contains("Rotated the data key") && rotated.stdout.contains("1 staged rows"), "\(rotated.stdout)\(rotated.stderr)")
        #expect(try StoreKey.load(file: path("store.key")).id == key.id, "the key file stays")
        let shown = try await run(["show", String(staged.rowIDs[0])])
        #expect(shown.status == 0 && shown.stdout.contains("Quarterfield-Zoëlle"), "\(shown.stderr)")
        let info = try await run(["store", "info"])
        #expect(info.stdout.contains("data key rotated") && info.stdout.contains("operator:alice") && !info.stdout.contains("unfinished"), "\(info.stdout)")
        let found = try await run(["rows", "--text", "quarterfield"])
        #expect(found.stdout.contains("p1"), "the blind index made again: \(found.stdout)\(found.stderr)")
    }

    @Test func rekeyingAStoreWithoutEncryptionSaysHowToTurnItOn() async throws {
        _ = try SQLiteStore(path: path("store.sqlite"))
        let result = try await run(["store", "rekey", "--store", path("store.sqlite")])
        #expect(result.status != 0 && result.stderr.contains("encryption: { keyFile: FILE }"), "\(result.stderr)")
    }

    /// A mistyped store file is never made into a new, empty store: the commands that read or
    /// write an existing store refuse it (exit 4) and create nothing; `store migrate` creates it.
    @Test func aMissingStoreIsRefusedByCommandsThatDoNotOwnItAndMadeByStoreMigrate() async throws {
        let mapping = HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path
        for arguments in [["rows"], ["status"], ["jobs"], ["audit", "access"], ["retry", "1"], ["policy", "show"]] {
            let result = try await run(arguments + ["--store", "typo.sqlite", "--mapping", mapping])
            #expect(result.status == 4, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("typo.sqlite"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("no such file; nothing was created"), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: path("typo.sqlite")), "\(arguments)")
        }
        let migrated = try await run(["store", "migrate", "--store", "store.sqlite"])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("is at store version \(StoreMigrations.version), this build's"), "\(migrated.stdout)")
        let rows = try await run(["rows", "--store", "store.sqlite"])
        #expect(rows.status == 0, "\(rows.stderr)")
    }

}
