import Foundation
import GRDB
import StagelinkEngine
import StagelinkPostgres
import Testing

@testable import StagelinkStore

/// Rotating the data key itself (`stagelink store rekey --data-key`): every payload, field state,
/// lineage value, conflict value, keyed hash and blind index token is made again under a new data
/// key; a rotation stopped halfway leaves a store that opens and reads, takes no writes, and is
/// finished by running the rotation again; afterwards the old data key is gone from the store and
/// its ciphertexts from the file.
struct DataKeyRotationTests {
    /// Removed with everything in it when the test is done.
    let temporary: TemporaryFolder
    let folder: URL
    let key: StoreKey

    init() throws {
        temporary = try TemporaryFolder("data-key-rotation")
        folder = temporary.url
        key = try StoreKey.generate(at: folder.appendingPathComponent("store.key").path)
    }

    var path: String { folder.appendingPathComponent("store.sqlite").path }

    struct Stopped: Error {}

    static let overridden = "+1 555 0142"

    /// The seeded people and twenty more patients; p1's row held by a conflict, with field states
    /// and lineage; p2's row linked and purged.
    func fill(_ store: any EncryptedConformingStore) async throws -> [Int64] {
        let more = (0..<20).map { PersonSearchTests.patient("q\($0)", given: "Quinn", family: "Rotation", mrn: "MRN9\($0)", birthDate: "1970-01-01") }
        let staged = try await store.stage(PersonSearchTests.people + more, job: nil, advancing: nil)
        let ids = staged.rowIDs
        _ = try await store.claimRows(ClaimRequest(), limit: 100, actor: .job(1))
        let record = MappedRecordKey(object: "Contact", key: "p1")
        try await store.record([
            LinkOutcome(
                rowID: ids[0], actor: .job(1), at: Date(), status: .held, attempt: .held,
                fieldStates: [FieldStateChange(record: record, field: "LastName", state: FieldState(synced: .text("Müller"), emr: .text("Müller")))],
                writes: [
                    FieldWrite(
                        record: record, field: "LastName", value: .text("Müller"), writtenTo: .salesforce, rowID: ids[0], jobID: 1, rule: .emr,
                        actor: .job(1), at: Date(), reason: "the EMR owns LastName")
                ],
                conflicts: [
                    ConflictRecord(
                        record: record, field: "Phone", rowID: ids[0], emrValue: .text(Self.overridden), salesforceValue: .text("+1 555 0199"), rule: .hold,
                        winner: nil)
                ]),
            LinkOutcome(rowID: ids[1], actor: .job(1), at: Date(), status: .linked, attempt: .linked),
        ])
        let purge = try await store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .system, dryRun: false)
        #expect(purge.rows == 1, "p2's payload is purged: a row without a payload is carried through too")
        return ids
    }

    /// Everything a reader sees: each row's payload, the field state, lineage and conflict values.
    func readEverything(_ store: any EncryptedConformingStore, _ ids: [Int64]) async throws -> [String] {
        var seen: [String] = []
        for id in ids { seen.append(String(decoding: try #require(try await store.row(id: id)).payload, as: UTF8.self)) }
        let record = MappedRecordKey(object: "Contact", key: "p1")
        seen.append("\(try await store.fieldStates(for: [record])[record]?["LastName"]?.synced as Any)")
        seen.append("\(try await store.writes(byRow: ids[0]).map(\.value))")
        seen.append("\(try await store.conflicts(ConflictQuery()).map { [$0.emrValue, $0.salesforceValue] })")
        return seen
    }

    func found(_ text: String, in store: any EncryptedConformingStore) async throws -> [String] {
        try await store.rows(RowQuery(filter: RowFilter(text: text), limit: 100)).map(\.sourceID)
    }

    /// What a finished rotation (resumed after two batches of 4 rows) leaves: every value reads as
    /// `before`, hashes and the blind index made again, deduplication and writes as before.
    func expectFinished(_ rotation: DataKeyRotation, _ after: any EncryptedConformingStore, _ ids: [Int64], before: [String], oldHash: String?) async throws {
        #expect(rotation.resumed)
        #expect(rotation.rows == ids.count - 8, "the rows after the first run's two batches")
        #expect(rotation.values == 3, "the field state, the lineage entry and the conflict")
        #expect(try await readEverything(after, ids) == before)
        #expect(try await after.row(id: ids[0])?.contentHash != oldHash, "keyed hashes made again")
        #expect(try await found("muller", in: after) == ["p1", "e1"], "the blind index made again")
        #expect(try await found("rotation", in: after).count == 20)
        #expect(try await found("siobhan", in: after) == ["0035g00000AbCdE", "a0B5g00000XyZ12"])
        #expect(try await after.stage([PersonSearchTests.people[0]], job: nil, advancing: nil).deduplicated == 1, "deduplication by the new keyed hash")
        #expect(try await after.stage([PersonSearchTests.episode("e9", patient: "p1")], job: nil, advancing: nil).staged == 1, "writes again")
        #expect(try await found("zoe", in: after) == ["p1", "e1", "e9"])
    }

    @Test func aRotationStoppedHalfwayLeavesAReadableStoreThatTakesNoWritesAndARerunFinishesIt() async throws {
        let service = try SQLiteStore(path: path, key: key)
        let ids = try await fill(service)
        let before = try await readEverything(service, ids)
        let oldSealed = try await service.pool.read { db in try Data.fetchOne(db, sql: "SELECT payload FROM staged_payload WHERE rowID = ?", arguments: [ids[0]]) }
        let oldHash = try await service.row(id: ids[0])?.contentHash

        // Stopped after two batches of 4 rows, as a crash would stop it.
        let first = try SQLiteStore(path: path, key: key)
        await #expect(throws: Stopped.self) {
            _ = try await first.rotateDataKey(actor: .operator("alice"), batchSize: 4) { batches in if batches == 2 { throw Stopped() } }
        }

        // Halfway: a new process opens and reads everything; nobody writes.
        let halfway = try SQLiteStore(path: path, key: try StoreKey.load(file: key.file))
        #expect(try await readEverything(halfway, ids) == before)
        let refused = await #expect(throws: StoreError.self) { _ = try await halfway.stage([PersonSearchTests.episode("e9", patient: "p1")], job: nil, advancing: nil) }
        #expect(refused == .rotating(path: path, running: false))
        #expect(refused?.description.contains("run `stagelink store rekey --data-key` again") == true)
        await #expect(throws: StoreError.rotating(path: path, running: true)) {
            _ = try await service.stage([PersonSearchTests.episode("e9", patient: "p1")], job: nil, advancing: nil)
        }

        let rotation = try await halfway.rotateDataKey(actor: .operator("alice"), batchSize: 4)

        let after = try SQLiteStore(path: path, key: try StoreKey.load(file: key.file))
        try await expectFinished(rotation, after, ids, before: before, oldHash: oldHash)
        let standing = try await after.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT dataKeyID, previousWrappedKey, previousDataKeyID, rotationCursor FROM store_key")
        }
        #expect(standing?["previousWrappedKey"] as Data? == nil && standing?["rotationCursor"] as Int64? == nil, "the old data key is gone")
        #expect(standing?["dataKeyID"] as String? == rotation.dataKeyID && rotation.dataKeyID != rotation.previousDataKeyID)
        let events = try await after.keyEvents(limit: 10).map(\.event)
        #expect(events.prefix(2) == ["data key rotated", "data key rotating"])

        // The old ciphertexts are overwritten in the file, not only replaced in the table.
        let bytes = ["", "-wal", "-shm"].flatMap { FileManager.default.contents(atPath: path + $0).map { [UInt8]($0) } ?? [] }
        let sealed = try #require(oldSealed)
        #expect(Data(bytes).range(of: sealed.suffix(32)) == nil, "the old sealed payload is gone from the file")
        for secret in ["Müller", "muller", "Siobhán", "MRN100001", "1984-02-29", Self.overridden] {
            #expect(Data(bytes).range(of: Data(secret.utf8)) == nil, "the store files hold \(secret)")
        }
    }

    /// The same rotation, stopped and resumed, on every store kind through the stores' one
    /// protocol (``EncryptedStore/rotateDataKey(actor:batchSize:afterBatch:)``): the PostgreSQL
    /// store re-seals with the SQLite store's own ``DataKeyResealing``.
    @Test(arguments: StoreKind.available)
    func aRotationStoppedHalfwayAndRunAgainReadsTheSameOnEveryStoreKind(_ kind: StoreKind) async throws {
        let place = EncryptedStoreConformanceTests.Place(
            kind: kind, name: kind == .sqlite ? path : "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "_"))
        let service = try await place.open(key: key)
        let ids = try await fill(service)
        let before = try await readEverything(service, ids)
        let oldHash = try await service.row(id: ids[0])?.contentHash

        let first = try await place.open(key: key)
        await #expect(throws: Stopped.self) {
            _ = try await first.rotateDataKey(actor: .operator("alice"), batchSize: 4) { batches in if batches == 2 { throw Stopped() } }
        }
        let halfway = try await place.open(key: try StoreKey.load(file: key.file))
        #expect(try await readEverything(halfway, ids) == before)
        #expect(try await halfway.encryptionStanding()?.rotating == true)
        let refused = await #expect(throws: StoreError.self) { _ = try await halfway.stage([PersonSearchTests.episode("e9", patient: "p1")], job: nil, advancing: nil) }
        #expect(refused?.description.contains("run `stagelink store rekey --data-key` again") == true)
        await #expect(throws: StoreError.self) { _ = try await service.stage([PersonSearchTests.episode("e9", patient: "p1")], job: nil, advancing: nil) }
        // A page of rows without a parent (on PostgreSQL one statement, which checks the data key
        // itself) is refused the same, and nothing of it or its watermark is written.
        let patient = IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p9", version: "1", lastUpdated: nil, payload: Array("{}".utf8))
        let advance = WatermarkAdvance(system: .emr, resourceType: "Patient", to: Date(timeIntervalSince1970: 2_000_000_000))
        let count = try await halfway.countRows(.all)
        let watermark = try await halfway.watermark(system: .emr, resourceType: "Patient")
        let refusedPage = await #expect(throws: StoreError.self) { _ = try await halfway.stage([patient], job: nil, advancing: advance) }
        #expect(refusedPage?.description.contains("run `stagelink store rekey --data-key` again") == true)
        #expect(try await halfway.countRows(.all) == count)
        #expect(try await halfway.watermark(system: .emr, resourceType: "Patient") == watermark)

        let rotation = try await halfway.rotateDataKey(actor: .operator("alice"), batchSize: 4) { _ in }

        let after = try await place.open(key: try StoreKey.load(file: key.file))
        try await expectFinished(rotation, after, ids, before: before, oldHash: oldHash)
        #expect(try await after.encryptionStanding()?.rotating == false)
        #expect(try await after.keyEvents(limit: 10).map(\.event).prefix(2) == ["data key rotated", "data key rotating"])
        #expect(try await place.holding(["Müller", "muller", "MRN100001", "1984-02-29", Self.overridden]) == [])
        for other in [first, halfway, after] { (other as? PostgresStore)?.close() }
        try await EncryptedStoreConformanceTests.drop(service)
    }

    @Test func aRotationOfAStoreInTheClearOrWithoutItsKeyIsRefused() async throws {
        let clear = try SQLiteStore.temporary("rotation-clear")
        await #expect(throws: StoreError.keyRequired(path: clear.path)) { _ = try await clear.rotateDataKey(actor: .system) }
    }
}
