import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkPostgres
import Testing

@testable import StagelinkStore

/// An encrypted store of any kind: the roles, and its key.
typealias EncryptedConformingStore = ConformingStore & EncryptedStore

/// Encryption at rest (issue 21) on every store kind, the same bodies on SQLite and PostgreSQL
/// (issue 20: "the same guarantees"): with a key, the database holds none of the names, values or
/// plain hashes it was given, while reads, deduplication, conflicts, lineage and the person search
/// work as in a clear store; without the key, or with another, the store does not open.
struct EncryptedStoreConformanceTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("encrypted-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func keyFile(_ name: String = "store.key") -> String { folder.appendingPathComponent(name).path }

    /// One store of a kind, opened as one process does, and the means to look at its database.
    struct Place: Sendable {
        var kind: StoreKind
        /// The SQLite file, or the PostgreSQL schema.
        var name: String

        /// The store opened again, as another process would, with `key` or none.
        func open(key: StoreKey?) async throws -> any EncryptedConformingStore {
            switch kind {
            case .sqlite: try SQLiteStore(path: name, key: key)
            case .postgres:
                try await PostgresStore(location: PostgresLocation(parsing: try #require(StoreKind.serverURL)), schema: name, key: key)
            }
        }

        /// Which of `secrets` the database holds anywhere: every byte of the SQLite files (database,
        /// write-ahead log, shared memory), as the proof harness greps them; every text and bytea
        /// column of every table of the PostgreSQL schema.
        func holding(_ secrets: [String]) async throws -> Set<String> {
            switch kind {
            case .sqlite:
                let bytes = Data(["", "-wal", "-shm"].flatMap { FileManager.default.contents(atPath: name + $0).map { [UInt8]($0) } ?? [] })
                return Set(secrets.filter { bytes.range(of: Data($0.utf8)) != nil })
            case .postgres:
                return try await PostgresStoreTests().direct(name) { connection in
                    let logger = Logger(label: "test")
                    var columns: [(String, String, String)] = []
                    for try await column in try await connection.query(
                        """
                        SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
                        WHERE table_schema = \(name) AND data_type IN ('text', 'bytea', 'character varying')
                        """, logger: logger
                    ).decode((String, String, String).self) { columns.append(column) }
                    #expect(columns.count > 40, "the columns searched: \(columns.count)")
                    var found = Set<String>()
                    for (table, column, type) in columns {
                        // Names from the catalogue of the test's own schema; the secrets are bound.
                        let holds = type == "bytea" ? "position(convert_to(secret, 'UTF8') in \"\(column)\") > 0" : "strpos(\"\(column)\"::text, secret) > 0"
                        let query = PostgresQuery(
                            unsafeSQL: "SELECT secret FROM unnest($1::text[]) AS secret WHERE EXISTS (SELECT 1 FROM \"\(table)\" WHERE \(holds))",
                            binds: { var binds = PostgresBindings(); binds.append(secrets); return binds }())
                        for try await secret in try await connection.query(query, logger: logger).decode(String.self) { found.insert(secret) }
                    }
                    return found
                }
            }
        }
    }

    /// A new, empty store of `kind` opened with `key`, and its place.
    func encrypted(_ kind: StoreKind, key: StoreKey?) async throws -> (any EncryptedConformingStore, Place) {
        let place: Place
        switch kind {
        case .sqlite: place = Place(kind: kind, name: folder.appendingPathComponent("store-\(UUID().uuidString).sqlite").path)
        case .postgres: place = Place(kind: kind, name: "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "_"))
        }
        return (try await place.open(key: key), place)
    }

    static let secretName = "Zoëlle Quarterfield"
    static let secretPhone = "+1 555 0142"

    static func patient(_ id: String, family: String = secretName, version: String = "1") -> IncomingRecord {
        IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: id, version: version, lastUpdated: Date(timeIntervalSince1970: 1_790_000_000),
            payload: Array(#"{"resourceType":"Patient","id":"\#(id)","name":[{"family":"\#(family)"}],"telecom":[{"value":"\#(secretPhone)"}]}"#.utf8))
    }

    static let record = MappedRecordKey(object: "Contact", key: "q1")

    /// Stages a patient and links it with a field state, lineage and a conflict that all carry the secrets.
    func fill(_ store: any EncryptedConformingStore) async throws -> Int64 {
        let staged = try await store.stage([Self.patient("q1")], job: nil, advancing: nil)
        let rowID = try #require(staged.rowIDs.first)
        let claimed = try await store.claimRows(ClaimRequest(rowIDs: [rowID]), limit: 10, actor: .job(1))
        #expect(claimed.map(\.payload) == [Self.patient("q1").payload], "a claim hands the linker the payload opened")
        let at = Date(timeIntervalSince1970: 1_790_000_100)
        try await store.record([
            LinkOutcome(
                rowID: rowID, actor: .job(1), at: at, status: .held, attempt: .held,
                fieldStates: [
                    FieldStateChange(record: Self.record, field: "LastName", state: FieldState(synced: .text(Self.secretName), emr: .text(Self.secretName)))
                ],
                writes: [
                    FieldWrite(
                        record: Self.record, field: "LastName", value: .text(Self.secretName), writtenTo: .salesforce, rowID: rowID, jobID: 1, rule: .emr,
                        actor: .job(1), at: at, reason: "the EMR owns LastName")
                ],
                conflicts: [
                    ConflictRecord(
                        record: Self.record, field: "Phone", rowID: rowID, emrValue: .text(Self.secretPhone), salesforceValue: .text("+1 555 0199"),
                        rule: .hold, winner: nil)
                ])
        ])
        return rowID
    }

    /// Everything the seeded people and the filled record would leave in a database kept in the
    /// clear: names as written and folded, identifiers, birth dates, field values, the plain hash.
    static var secrets: [String] {
        BlindPersonSearchTests.secrets + [secretName, "Quarterfield", "quarterfield", secretPhone, "555 0199", patient("q1").contentHash]
    }

    @Test(arguments: StoreKind.available)
    func anEncryptedStoreHoldsNoNameValueOrPlainHashAndReadsBackUnchanged(_ kind: StoreKind) async throws {
        let (store, place) = try await encrypted(kind, key: try StoreKey.generate(at: keyFile()))
        let rowID = try await fill(store)
        _ = try await store.stage(PersonSearchTests.people, job: nil, advancing: nil)
        #expect(store.isEncrypted)

        // What the console, `show` and `why` read is what was given.
        let plainHash = Self.patient("q1").contentHash
        let row = try #require(try await store.row(id: rowID))
        #expect(row.payload == Self.patient("q1").payload)
        #expect(row.contentHash.hasPrefix("hmac-sha256:"))
        #expect(try await store.row(of: SourceKey(system: .emr, resourceType: "Patient", sourceID: "q1"), contentHash: plainHash)?.id == rowID)
        #expect(try await store.fieldStates(for: [Self.record])[Self.record]?["LastName"]?.synced == .text(Self.secretName))
        #expect(try await store.lastWrite(record: Self.record, field: "LastName")?.value == .text(Self.secretName))
        #expect(try await store.writes(byRow: rowID).map(\.value) == [.text(Self.secretName)])
        let conflict = try #require(try await store.conflicts(ConflictQuery()).first)
        #expect(conflict.emrValue == .text(Self.secretPhone))
        #expect(conflict.salesforceValue == .text("+1 555 0199"))
        #expect(try await store.history(ofRow: rowID).map(\.to) == [.staged, .held])

        #expect(try await place.holding(Self.secrets) == [], "the \(kind.testDescription) store holds them in the clear")
        // The check can fail: the same seeds in a store kept in the clear are found.
        let (clear, clearPlace) = try await encrypted(kind, key: nil)
        _ = try await fill(clear)
        _ = try await clear.stage(PersonSearchTests.people, job: nil, advancing: nil)
        #expect(try await clearPlace.holding([Self.secretName, "Müller", "MRN100001", plainHash]).count == 4)
        try await Self.drop(store, clear)
    }

    /// The searches of a clear store of the same kind find the same rows in an encrypted one.
    @Test(arguments: StoreKind.available)
    func theSearchesOfAClearStoreFindTheSameRowsWithTheKey(_ kind: StoreKind) async throws {
        let (store, _) = try await encrypted(kind, key: try StoreKey.generate(at: keyFile()))
        let (clear, _) = try await encrypted(kind, key: nil)
        let ids = try await store.stage(PersonSearchTests.people, job: nil, advancing: nil).rowIDs
        _ = try await clear.stage(PersonSearchTests.people, job: nil, advancing: nil)
        func found(_ text: String, in store: any EncryptedConformingStore, inverted: Bool = false) async throws -> [String] {
            try await store.rows(RowQuery(filter: RowFilter(text: text, inverted: inverted), limit: 100)).map(\.sourceID)
        }
        let expected: [(String, [String])] = [
            ("muller", ["p1", "e1"]), ("MÜLLER", ["p1", "e1"]), ("Zoe Muller", ["p1", "e1"]), ("zoe pena", []), ("peña", ["p2"]), ("王", ["p3"]),
            ("siobhan", ["0035g00000AbCdE", "a0B5g00000XyZ12"]), ("o'brien", ["0035g00000AbCdE", "a0B5g00000XyZ12"]), ("mrn100001", ["p1", "e1"]),
            ("1984-02-29", ["p1", "e1"]), ("p9", ["0035g00000AbCdE", "a0B5g00000XyZ12"]), ("mül", []), (String(ids[1]), ["p2"]),
        ]
        for (text, rows) in expected {
            #expect(try await found(text, in: store) == rows, "\(text) in the encrypted \(kind.testDescription) store")
            #expect(try await found(text, in: clear) == rows, "\(text) in the clear \(kind.testDescription) store")
        }
        #expect(try await store.countRows(RowFilter(text: "muller")) == 2)
        #expect(try await found("muller", in: store, inverted: true) == ["p2", "p3", "0035g00000AbCdE", "a0B5g00000XyZ12"])
        // Lists show no name read from a blind index.
        #expect(try await store.rows(RowQuery(limit: 10)).allSatisfy { $0.personName == nil })
        try await Self.drop(store, clear)
    }

    @Test(arguments: StoreKind.available)
    func theSameContentIsDeduplicatedAcrossRestartsAndAConflictSeenTwiceIsOne(_ kind: StoreKind) async throws {
        let (first, place) = try await encrypted(kind, key: try StoreKey.generate(at: keyFile()))
        _ = try await fill(first)
        let reopened = try await place.open(key: try StoreKey.load(file: keyFile()))
        let again = try await reopened.stage([Self.patient("q1"), Self.patient("q1", family: "Other", version: "2")], job: nil, advancing: nil)
        #expect(again.deduplicated == 1)
        #expect(again.staged == 1)
        _ = try await reopened.claimRows(ClaimRequest(rowIDs: again.rowIDs), limit: 10, actor: .job(2))
        try await reopened.record([
            LinkOutcome(
                rowID: again.rowIDs[0], actor: .job(2), at: Date(), status: .held, attempt: .held,
                conflicts: [
                    ConflictRecord(
                        record: Self.record, field: "Phone", rowID: again.rowIDs[0], emrValue: .text(Self.secretPhone),
                        salesforceValue: .text("+1 555 0199"), rule: .hold, winner: nil)
                ])
        ])
        #expect(try await reopened.conflicts(ConflictQuery()).count == 1)
        try await Self.drop(first)
    }

    @Test(arguments: StoreKind.available)
    func anEncryptedStoreWithoutItsKeyOrWithAnotherIsRefusedNamingTheKeyFile(_ kind: StoreKind) async throws {
        let (store, place) = try await encrypted(kind, key: try StoreKey.generate(at: keyFile()))
        _ = try await fill(store)
        let withoutKey = await #expect(throws: StoreError.self) { _ = try await place.open(key: nil) }
        #expect(withoutKey?.description.contains("is encrypted and no key was given") == true)
        #expect(withoutKey?.description.contains("encryption: { keyFile: PATH }") == true)
        let other = try StoreKey.generate(at: keyFile("other.key"))
        let wrong = await #expect(throws: StoreError.self) { _ = try await place.open(key: other) }
        #expect(wrong?.description.contains(keyFile("other.key")) == true)
        #expect(wrong?.description.contains("does not open the store") == true)
        #expect(wrong?.description.contains(other.id) == true)
        try await Self.drop(store)
    }

    /// A process that opened the store without a key before another encrypted it may not write
    /// clear values into it.
    @Test(arguments: StoreKind.available)
    func aProcessWithoutTheKeyMayNotWriteIntoAStoreEncryptedSinceItOpened(_ kind: StoreKind) async throws {
        let (clear, place) = try await encrypted(kind, key: nil)
        let sealed = try await place.open(key: try StoreKey.generate(at: keyFile()))
        #expect(sealed.isEncrypted)
        #expect(!clear.isEncrypted)
        let refused = await #expect(throws: StoreError.self) { _ = try await clear.stage([Self.patient("q1")], job: nil, advancing: nil) }
        #expect(refused?.description.contains("is encrypted and no key was given") == true)
        #expect(try await sealed.countRows(RowFilter()) == 0)
        _ = try await fill(sealed)
        try await Self.drop(sealed)
    }

    @Test(arguments: StoreKind.available)
    func aRekeyRewrapsTheDataKeyWhileAWriterGoesOnAndOnlyTheNewKeyOpensTheStoreAfter(_ kind: StoreKind) async throws {
        let oldKey = try StoreKey.generate(at: keyFile())
        let (service, place) = try await encrypted(kind, key: oldKey)
        let rowID = try await fill(service)
        let newKey = try StoreKey.generate(at: keyFile("new.key"))
        let operatorsProcess = try await place.open(key: oldKey)
        try await operatorsProcess.rewrapDataKey(with: newKey, actor: .operator("alice"))

        // The running writer keeps its data key and goes on.
        let next = try await service.stage([Self.patient("q2")], job: nil, advancing: nil)
        #expect(next.staged == 1)
        let reopened = try await place.open(key: newKey)
        #expect(try await reopened.row(id: rowID)?.payload == Self.patient("q1").payload)
        #expect(try await reopened.row(id: next.rowIDs[0])?.payload == Self.patient("q2").payload)
        await #expect(throws: StoreError.self) { _ = try await place.open(key: oldKey) }
        let standing = try #require(try await reopened.encryptionStanding())
        #expect(standing.keyID == newKey.id)
        #expect(standing.rewrappedAt >= standing.createdAt)
        let events = try await reopened.keyEvents(limit: 10)
        #expect(events.map(\.event) == ["rewrapped", "encrypted"])
        #expect(events.first?.actor == .operator("alice"))
        #expect(events.first?.previousKeyID == oldKey.id)
        try await Self.drop(service)
    }

    /// The retention purge rewrites the lineage it empties, sealed again: it still opens.
    @Test(arguments: StoreKind.available)
    func aPurgeOfAnEncryptedStoreKeepsItsLineageReadable(_ kind: StoreKind) async throws {
        let (store, place) = try await encrypted(kind, key: try StoreKey.generate(at: keyFile()))
        let rowID = try await fill(store)
        _ = try await store.setStatus(rowIDs: [rowID], to: .linked, from: [.held], actor: .system, note: "test")
        let purge = try await store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .operator("alice"), dryRun: false)
        #expect(purge.rows == 1)
        let reopened = try await place.open(key: try StoreKey.load(file: keyFile()))
        let writes = try await reopened.writes(byRow: rowID)
        #expect(writes.map(\.field) == ["LastName"])
        #expect(writes.first?.value != .text(Self.secretName))
        #expect(try await reopened.row(id: rowID)?.payload == [])
        try await Self.drop(store)
    }

    /// Unlike a SQLite file, a PostgreSQL store that holds rows in the clear is not sealed in place
    /// when a key is first given: it is refused, and stays as it was.
    @Test(.enabled(if: StoreKind.serverURL != nil, "PostgreSQL only: a SQLite store is sealed in place (StoreEncryptionTests)"))
    func aPostgreSQLStoreHoldingClearRowsIsRefusedAKeyAndStaysAsItWas() async throws {
        let (clear, place) = try await encrypted(.postgres, key: nil)
        let rowID = try await fill(clear)
        let refused = await #expect(throws: PostgresStoreError.self) { _ = try await place.open(key: try StoreKey.generate(at: keyFile())) }
        #expect(refused?.description.contains("holds rows in the clear") == true)
        #expect(refused?.description.contains("Nothing was changed") == true)
        #expect(try await clear.encryptionStanding() == nil)
        #expect(try await clear.row(id: rowID)?.payload == Self.patient("q1").payload)
        _ = try await clear.stage([Self.patient("q2")], job: nil, advancing: nil)
        try await Self.drop(clear)
    }

    /// Drops the PostgreSQL schemas the stores were made in (a SQLite file stays in the temporary folder).
    static func drop(_ stores: any EncryptedConformingStore...) async throws {
        for store in stores {
            guard let server = store as? PostgresStore else { continue }
            try await server.dropSchema()
            server.close()
        }
    }
}
