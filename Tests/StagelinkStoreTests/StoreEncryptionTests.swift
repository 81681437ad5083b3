import Foundation
import GRDB
import Testing
import StagelinkEngine
@testable import StagelinkStore

/// Encryption at rest (issue 21): with a key, the store file holds no payload, no field value and
/// no plain content hash; without the key, or with another, it does not open; a rekey rewraps the
/// data key under a running writer.
struct StoreEncryptionTests {
    /// Removed with everything in it when the test is done.
    let temporary: TemporaryFolder
    let folder: URL

    init() throws {
        temporary = try TemporaryFolder("store-encryption")
        folder = temporary.url
    }

    var path: String { folder.appendingPathComponent("store.sqlite").path }
    func keyFile(_ name: String = "store.key") -> String { folder.appendingPathComponent(name).path }

    static let secretName = "Zoëlle Quarterfield"
    static let secretPhone = "+1 555 0142"

    func patient(_ id: String, family: String = secretName, version: String = "1") -> IncomingRecord {
        IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: id, version: version, lastUpdated: Date(timeIntervalSince1970: 1_790_000_000),
            payload: Array(#"{"resourceType":"Patient","id":"\#(id)","name":[{"family":"\#(family)"}],"telecom":[{"value":"\#(Self.secretPhone)"}]}"#.utf8))
    }

    /// Stages a patient, links it with field states, lineage and a conflict that all carry the secrets.
    func fill(_ store: SQLiteStore) async throws -> Int64 {
        let staged = try await store.stage([patient("p1")], job: nil, advancing: nil)
        let rowID = try #require(staged.rowIDs.first)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        let key = MappedRecordKey(object: "Contact", key: "p1")
        let at = Date(timeIntervalSince1970: 1_790_000_100)
        try await store.record([
            LinkOutcome(
                rowID: rowID, actor: .job(1), at: at, status: .linked, attempt: .linked,
                fieldStates: [FieldStateChange(record: key, field: "LastName", state: FieldState(synced: .text(Self.secretName), emr: .text(Self.secretName)))],
                writes: [
                    FieldWrite(
                        record: key, field: "LastName", value: .text(Self.secretName), writtenTo: .salesforce, rowID: rowID, jobID: 1, rule: .emr,
                        actor: .job(1), at: at, reason: "the EMR owns LastName")
                ],
                conflicts: [
                    ConflictRecord(
                        record: key, field: "Phone", rowID: rowID, emrValue: .text(Self.secretPhone), salesforceValue: .text("+1 555 0199"), rule: .hold,
                        winner: nil)
                ])
        ])
        return rowID
    }

    /// Every byte of the store's files (database, write-ahead log, shared memory).
    func fileBytes() throws -> [UInt8] {
        try ["", "-wal", "-shm"].flatMap { suffix in
            (FileManager.default.contents(atPath: path + suffix)).map { [UInt8]($0) } ?? []
        }
    }

    func fileContains(_ text: String) throws -> Bool {
        Data(try fileBytes()).range(of: Data(text.utf8)) != nil
    }

    @Test func anEncryptedStoreFileHoldsNoNameNoValueAndNoPlainHashAndReadsBackUnchanged() async throws {
        let store = try SQLiteStore(path: path, key: try StoreKey.generate(at: keyFile()))
        let rowID = try await fill(store)
        let plainHash = patient("p1").contentHash

        // What the console, `show` and `why` read is unchanged.
        let row = try #require(try await store.row(id: rowID))
        #expect(row.payload == patient("p1").payload)
        #expect(row.contentHash.hasPrefix("hmac-sha256:"))
        #expect(row.contentHash != plainHash)
        let key = MappedRecordKey(object: "Contact", key: "p1")
        #expect(try await store.fieldStates(for: [key])[key]?["LastName"]?.synced == .text(Self.secretName))
        #expect(try await store.lastWrite(record: key, field: "LastName")?.value == .text(Self.secretName))
        #expect(try await store.writes(byRow: rowID).map(\.value) == [.text(Self.secretName)])
        let conflict = try #require(try await store.conflicts(ConflictQuery()).first)
        #expect(conflict.emrValue == .text(Self.secretPhone))
        #expect(conflict.salesforceValue == .text("+1 555 0199"))
        #expect(try await store.row(of: SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1"), contentHash: plainHash)?.id == rowID)

        for secret in [Self.secretName, "Quarterfield", Self.secretPhone, "0199", plainHash] {
            #expect(try !fileContains(secret), "the store file holds \(secret)")
        }
    }

    @Test func theSameContentIsDeduplicatedAcrossRestartsAndAConflictSeenTwiceIsOne() async throws {
        let key = try StoreKey.generate(at: keyFile())
        let first = try SQLiteStore(path: path, key: key)
        _ = try await fill(first)
        let reopened = try SQLiteStore(path: path, key: try StoreKey.load(file: keyFile()))
        let again = try await reopened.stage([patient("p1"), patient("p1", family: "Other", version: "2")], job: nil, advancing: nil)
        #expect(again.deduplicated == 1)
        #expect(again.staged == 1)
        // The same collision recorded again (sealed deterministically) is the same conflict.
        _ = try await reopened.claimRows(ClaimRequest(), limit: 10, actor: .job(2))
        try await reopened.record([
            LinkOutcome(
                rowID: again.rowIDs[0], actor: .job(2), at: Date(), status: .held, attempt: .held,
                conflicts: [
                    ConflictRecord(
                        record: MappedRecordKey(object: "Contact", key: "p1"), field: "Phone", rowID: again.rowIDs[0], emrValue: .text(Self.secretPhone),
                        salesforceValue: .text("+1 555 0199"), rule: .hold, winner: nil)
                ])
        ])
        #expect(try await reopened.conflicts(ConflictQuery()).count == 1)
    }

    @Test func anEncryptedStoreWithoutItsKeyOrWithAnotherIsRefusedNamingTheKeyFile() async throws {
        _ = try await fill(try SQLiteStore(path: path, key: try StoreKey.generate(at: keyFile())))
        let withoutKey = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
        #expect(withoutKey?.description.contains("is encrypted and no key was given") == true)
        #expect(withoutKey?.description.contains("encryption") == true)
        let readingWithoutKey = #expect(throws: StoreError.self) { _ = try SQLiteStore.forReading(path: path) }
        #expect(readingWithoutKey == withoutKey)

        let other = try StoreKey.generate(at: keyFile("other.key"))
        let wrong = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path, key: other) }
        #expect(wrong?.description.contains(keyFile("other.key")) == true)
        #expect(wrong?.description.contains("does not open the store") == true)
        #expect(wrong?.description.contains(other.id) == true)
    }

    @Test func aKeyFileOthersMayReadIsRefusedAndSoIsOneThatHoldsNoKey() throws {
        let key = try StoreKey.generate(at: keyFile())
        #expect(try StoreKey.load(file: keyFile()).id == key.id)
        chmod(keyFile(), 0o644)
        let open = #expect(throws: StoreKeyError.self) { _ = try StoreKey.load(file: keyFile()) }
        #expect(open?.description == "the store key file \(keyFile()) may be read by its group or others (mode 0644): make it private with chmod 600")
        try "not a key\n".write(toFile: keyFile("bad.key"), atomically: true, encoding: .utf8)
        chmod(keyFile("bad.key"), 0o600)
        let bad = #expect(throws: StoreKeyError.self) { _ = try StoreKey.load(file: keyFile("bad.key")) }
        #expect(bad?.description.contains("does not hold a store key") == true)
        #expect(throws: StoreKeyError.self) { _ = try StoreKey.generate(at: keyFile()) }
        let missing = #expect(throws: StoreKeyError.self) { _ = try StoreKey.load(file: keyFile("absent.key")) }
        #expect(missing?.description.contains("absent.key cannot be read") == true)
    }

    @Test func aRekeyRewrapsTheDataKeyWhileAWriterGoesOnAndOnlyTheNewKeyOpensTheStoreAfter() async throws {
        let oldKey = try StoreKey.generate(at: keyFile())
        // The running service: opened before the rekey, it keeps its data key.
        let service = try SQLiteStore(path: path, key: oldKey)
        let rowID = try await fill(service)
        let newKey = try StoreKey.generate(at: keyFile("new.key"))
        let operatorsCopy = try SQLiteStore(path: path, key: oldKey)
        try await operatorsCopy.rewrapDataKey(with: newKey, actor: .operator("alice"))

        let staged = try await service.stage([patient("p2")], job: nil, advancing: nil)
        #expect(staged.staged == 1)
        #expect(try await service.row(id: rowID)?.payload == patient("p1").payload)

        #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path, key: oldKey) }
        let after = try SQLiteStore(path: path, key: newKey)
        #expect(try await after.row(id: staged.rowIDs[0])?.payload == patient("p2").payload)
        #expect(try await after.encryptionStanding()?.keyID == newKey.id)
        let events = try await after.keyEvents(limit: 10)
        #expect(events.map(\.event) == ["rewrapped", "encrypted"])
        #expect(events.first?.actor == .operator("alice"))
        #expect(events.first?.previousKeyID == oldKey.id)
        // The audit is append-only.
        await #expect(throws: (any Error).self) { try await after.pool.write { db in try db.execute(sql: "DELETE FROM store_key_audit") } }
    }

    @Test func aStoreKeptInTheClearIsSealedTheFirstTimeItIsOpenedWithAKeyAndStillDeduplicates() async throws {
        let clear = try SQLiteStore(path: path)
        let rowID = try await fill(clear)
        #expect(try fileContains(Self.secretName))
        #expect(!clear.isEncrypted)

        let sealed = try SQLiteStore(path: path, key: try StoreKey.generate(at: keyFile()))
        #expect(sealed.isEncrypted)
        for secret in [Self.secretName, Self.secretPhone, patient("p1").contentHash] {
            #expect(try !fileContains(secret), "the store file still holds \(secret)")
        }
        #expect(try await sealed.row(id: rowID)?.payload == patient("p1").payload)
        let key = MappedRecordKey(object: "Contact", key: "p1")
        #expect(try await sealed.fieldStates(for: [key])[key]?["LastName"]?.emr == .text(Self.secretName))
        #expect(try await sealed.writes(byRow: rowID).map(\.value) == [.text(Self.secretName)])
        #expect(try await sealed.conflicts(ConflictQuery()).first?.emrValue == .text(Self.secretPhone))
        #expect(try await sealed.stage([patient("p1")], job: nil, advancing: nil).deduplicated == 1)

        // The process that still has no key may no longer write into it.
        await #expect(throws: StoreError.keyRequired(path: path)) { _ = try await clear.stage([patient("p3")], job: nil, advancing: nil) }
    }

    /// Copies of field values (`record_state`, `record_write`) are kept as their sealed bytes, not
    /// as their base64 text, which is a third larger and made linking a third slower; a value an
    /// earlier version kept as `enc1:` text still opens, and a merge into it writes bytes.
    @Test func fieldValuesAreKeptAsSealedBytesAndValuesKeptAsTextBeforeStillOpen() async throws {
        let store = try SQLiteStore(path: path, key: try StoreKey.generate(at: keyFile()))
        let rowID = try await fill(store)
        let key = MappedRecordKey(object: "Contact", key: "p1")
        let state = RecordStateRecord.encode([("LastName", FieldState(synced: .text(Self.secretName), emr: .text(Self.secretName)))])
        let kept = try await store.pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT typeof(fields) AS type, length(fields) AS size FROM record_state UNION ALL SELECT typeof(fields), length(fields) FROM record_write")
        }
        #expect(kept.map { $0["type"] as String } == ["blob", "blob"])
        #expect(kept.first?["size"] as Int? == 1 + 12 + state.count + 16, "the version, the nonce, the sealed JSON and its tag")

        // As an earlier version kept them: `enc1:` and base64.
        try await store.pool.write { db in
            for table in ["record_state", "record_write"] {
                let sealed = try #require(try Data.fetchOne(db, sql: "SELECT fields FROM \(table)"))
                try db.execute(sql: "UPDATE \(table) SET fields = ?", arguments: [StoreCipher.sealedText(of: [UInt8](sealed))])
            }
        }
        #expect(try await store.pool.read { db in try String.fetchOne(db, sql: "SELECT typeof(fields) FROM record_write") } == "text")
        #expect(try await store.fieldStates(for: [key])[key]?["LastName"]?.synced == .text(Self.secretName))
        #expect(try await store.lastWrite(record: key, field: "LastName")?.value == .text(Self.secretName))
        #expect(try await store.writes(byRow: rowID).map(\.value) == [.text(Self.secretName)])

        // A merge into the value kept as text keeps both fields and writes bytes.
        try await store.updateFieldStates([FieldStateChange(record: key, field: "Birthdate", state: FieldState(synced: .text("1980-02-29")))])
        let merged = try #require(try await store.fieldStates(for: [key])[key])
        #expect(merged["LastName"]?.synced == .text(Self.secretName))
        #expect(merged["Birthdate"]?.synced == .text("1980-02-29"))
        #expect(try await store.pool.read { db in try String.fetchOne(db, sql: "SELECT typeof(fields) FROM record_state") } == "blob")
        #expect(try !fileContains(Self.secretName))

        // Bytes that do not open: an error naming the record, never an empty state.
        try await store.pool.write { db in try db.execute(sql: "UPDATE record_state SET fields = x'01020304'") }
        let error = await #expect(throws: StoreError.self) { _ = try await store.fieldStates(for: [key]) }
        #expect(error?.description.contains("the field values of Contact p1 does not open") == true)
    }

    @Test func aSealedValueMovedToAnotherRowDoesNotOpen() async throws {
        let store = try SQLiteStore(path: path, key: try StoreKey.generate(at: keyFile()))
        let first = try await store.stage([patient("p1"), patient("p2")], job: nil, advancing: nil)
        try await store.pool.write { db in
            try db.execute(
                sql: "UPDATE staged_payload SET payload = (SELECT payload FROM staged_payload WHERE rowID = ?) WHERE rowID = ?",
                arguments: [first.rowIDs[0], first.rowIDs[1]])
        }
        let error = await #expect(throws: StoreError.self) { _ = try await store.row(id: first.rowIDs[1]) }
        #expect(error?.description.contains("the payload of row \(first.rowIDs[1]) does not open") == true)
    }

    /// A page large enough to be sealed and opened over every core (``PageLanes``) is staged,
    /// claimed and recorded with each value under its own row and record, every payload with a
    /// nonce of its own.
    @Test func aLargePageIsSealedAndOpenedOverEveryCoreEachValueUnderItsOwnRowWithANonceOfItsOwn() async throws {
        let store = try SQLiteStore(path: path, key: try StoreKey.generate(at: keyFile()))
        let patients = (0..<300).map { patient("p\($0)", family: "Family\($0)") }
        let staged = try await store.stage(patients, job: nil, advancing: nil)
        #expect(staged.staged == 300)
        let claimed = try await store.claimRows(ClaimRequest(), limit: 300, actor: .job(1))
        #expect(claimed.map(\.id) == staged.rowIDs)
        #expect(claimed.map(\.payload) == patients.map(\.payload))
        let at = Date(timeIntervalSince1970: 1_790_000_100)
        try await store.record(
            zip(claimed, 0...).map { row, index in
                let key = MappedRecordKey(object: "Contact", key: row.sourceID)
                return LinkOutcome(
                    rowID: row.id, actor: .job(1), at: at, status: .linked, attempt: .linked,
                    fieldStates: [FieldStateChange(record: key, field: "LastName", state: FieldState(synced: .text("Family\(index)")))],
                    writes: [
                        FieldWrite(
                            record: key, field: "LastName", value: .text("Family\(index)"), writtenTo: .salesforce, rowID: row.id, jobID: 1,
                            rule: .emr, actor: .job(1), at: at, reason: "the EMR owns LastName")
                    ])
            })
        for index in [0, 1, 2, 149, 298, 299] {
            let key = MappedRecordKey(object: "Contact", key: "p\(index)")
            #expect(try await store.fieldStates(for: [key])[key]?["LastName"]?.synced == .text("Family\(index)"))
            #expect(try await store.writes(byRow: staged.rowIDs[index]).map(\.value) == [.text("Family\(index)")])
        }
        let nonces = try await store.pool.read { db in
            try Data.fetchAll(db, sql: "SELECT payload FROM staged_payload").map { Data($0.dropFirst().prefix(12)) }
        }
        #expect(nonces.count == 300)
        #expect(Set(nonces).count == 300)
        #expect(try !fileContains("Family299"))
    }

    @Test func aPagesWorkOverEveryCoreKeepsItsOrderAndThrowsWhatALaneMet() throws {
        struct Refused: Error {}
        #expect(try PageLanes.map(500, state: { 0 }) { index, seen in
            seen += 1
            return index * 2
        } == (0..<500).map { $0 * 2 })
        #expect(throws: Refused.self) { try PageLanes.map(500, state: {}) { index, _ in if index == 257 { throw Refused() } } }
    }
}
