import Foundation
import StagelinkEngine
import StagelinkPostgres
import Testing

@testable import StagelinkStore

/// `stagelink store copy`: a SQLite store moved into an empty PostgreSQL store with its payloads,
/// hashes, history and audit, ids kept and verified. Runs when `STAGELINK_TEST_POSTGRES` names a server.
@Suite(
    .enabled(
        if: StoreKind.serverURL != nil,
        "skipped: STAGELINK_TEST_POSTGRES is not set; start a server with: eval \"$(scripts/test-postgres.sh start)\""))
struct StoreCopyTests {
    /// A SQLite store with rows in every state a cycle leaves: staged, linked with links, field
    /// states and lineage, failed with an error, a child with its parent, jobs, events, a lease grant.
    func seeded() async throws -> (SQLiteStore, rows: [Int64], job: Job) {
        let store = try SQLiteStore.temporary("copy")
        let job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system, trigger: .scheduled)
        let odd: [UInt8] = [0x7B, 0xFF, 0xFE, 0xC3, 0x28, 0x7D]
        let records = [
            IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "3", lastUpdated: Date(timeIntervalSince1970: 1_790_000_000.125),
                payload: Array(#"{"resourceType":"Patient","id":"p1","name":[{"family":"Zoë \"Z\" 王"}],"birthDate":"1980-02-29"}"#.utf8)),
            IncomingRecord(system: .emr, resourceType: "EpisodeOfCare", sourceID: "e1", version: nil, lastUpdated: nil,
                payload: Array(#"{"resourceType":"EpisodeOfCare","id":"e1","patient":{"reference":"Patient/p1"}}"#.utf8)),
            IncomingRecord(system: .salesforce, resourceType: "Contact", sourceID: "003A", version: nil, lastUpdated: nil, payload: odd),
        ]
        let staged = try await store.stage(records, job: job.id, advancing: WatermarkAdvance(system: .emr, resourceType: "Patient", to: Date(timeIntervalSince1970: 2_000.5)))
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(job.id))
        let at = Date(timeIntervalSince1970: 1_790_000_100.75)
        let key = MappedRecordKey(object: "Contact", key: "p1")
        try await store.record([
            LinkOutcome(
                rowID: staged.rowIDs[0], actor: .job(job.id), at: at, status: .linked, attempt: .linked,
                links: [RecordLink(source: SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1"), targetType: "Contact", targetID: "003P1",
                    recordKey: "p1", linkedRowID: staged.rowIDs[0], linkedVersion: RecordVersion(version: "3", lastUpdated: nil), updatedAt: at)],
                fieldStates: [FieldStateChange(record: key, field: "LastName", state: FieldState(synced: .text("Zoë"), emr: .text("Zoë")))],
                writes: [FieldWrite(record: key, field: "LastName", value: .text("Zoë"), writtenTo: .salesforce, rowID: staged.rowIDs[0], jobID: job.id,
                    rule: .emr, actor: .job(job.id), at: at, reason: "the EMR owns LastName")]),
            LinkOutcome(
                rowID: staged.rowIDs[2], actor: .job(job.id), at: at, status: .failed, attempt: .failed,
                error: LinkError(code: "INVALID_FIELD", message: "No such column", fields: ["Gender__c"], remoteBody: #"[{"errorCode":"INVALID_FIELD"}]"#)),
        ])
        try await store.appendEvents([SyncEvent(at: at, jobID: job.id, level: .warning, message: "Salesforce answered 503")])
        _ = try await store.acquireLease(LeaseHolder(name: "run", host: "a", pid: 10), for: .seconds(60))
        return (store, staged.rowIDs, job)
    }

    @Test func aCopiedStoreHoldsTheSameRowsPayloadsHashesAndHistoryAndGoesOnAfterTheCopiedIDs() async throws {
        let (sqlite, rows, job) = try await seeded()
        let postgres = try await StoreKind.postgres()
        defer { postgres.close() }
        let reports = try await StoreCopy(from: sqlite, to: postgres).run()
        let counts = Dictionary(uniqueKeysWithValues: reports.map { ($0.table, $0.rows) })
        #expect(counts["staged_row"] == 3)
        #expect(counts["staged_payload"] == 3)
        #expect((counts["row_transition"] ?? 0) >= 2, "at least the transition of each recorded row")
        #expect(counts["link_attempt"] == 2)
        #expect(counts["record_link"] == 1)
        #expect(counts["row_parent"] == 1)
        #expect(counts["person_search"] == 3)
        #expect(counts["lease_grant"] == 1)
        #expect(counts["lease"] == nil, "the SQLite process's live lease stays behind")

        for id in rows {
            let original = try #require(try await sqlite.row(id: id))
            let copied = try #require(try await postgres.row(id: id))
            #expect(copied.payload == original.payload)
            #expect(copied.contentHash == original.contentHash)
            #expect(copied.status == original.status)
            #expect(copied.error == original.error)
            #expect(copied.lastUpdated == original.lastUpdated)
            #expect(copied.attemptCount == original.attemptCount)
        }
        let key = SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1")
        #expect(try await postgres.links(for: [key]) == (try await sqlite.links(for: [key])))
        #expect(try await postgres.lastWrite(record: MappedRecordKey(object: "Contact", key: "p1"), field: "LastName") != nil)
        #expect(try await postgres.fieldStates(for: [MappedRecordKey(object: "Contact", key: "p1")]) == (try await sqlite.fieldStates(for: [MappedRecordKey(object: "Contact", key: "p1")])))
        #expect(try await postgres.job(id: job.id)?.kind == .pull)
        #expect(try await postgres.watermark(system: .emr, resourceType: "Patient") == Date(timeIntervalSince1970: 2_000.5))
        #expect(try await postgres.recentEvents(limit: 5).map(\.message) == ["Salesforce answered 503"])
        // The person index finds the same rows (its words folded on the way: SQLite keeps none).
        let zoe = RowQuery(filter: RowFilter(text: "zoe 王 1980"))
        #expect(try await postgres.rows(zoe).map(\.id) == [rows[0], rows[1]])
        #expect(try await postgres.rows(zoe).map(\.id) == (try await sqlite.rows(zoe)).map(\.id))

        // New rows, jobs and grants continue after the copied ids.
        let next = try await postgres.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p2", version: "1", lastUpdated: nil, payload: Array("{}".utf8))], job: nil, advancing: nil)
        #expect(next.rowIDs[0] > rows.max()!)
        #expect(try await postgres.startJob(kind: .link, direction: .inbound, actor: .system, trigger: .manual).id > job.id)
        guard case .acquired(let lease, _) = try await postgres.acquireLease(LeaseHolder(name: "run", host: "b", pid: 20), for: .seconds(60)) else {
            Issue.record("the lease was not taken on the copy"); return
        }
        #expect(lease.epoch > 1, "the epoch continues after the copied grants")
        try await postgres.dropSchema()
    }

    @Test func aTargetThatHoldsRowsAndAStoreHalfwayThroughADataKeyRotationAreRefusedBeforeAnythingIsWritten() async throws {
        let (sqlite, _, _) = try await seeded()
        let postgres = try await StoreKind.postgres()
        defer { postgres.close() }
        _ = try await postgres.startJob(kind: .pull, direction: .inbound, actor: .system, trigger: .manual)
        await #expect(throws: StoreCopyError.targetNotEmpty(table: "job", rows: 1)) { try await StoreCopy(from: sqlite, to: postgres).run() }
        #expect(try await postgres.row(id: 1) == nil, "nothing was copied")

        let encrypted = try SQLiteStore.temporary("copy-sealed", encrypted: true)
        _ = try await encrypted.stage([IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: nil, payload: Array("{}".utf8))], job: nil, advancing: nil)
        struct Stopped: Error {}
        await #expect(throws: Stopped.self) { _ = try await encrypted.rotateDataKey(actor: .operator("alice"), batchSize: 1) { _ in throw Stopped() } }
        let empty = try await StoreKind.postgres()
        defer { empty.close() }
        await #expect(throws: StoreCopyError.rotating(encrypted.path)) { try await StoreCopy(from: encrypted, to: empty).run() }
        #expect(try await empty.encryptionStanding() == nil, "nothing was copied")
        try await postgres.dropSchema()
        try await empty.dropSchema()
    }

    /// An encrypted store moves as it is: its ciphertexts, keyed hashes, blind tokens and wrapped
    /// data key, so that the same key file opens it on PostgreSQL and nothing is decrypted on the way.
    @Test func anEncryptedStoreIsCopiedAsItIsAndOpensOnPostgreSQLWithItsKeyOnly() async throws {
        let sqlite = try SQLiteStore.temporary("copy-encrypted", encrypted: true)
        let key = try #require(sqlite.key)
        let people = try await sqlite.stage(PersonSearchTests.people, job: nil, advancing: nil).rowIDs
        _ = try await sqlite.claimRows(ClaimRequest(rowIDs: [people[0]]), limit: 1, actor: .job(1))
        let record = MappedRecordKey(object: "Contact", key: "p1")
        let at = Date(timeIntervalSince1970: 1_790_000_100)
        try await sqlite.record([
            LinkOutcome(
                rowID: people[0], actor: .job(1), at: at, status: .held, attempt: .held,
                fieldStates: [FieldStateChange(record: record, field: "LastName", state: FieldState(synced: .text("Müller"), emr: .text("Müller")))],
                writes: [FieldWrite(record: record, field: "LastName", value: .text("Müller"), writtenTo: .salesforce, rowID: people[0], jobID: 1,
                    rule: .emr, actor: .job(1), at: at, reason: "the EMR owns LastName")],
                conflicts: [ConflictRecord(record: record, field: "Phone", rowID: people[0], emrValue: .text("+1 555 0142"),
                    salesforceValue: .text("+1 555 0199"), rule: .hold, winner: nil)])
        ])
        let target = try await StoreKind.postgres()
        defer { target.close() }
        let reports = try await StoreCopy(from: sqlite, to: target).run()
        #expect(reports.first { $0.table == "store_key" }?.rows == 1)

        let location = try PostgresLocation(parsing: try #require(StoreKind.serverURL))
        let refused = await #expect(throws: StoreError.self) { _ = try await PostgresStore(location: location, schema: target.schema) }
        #expect(refused?.description.contains("is encrypted and no key was given") == true)
        let postgres = try await PostgresStore(location: location, schema: target.schema, key: try StoreKey.load(file: key.file))
        defer { postgres.close() }
        #expect(postgres.isEncrypted)
        #expect(try await postgres.encryptionStanding()?.keyID == key.id)
        #expect(try await postgres.keyEvents(limit: 10) == (try await sqlite.keyEvents(limit: 10)))
        for id in people {
            let copied = try #require(try await postgres.row(id: id))
            let original = try #require(try await sqlite.row(id: id))
            #expect(copied.payload == original.payload)
            #expect(copied.contentHash == original.contentHash)
            #expect(copied.contentHash.hasPrefix("hmac-sha256:"))
        }
        for text in ["muller", "Zoe Muller", "mrn100001", "siobhan", "王", "1984-02-29"] {
            let filter = RowFilter(text: text)
            #expect(
                try await postgres.rows(RowQuery(filter: filter, limit: 10)).map(\.id) == (try await sqlite.rows(RowQuery(filter: filter, limit: 10)).map(\.id)),
                "\(text)")
        }
        #expect(try await postgres.rows(RowQuery(filter: RowFilter(text: "muller"), limit: 10)).map(\.sourceID) == ["p1", "e1"])
        #expect(try await postgres.conflicts(ConflictQuery()).map(\.emrValue) == [.text("+1 555 0142")])
        #expect(try await postgres.fieldStates(for: [record])[record]?["LastName"]?.synced == .text("Müller"))
        #expect(try await postgres.writes(byRow: people[0]).map(\.value) == [.text("Müller")])
        // The keyed hashes are the same data key's: the same content staged again is a duplicate.
        let again = try await postgres.stage([PersonSearchTests.people[1]], job: nil, advancing: nil)
        #expect(again.deduplicated == 1)
        try await postgres.dropSchema()
    }
}
