import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkPostgres
import Testing

@testable import StagelinkStore

/// What the conformance bodies use of a store: every role (``SyncStore``) and monitoring's
/// (``OperationsStore``), which both stores implement.
protocol ConformingStore: SyncStore, OperationsStore {}

extension SQLiteStore: ConformingStore {}
extension PostgresStore: ConformingStore {}

/// The stores the conformance suite runs its bodies on, as GRDB runs its tests on several database
/// kinds: SQLite always, PostgreSQL when `STAGELINK_TEST_POSTGRES` names a server
/// (`eval "$(scripts/test-postgres.sh start)"` starts one on loopback).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static var serverURL: String? { ProcessInfo.processInfo.environment["STAGELINK_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 } }

    /// SQLite, and PostgreSQL when a server is named.
    static var available: [StoreKind] { serverURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    var testDescription: String { self == .sqlite ? "SQLite" : "PostgreSQL" }

    /// A new, empty store of this kind: a temporary file, or a schema of its own on the server.
    func open() async throws -> any ConformingStore {
        switch self {
        case .sqlite: try SQLiteStore.temporary("conformance")
        case .postgres: try await Self.postgres()
        }
    }

    /// Two handles on one new store, as two processes (or two workers) hold: the same file, or the same schema.
    func openTwo() async throws -> (any ConformingStore, any ConformingStore) {
        switch self {
        case .sqlite:
            let first = try SQLiteStore.temporary("conformance")
            return (first, try SQLiteStore(path: first.path))
        case .postgres:
            let first = try await Self.postgres()
            return (first, try await Self.postgres(schema: first.schema))
        }
    }

    static func postgres(schema: String = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "_")) async throws -> PostgresStore {
        let url = try #require(serverURL, "STAGELINK_TEST_POSTGRES is not set")
        return try await PostgresStore(location: PostgresLocation(parsing: url), schema: schema)
    }
}

/// The store roles, specified once and run on every store kind: the same bodies on SQLite and on
/// PostgreSQL, so that the two stores keep the same guarantees.
struct StoreConformanceTests {
    func record(_ id: String, _ text: String, version: String? = "1", at seconds: Double = 1_790_000_000, type: String = "Patient") -> IncomingRecord {
        IncomingRecord(system: .emr, resourceType: type, sourceID: id, version: version, lastUpdated: Date(timeIntervalSince1970: seconds), payload: Array(text.utf8))
    }

    // MARK: - Staging

    @Test(arguments: StoreKind.available)
    func aPayloadIsStoredByteExactWithItsMetadata(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let odd = "{ \"resourceType\" :\"Patient\",\n\t\"id\":\"p1\",  \"name\":[{\"family\":\"王\",\"given\":[\"Zoë\"]}] , \"a\":1.50 }\r\n"
        let job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system, trigger: .scheduled)
        let before = Date()
        let result = try await store.stage([record("p1", odd, version: "7", at: 1_790_000_123.5)], job: job.id, advancing: nil)
        let row = try #require(try await store.row(id: result.rowIDs[0]))
        #expect(row.payload == Array(odd.utf8))
        #expect(row.system == .emr)
        #expect(row.resourceType == "Patient")
        #expect(row.sourceID == "p1")
        #expect(row.version == "7")
        #expect(row.lastUpdated == Date(timeIntervalSince1970: 1_790_000_123.5))
        #expect(row.contentHash == ContentHash.sha256Hex(Array(odd.utf8)))
        #expect(row.contentHash.count == 64)
        #expect(row.jobID == job.id)
        #expect(row.receivedAt >= before.addingTimeInterval(-1))
        #expect(row.status == .staged)
        #expect(row.kind == .record)
    }

    @Test(arguments: StoreKind.available)
    func bytesThatAreNotUTF8AndAbsentVersionsAreKeptAsTheyCame(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let bytes: [UInt8] = [0x7B, 0x00, 0xFF, 0xFE, 0xC3, 0x28, 0x7D]
        let incoming = IncomingRecord(system: .salesforce, resourceType: "Contact", sourceID: "003A", version: nil, lastUpdated: nil, payload: bytes)
        let result = try await store.stage([incoming], job: nil, advancing: nil)
        let key = SourceKey(system: .salesforce, resourceType: "Contact", sourceID: "003A")
        let row = try #require(try await store.row(of: key, contentHash: incoming.contentHash))
        #expect(row.id == result.rowIDs.first)
        #expect(row.payload == bytes)
        #expect(row.version == nil)
        #expect(row.lastUpdated == nil)
        #expect(row.jobID == nil)
        #expect(row.system == .salesforce)
    }

    @Test(arguments: StoreKind.available)
    func theNewestStagedStampOfEachRecordIsWhatAnOverlapListingIsComparedWith(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        _ = try await store.stage(
            [
                record("p1", #"{"v":1}"#, at: 1_790_000_000.25), record("p1", #"{"v":2}"#, version: "2", at: 1_790_000_060.5),
                record("p2", #"{"v":1}"#, at: 1_790_000_030), record("p3", #"{"v":1}"#, type: "EpisodeOfCare"),
                IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p4", version: nil, lastUpdated: nil, payload: Array("{}".utf8)),
            ], job: nil, advancing: nil)
        // Over 500 ids at once, the most the SQLite store binds in one statement.
        let asked = ["p1", "p2", "p3", "p4", "p5", "O'Brien); DROP TABLE staged_row; --"] + (0..<600).map { "x\($0)" }
        let newest = try await store.newestStaged(system: .emr, resourceType: "Patient", sourceIDs: asked)
        #expect(newest == ["p1": Date(timeIntervalSince1970: 1_790_000_060.5), "p2": Date(timeIntervalSince1970: 1_790_000_030)])
        #expect(try await store.newestStaged(system: .salesforce, resourceType: "Patient", sourceIDs: ["p1"]).isEmpty)
        #expect(try await store.newestStaged(system: .emr, resourceType: "Patient", sourceIDs: []).isEmpty)
        #expect(try await store.countRows(.all) == 5)
    }

    @Test(arguments: StoreKind.available)
    func aNameHoldingANULCharacterIsStagedWithItsPayloadIntact(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let payload = #"{"resourceType":"Patient","id":"n1","name":[{"family":"Null\u0000Byte","given":["Zoë"]}],"birthDate":"1990-01-01"}"#
        let staged = try await store.stage([record("n1", payload), record("n2", "{}")], job: nil, advancing: nil)
        #expect(staged.staged == 2)
        #expect(try await store.row(id: staged.rowIDs[0])?.payload == Array(payload.utf8))
    }

    @Test(arguments: StoreKind.available)
    func theSameContentStagedTwiceIsOneRowAndANewVersionIsAnother(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let first = try await store.stage([record("p1", #"{"v":1}"#), record("p2", #"{"v":1}"#)], job: nil, advancing: nil)
        let again = try await store.stage([record("p1", #"{"v":1}"#), record("p1", #"{"v":2}"#, version: "2")], job: nil, advancing: nil)
        #expect(first.staged == 2)
        #expect(again.staged == 1)
        #expect(again.deduplicated == 1)
        #expect(again.rowIDs.count == 1)
        #expect(try await store.row(id: again.rowIDs[0])?.version == "2")
        #expect(Set(first.rowIDs + again.rowIDs).count == 3)
    }

    @Test(arguments: StoreKind.available)
    func aRecordTwiceInOnePageIsStagedOnceAndRowIDsFollowThePagesOrder(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let page = [record("b", "{}"), record("a", "{}"), record("b", "{}"), record("c", #"{"c":1}"#)]
        let result = try await store.stage(page, job: nil, advancing: nil)
        #expect(result.staged == 3)
        #expect(result.deduplicated == 1)
        var sourceIDs: [String] = []
        for id in result.rowIDs { sourceIDs.append(try #require(try await store.row(id: id)).sourceID) }
        #expect(sourceIDs == ["b", "a", "c"])
        #expect(result.rowIDs == result.rowIDs.sorted(), "a later record of the page is a newer row")
    }

    @Test(arguments: StoreKind.available)
    func theWatermarkMovesWithItsPageAndNeverBackwards(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let advance = WatermarkAdvance(system: .emr, resourceType: "Patient", to: Date(timeIntervalSince1970: 2_000))
        _ = try await store.stage([record("p1", "{}")], job: nil, advancing: advance)
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Date(timeIntervalSince1970: 2_000))
        _ = try await store.stage([], job: nil, advancing: WatermarkAdvance(system: .emr, resourceType: "Patient", to: Date(timeIntervalSince1970: 1_000)))
        #expect(try await store.watermark(system: .emr, resourceType: "Patient") == Date(timeIntervalSince1970: 2_000))
        #expect(try await store.watermark(system: .salesforce, resourceType: "Patient") == nil)
    }

    @Test(arguments: StoreKind.available)
    func aBulkExportInFlightIsKeptUntilItFinishesAndThenMovesTheWatermarks(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        #expect(try await store.bulkExport(system: .emr) == nil)
        var progress = BulkExportProgress(
            system: .emr, statusURL: "https://emr.example.org/fhir/$export-poll/1", since: Date(timeIntervalSince1970: 1_000),
            kickedOffAt: Date(timeIntervalSince1970: 1_500), stagedFiles: [])
        try await store.saveBulkExport(progress)
        progress.stagedFiles = ["https://emr.example.org/files/Patient-1.ndjson"]
        try await store.saveBulkExport(progress)
        #expect(try await store.bulkExport(system: .emr) == progress)
        try await store.finishBulkExport(
            system: .emr, job: nil,
            advancing: [
                WatermarkAdvance(system: .emr, resourceType: "Patient", to: Date(timeIntervalSince1970: 3_000)),
                WatermarkAdvance(system: .emr, resourceType: "Encounter", to: Date(timeIntervalSince1970: 3_000)),
            ])
        #expect(try await store.bulkExport(system: .emr) == nil)
        #expect(try await store.watermark(system: .emr, resourceType: "Encounter") == Date(timeIntervalSince1970: 3_000))
    }

    // MARK: - Jobs

    @Test(arguments: StoreKind.available)
    func aJobKeepsItsCountsProgressUsageAndWatermarks(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        var job = try await store.startJob(kind: .link, direction: .inbound, actor: .operator("dana"), trigger: .manual)
        #expect(job.status == .running)
        job.progress = Job.Progress(phase: "linking Patient", done: 400, total: 1_000, updatedAt: Date(timeIntervalSince1970: 1_790_000_000.25))
        job.counts = Job.Counts(pulled: 1, staged: 2, deduplicated: 3, linked: 390, failed: 4, superseded: 5, conflicts: 6, withheld: 7)
        job.apiCalls = 12
        job.apiUsage = APIUsage(used: 1_200, limit: 15_000)
        job.watermarkBefore = Date(timeIntervalSince1970: 100)
        job.watermarkAfter = Date(timeIntervalSince1970: 200.5)
        job.message = "l'été \u{1F600}"
        job.exportErrors = ["Patient/9: invalid"]
        try await store.updateJob(job)
        let seen = try #require(try await store.job(id: job.id))
        #expect(seen.counts == job.counts)
        #expect(seen.progress == job.progress)
        #expect(seen.apiCalls == 12)
        #expect(seen.apiUsage == job.apiUsage)
        #expect(seen.watermarkBefore == job.watermarkBefore)
        #expect(seen.watermarkAfter == job.watermarkAfter)
        #expect(seen.message == job.message)
        #expect(seen.exportErrors == job.exportErrors)
        #expect(seen.kind == .link)
        #expect(seen.direction == .inbound)
        #expect(seen.actor == .operator("dana"))
        #expect(seen.trigger == .manual)
        #expect(seen.status == .running)
        #expect(abs(seen.startedAt.timeIntervalSince(job.startedAt)) < 0.001)
        #expect(try await store.job(id: job.id + 1_000) == nil)
    }

    @Test(arguments: StoreKind.available)
    func jobsArePagedNewestFirstAndTheLastIsFoundBySelection(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let pull = try await store.startJob(kind: .pull, direction: .inbound, actor: .system, trigger: .scheduled)
        var link = try await store.startJob(kind: .link, direction: .inbound, actor: .system, trigger: .scheduled)
        let push = try await store.startJob(kind: .push, direction: .outbound, actor: .operator("ana"), trigger: .manual)
        #expect(try await store.jobs(before: nil, limit: 2).map(\.id) == [push.id, link.id])
        #expect(try await store.jobs(before: link.id, limit: 10).map(\.id) == [pull.id])
        link.status = .succeeded
        link.finishedAt = Date()
        try await store.updateJob(link)
        #expect(try await store.lastJob(JobSelection(statuses: JobSelection.finished))?.id == link.id)
        #expect(try await store.lastJob(JobSelection(direction: .inbound, statuses: [.running]))?.id == pull.id)
        #expect(try await store.lastJob(JobSelection(kinds: [.push], triggers: [.manual], statuses: [.running]))?.id == push.id)
        #expect(try await store.lastJob(JobSelection(kinds: [.push], triggers: [.scheduled], statuses: [.running])) == nil)
        #expect(try await store.interruptRunningJobs(message: "the service stopped") == 2)
        #expect(try await store.job(id: pull.id)?.status == .interrupted)
        #expect(try await store.job(id: pull.id)?.message == "the service stopped")
        #expect(try await store.job(id: link.id)?.status == .succeeded)
    }

    // MARK: - Linking

    @Test(arguments: StoreKind.available)
    func aClaimKeepsOtherLinkersOffTheRows(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage((1...3).map { record("p\($0)", "{}") }, job: nil, advancing: nil)
        let mine = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        #expect(mine.map(\.id) == staged.rowIDs)
        #expect(try await store.claimRows(ClaimRequest(), limit: 10, actor: .operator("alice")).isEmpty)
        try await store.releaseClaims(rowIDs: [staged.rowIDs[1]], actor: .job(1))
        #expect(try await store.claimRows(ClaimRequest(), limit: 10, actor: .operator("alice")).map(\.id) == [staged.rowIDs[1]])
    }

    @Test(arguments: StoreKind.available)
    func anOutcomeSupersedesTheStagedRowsItNamesThatCameBeforeItAndAreNotClaimed(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        func contact(_ id: String, _ text: String) -> IncomingRecord {
            IncomingRecord(system: .salesforce, resourceType: "Contact", sourceID: id, version: nil, lastUpdated: nil, payload: Array(text.utf8))
        }
        let patients = try await store.stage([record("a", "{}"), record("b", "{}")], job: nil, advancing: nil)
        let echoes = try await store.stage(
            [contact("c1", #"{"v":1}"#), contact("c1", #"{"v":2}"#), contact("c2", "{}"), contact("c3", "{}"), contact("untouched", "{}")], job: nil, advancing: nil)
        // c3's row is claimed by another linker: a supersession leaves it to that linker.
        #expect(try await store.claimRows(ClaimRequest(rowIDs: [echoes.rowIDs[3]]), limit: 1, actor: .job(9)).count == 1)
        let first = Date()
        try await Task.sleep(for: .milliseconds(20))
        // Received after the first outcome: not superseded by it.
        let late = try await store.stage([contact("c4", "{}")], job: nil, advancing: nil)
        let second = Date().addingTimeInterval(60)
        let key = { (id: String) in SourceKey(system: .salesforce, resourceType: "Contact", sourceID: id) }
        try await store.record([
            LinkOutcome(
                rowID: patients.rowIDs[0], actor: .job(1), at: first, status: .linked, attempt: .linked,
                supersedes: [key("c1"), key("c2"), key("c3"), key("c4"), key("never-staged")]),
            LinkOutcome(rowID: patients.rowIDs[1], actor: .job(2), at: second, status: .linked, attempt: .linked, supersedes: [key("c2")]),
        ])
        for id in echoes.rowIDs[0...2] {
            #expect(try await store.row(id: id)?.status == .superseded)
            // Named by both outcomes, c2's row is the first's, as when the outcomes are recorded one by one.
            let transition = try #require(try await store.history(ofRow: id).last)
            #expect(transition.from == .staged && transition.to == .superseded)
            #expect(transition.actor == .job(1))
            #expect(abs(transition.at.timeIntervalSince(first)) < 0.001)
        }
        #expect(try await store.row(id: echoes.rowIDs[3])?.status == .staged, "claimed by another linker")
        #expect(try await store.row(id: echoes.rowIDs[4])?.status == .staged, "named by no outcome")
        #expect(try await store.row(id: late.rowIDs[0])?.status == .staged, "received after the outcome that named it")
        #expect(try await store.history(ofRow: late.rowIDs[0]).map(\.to) == [.staged])
    }

    /// Of two live links to one counterpart (a merge's relink moves a link to the survivor while an
    /// older one, such as an episode's, may still name it), the newest is the counterpart's,
    /// though the older was recorded first.
    @Test(arguments: StoreKind.available)
    func ofTwoLiveLinksToOneCounterpartTheNewestIsFound(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("p1", "{}"), record("p2", "{}")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        func link(_ id: String, row: Int64, at seconds: Double) -> RecordLink {
            let at = Date(timeIntervalSince1970: seconds)
            return RecordLink(
                source: SourceKey(system: .emr, resourceType: "Patient", sourceID: id), targetType: "Contact", targetID: "003-shared",
                recordKey: "person-1", linkedRowID: row, linkedVersion: RecordVersion(version: "1", lastUpdated: at), updatedAt: at)
        }
        let newer = link("p2", row: staged.rowIDs[1], at: 1_790_000_400)
        let older = link("p1", row: staged.rowIDs[0], at: 1_790_000_300)
        // The older recorded first: the first a table scan meets.
        try await store.record([
            LinkOutcome(rowID: staged.rowIDs[0], actor: .job(1), at: older.updatedAt, status: .linked, attempt: .linked, links: [older])
        ])
        try await store.record([
            LinkOutcome(rowID: staged.rowIDs[1], actor: .job(1), at: newer.updatedAt, status: .linked, attempt: .linked, links: [newer])
        ])
        #expect(try await store.link(targetType: "Contact", targetID: "003-shared") == newer)
    }

    @Test(arguments: StoreKind.available)
    func linksAndFieldStatesAreFoundForMoreKeysThanOneQueryHolds(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        // Two resource types, 1,203 records: more than one `IN (…)` list, and some keys never linked.
        let types = ["Patient", "EpisodeOfCare"]
        let records = types.flatMap { type in (0..<1_203).map { record("\(type.prefix(1))\($0)", "{}", type: type) } }
        let staged = try await store.stage(records, job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: records.count, actor: .job(1))
        let at = Date(timeIntervalSince1970: 1_790_000_100)
        try await store.record(
            zip(staged.rowIDs, records).map { rowID, record in
                let source = SourceKey(system: .emr, resourceType: record.resourceType, sourceID: record.sourceID)
                let object = record.resourceType == "Patient" ? "Contact" : "Episode__c"
                let key = MappedRecordKey(object: object, key: record.sourceID)
                return LinkOutcome(
                    rowID: rowID, actor: .job(1), at: at, status: .linked, attempt: .linked,
                    links: [RecordLink(source: source, targetType: object, targetID: "sf-\(record.sourceID)", recordKey: record.sourceID, linkedRowID: rowID, linkedVersion: RecordVersion(version: "1", lastUpdated: nil), updatedAt: at)],
                    fieldStates: [FieldStateChange(record: key, field: "Name", state: FieldState(synced: .text("n-\(record.sourceID)")))])
            })

        let asked = records.map { SourceKey(system: .emr, resourceType: $0.resourceType, sourceID: $0.sourceID) }
            + [SourceKey(system: .emr, resourceType: "Patient", sourceID: "never"), SourceKey(system: .salesforce, resourceType: "Patient", sourceID: "P7")]
        let links = try await store.links(for: asked)
        #expect(links.count == records.count)
        #expect(links[SourceKey(system: .emr, resourceType: "EpisodeOfCare", sourceID: "E1202")]?.targetID == "sf-E1202")
        #expect(links[SourceKey(system: .emr, resourceType: "Patient", sourceID: "P0")]?.targetType == "Contact")
        #expect(links[SourceKey(system: .salesforce, resourceType: "Patient", sourceID: "P7")] == nil)

        let keys = records.map { MappedRecordKey(object: $0.resourceType == "Patient" ? "Contact" : "Episode__c", key: $0.sourceID) }
        let states = try await store.fieldStates(for: keys + [MappedRecordKey(object: "Contact", key: "never")])
        #expect(states.count == records.count)
        #expect(states[MappedRecordKey(object: "Episode__c", key: "E600")]?["Name"]?.synced == .text("n-E600"))
        #expect(states[MappedRecordKey(object: "Contact", key: "E600")] == nil)
    }

    @Test(arguments: StoreKind.available)
    func fieldStatesAndLineageKeepTextThatJSONMustEscape(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("p1", "{}")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 1, actor: .job(2))
        let key = MappedRecordKey(object: "Contact", key: "p1")
        let tricky = "Zoë \"Z\" \\ 芳\n\u{1B}]0;x"
        let at = Date(timeIntervalSince1970: 1_790_000_200)
        try await store.record([
            LinkOutcome(
                rowID: staged.rowIDs[0], actor: .job(2), at: at, status: .linked, attempt: .linked,
                fieldStates: [
                    FieldStateChange(record: key, field: "LastName", state: FieldState(synced: .text(tricky), emr: .text(tricky))),
                    FieldStateChange(record: key, field: "Birthdate", state: FieldState(synced: .text("1980-02-29"), salesforce: .null)),
                ],
                writes: [
                    FieldWrite(record: key, field: "LastName", value: .text(tricky), writtenTo: .salesforce, rowID: staged.rowIDs[0], jobID: 2, rule: .emr, actor: .job(2), at: at, reason: "the EMR owns \"LastName\""),
                    FieldWrite(record: key, field: "Birthdate", value: .text("1980-02-29"), writtenTo: .salesforce, rowID: staged.rowIDs[0], jobID: 2, rule: .emr, actor: .job(2), at: at, reason: "changed"),
                ])
        ])
        let state = try #require(try await store.fieldStates(for: [key])[key])
        #expect(state["LastName"] == FieldState(synced: .text(tricky), emr: .text(tricky)))
        #expect(state["Birthdate"] == FieldState(synced: .text("1980-02-29"), salesforce: .null))
        let write = try #require(try await store.lastWrite(record: key, field: "LastName"))
        #expect(write.value == .text(tricky))
        #expect(write.reason == "the EMR owns \"LastName\"")
        #expect(write.rule == .emr)
        if let sqlite = store as? SQLiteStore {
            let stored = try await sqlite.pool.read { db in try String.fetchOne(db, sql: "SELECT fields FROM record_state WHERE recordKey = 'p1'") }
            #expect(stored?.hasPrefix(#"{"Birthdate":{"synced":"1980-02-29","salesforce":null},"LastName":"#) == true)
        }
    }

    @Test(arguments: StoreKind.available)
    func twoLinkersClaimingAtOnceNeverTakeTheSameRow(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage((1...300).map { record("p\($0)", "{}") }, job: nil, advancing: nil)
        async let first = store.claimRows(ClaimRequest(), limit: 200, actor: .job(1))
        async let second = store.claimRows(ClaimRequest(), limit: 200, actor: .job(2))
        let (a, b) = try await (first.map(\.id), second.map(\.id))
        #expect(Set(a).isDisjoint(with: b))
        #expect(a.count + b.count == 300)
        #expect(Set(a + b) == Set(staged.rowIDs))
    }

    @Test(arguments: StoreKind.available)
    func twoWorkersOnTwoHandlesLinkEveryRowOnceAndEachPersonsRowsInOrder(_ kind: StoreKind) async throws {
        let (one, other) = try await kind.openTwo()
        // 40 people, each a Patient staged twice (two versions) and an episode whose parent it is.
        var page: [IncomingRecord] = []
        for person in 0..<40 {
            page.append(record("p\(person)", #"{"resourceType":"Patient","id":"p\#(person)","v":1}"#))
            page.append(record("e\(person)", #"{"resourceType":"EpisodeOfCare","id":"e\#(person)","patient":{"reference":"Patient/p\#(person)"}}"#, type: "EpisodeOfCare"))
        }
        for person in 0..<40 { page.append(record("p\(person)", #"{"resourceType":"Patient","id":"p\#(person)","v":2}"#, version: "2")) }
        let staged = try await one.stage(page, job: nil, advancing: nil)
        #expect(staged.staged == 120)

        /// A worker: claims its share a few rows at a time and links each row to its record.
        @Sendable func work(_ store: any ConformingStore, _ index: Int) async throws -> [StagedRow] {
            var linked: [StagedRow] = []
            var request = ClaimRequest()
            request.partition = ClaimPartition(index: index, of: 2)
            while true {
                let rows = try await store.claimRows(request, limit: 7, actor: .job(Int64(10 + index)))
                if rows.isEmpty { return linked }
                try await store.record(
                    rows.map { row in
                        let source = SourceKey(system: row.system, resourceType: row.resourceType, sourceID: row.sourceID)
                        return LinkOutcome(
                            rowID: row.id, actor: .job(Int64(10 + index)), at: Date(), status: .linked, attempt: .linked,
                            links: [RecordLink(source: source, targetType: "Contact", targetID: "003-\(row.sourceID)", recordKey: row.sourceID, linkedRowID: row.id, linkedVersion: row.recordVersion, updatedAt: Date())])
                    })
                linked += rows
            }
        }
        async let first = work(one, 0)
        async let second = work(other, 1)
        let (a, b) = try await (first, second)
        #expect(Set(a.map(\.id)).isDisjoint(with: b.map(\.id)), "no row taken by both workers")
        #expect(Set(a.map(\.id) + b.map(\.id)) == Set(staged.rowIDs))
        #expect(!a.isEmpty && !b.isEmpty, "both workers had a share")
        for id in staged.rowIDs { #expect(try await one.row(id: id)?.attemptCount == 1, "row \(id) linked once") }
        // A person's rows (the Patient's two versions, its episode) all went to one worker, oldest first.
        func person(_ row: StagedRow) -> String { "p" + row.sourceID.dropFirst() }
        #expect(Set(a.map(person)).isDisjoint(with: b.map(person)))
        for worker in [a, b] {
            for (_, rows) in Dictionary(grouping: worker, by: person) { #expect(rows.map(\.id) == rows.map(\.id).sorted()) }
        }
        let links = try await one.links(for: (0..<40).map { SourceKey(system: .emr, resourceType: "Patient", sourceID: "p\($0)") })
        #expect(links.count == 40)
        #expect(links.values.allSatisfy { $0.linkedVersion.version == "2" }, "each Patient's newest version is linked last")
    }

    @Test(arguments: StoreKind.available)
    func aFailedOutcomeKeepsItsErrorAndAStatusIsSetByHandOnlyFromTheStatusesGiven(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("p1", "{}"), record("p2", "{}")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(3))
        let error = LinkError(
            code: "INVALID_FIELD", message: "No such column 'Gender__c'", fields: ["Gender__c", "Birthdate"], remoteBody: #"[{"errorCode":"INVALID_FIELD"}]"#,
            further: [LinkError(code: "REQUIRED_FIELD_MISSING", message: "LastName", fields: ["LastName"])])
        try await store.record([LinkOutcome(rowID: staged.rowIDs[0], actor: .job(3), at: Date(), status: .failed, attempt: .failed, error: error)])
        let failed = try #require(try await store.row(id: staged.rowIDs[0]))
        #expect(failed.status == .failed)
        #expect(failed.error == error)
        #expect(failed.attemptCount == 1)
        #expect(try await store.setStatus(rowIDs: staged.rowIDs, to: .ignored, from: [.failed], actor: .operator("carol"), note: "duplicate") == [staged.rowIDs[0]])
        #expect(try await store.row(id: staged.rowIDs[0])?.status == .ignored)
        #expect(try await store.row(id: staged.rowIDs[1])?.status == .staged)
        try await store.releaseClaims(heldBy: .job(3))
        #expect(try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(4)).map(\.id) == [staged.rowIDs[1]])
        await #expect(throws: (any Error).self) {
            try await store.record([LinkOutcome(rowID: 999_999, actor: .job(4), at: Date(), status: .linked, attempt: .linked)])
        }
    }

    /// A value the other system sent back, quoted in an error, may hold any character. A NUL,
    /// which PostgreSQL's `text` refuses (the whole batch with it) and SQLite hands back only up
    /// to, is kept by both stores as `␀` (``StoredText``): the outcome is recorded and reads back
    /// whole, and the same on both.
    @Test(arguments: StoreKind.available)
    func anErrorHoldingANULCharacterIsRecordedWholeAndAlikeOnEveryStore(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("p1", "{}"), record("p2", "{}")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(3))
        let error = LinkError(
            code: "STRING_TOO_LONG", message: "LastName: data value too large: Null\u{0}Byte", fields: ["Last\u{0}Name", "FirstName"],
            remoteBody: "[{\"message\":\"Null\u{0}Byte\"}]", further: [LinkError(code: "INVALID_FIELD", message: "\u{0}\u{0}end", fields: [])])
        try await store.record([
            LinkOutcome(rowID: staged.rowIDs[0], actor: .job(3), at: Date(), status: .failed, attempt: .failed, error: error, note: "note\u{0}"),
            LinkOutcome(rowID: staged.rowIDs[1], actor: .job(3), at: Date(), status: .linked, attempt: .linked),
        ])
        let stored = LinkError(
            code: "STRING_TOO_LONG", message: "LastName: data value too large: Null␀Byte", fields: ["Last␀Name", "FirstName"],
            remoteBody: "[{\"message\":\"Null␀Byte\"}]", further: [LinkError(code: "INVALID_FIELD", message: "␀␀end", fields: [])])
        let failed = try #require(try await store.row(id: staged.rowIDs[0]))
        #expect(failed.status == .failed)
        #expect(failed.error == stored)
        var attempt = stored
        attempt.further = []
        #expect(try await store.attempts(ofRow: staged.rowIDs[0]).map(\.error) == [attempt], "an attempt keeps the error without the further problems")
        #expect(try await store.history(ofRow: staged.rowIDs[0]).last?.note == "note␀")
        #expect(try await store.row(id: staged.rowIDs[1])?.status == .linked, "the rest of the batch recorded with it")
        #expect(StoredText.storable("no NUL here: Zoë") == "no NUL here: Zoë")
    }

    /// A job that stopped on a server's answer quotes it in its message, and the event line says
    /// the same: a NUL in either is kept as `␀` by both stores (``StoredText``), where PostgreSQL
    /// refused the job's end and SQLite read the message back cut short.
    @Test(arguments: StoreKind.available)
    func aJobsMessageAndAnEventHoldingANULCharacterAreKeptWholeAndAlikeOnEveryStore(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        var job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        job.status = .failed
        job.finishedAt = Date()
        job.message = "the EMR answered 500: Null\u{0}Byte"
        try await store.updateJob(job)
        let stored = try #require(try await store.job(id: job.id))
        #expect(stored.status == .failed)
        #expect(stored.message == "the EMR answered 500: Null␀Byte")
        try await store.appendEvents([SyncEvent(at: Date(), jobID: job.id, level: .error, message: "pull failed: Null\u{0}Byte")])
        #expect(try await store.recentEvents(limit: 5).map(\.message) == ["pull failed: Null␀Byte"])
    }

    @Test(arguments: StoreKind.available)
    func aConflictSeenTwiceIsOneAndItsResolutionLinksTheRowsItHeld(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("p1", "{}"), record("p2", #"{"v":2}"#)], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(5))
        let key = MappedRecordKey(object: "Contact", key: "p1")
        let long = String(repeating: "x", count: 5_000)
        let conflict = ConflictRecord(record: key, field: "Phone", rowID: nil, emrValue: .text(long), salesforceValue: .text("555"), rule: .hold, winner: nil)
        var first = conflict
        first.rowID = staged.rowIDs[0]
        var second = conflict
        second.rowID = staged.rowIDs[1]
        try await store.record([
            LinkOutcome(rowID: staged.rowIDs[0], actor: .job(5), at: Date(), status: .held, attempt: .held, conflicts: [first]),
            LinkOutcome(rowID: staged.rowIDs[1], actor: .job(5), at: Date(), status: .held, attempt: .held, conflicts: [second]),
        ])
        #expect(try await store.row(id: staged.rowIDs[1])?.status == .held)
        // Conflict 1, the first of a new store, held both rows: resolving it from row 1's retry links row 2 too.
        _ = try await store.claimRows(ClaimRequest(statuses: [.held], rowIDs: [staged.rowIDs[0]]), limit: 1, actor: .job(6))
        try await store.record([
            LinkOutcome(
                rowID: staged.rowIDs[0], actor: .job(6), at: Date(), status: .linked, attempt: .linked,
                resolvedConflicts: [ConflictResolution(conflictID: 1, winner: .emr, actor: .operator("rev"), reason: "checked")])
        ])
        #expect(try await store.row(id: staged.rowIDs[0])?.status == .linked)
        #expect(try await store.row(id: staged.rowIDs[1])?.status == .linked, "held only by the resolved conflict")
    }

    @Test(arguments: StoreKind.available)
    func aLinkIsFoundByItsCounterpartAndItsRecordAndARetiredOneApart(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("p1", "{}"), record("p2", "{}")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        let at = Date(timeIntervalSince1970: 1_790_000_300)
        func link(_ id: String, row: Int64, retirement: LinkRetirement?) -> RecordLink {
            var link = RecordLink(
                source: SourceKey(system: .emr, resourceType: "Patient", sourceID: id), targetType: "Contact", targetID: "003-shared",
                recordKey: "person-1", linkedRowID: row, linkedVersion: RecordVersion(version: "1", lastUpdated: at), updatedAt: at)
            link.retirement = retirement
            return link
        }
        let live = link("p1", row: staged.rowIDs[0], retirement: nil)
        let merged = link("p2", row: staged.rowIDs[1], retirement: .merged(into: "p1"))
        try await store.record([
            LinkOutcome(rowID: staged.rowIDs[1], actor: .job(1), at: at, status: .linked, attempt: .linked, links: [merged]),
            LinkOutcome(rowID: staged.rowIDs[0], actor: .job(1), at: at, status: .linked, attempt: .linked, links: [live]),
        ])
        #expect(try await store.link(targetType: "Contact", targetID: "003-shared") == live, "the live link before the retired one")
        #expect(Set(try await store.links(recordKey: "person-1", targetType: "Contact").map(\.source.sourceID)) == ["p1", "p2"])
        #expect(try await store.retiredLinks(recordKeys: ["person-1", "nobody"], targetType: "Contact") == ["person-1": merged])
        #expect(try await store.link(targetType: "Contact", targetID: "nothing") == nil)
    }

    @Test(arguments: StoreKind.available)
    func aCreateIntentStandsUntilItIsClearedOldestFirst(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let identifier = ResourceIdentifier(system: "https://stagelink.example/sf-id", value: "a0B1")
        let other = ResourceIdentifier(system: "https://stagelink.example/sf-id", value: "a0B2")
        try await store.recordCreateIntent(CreateIntent(resourceType: "Patient", identifier: other, rowID: 2, recordedAt: Date(timeIntervalSince1970: 20)))
        try await store.recordCreateIntent(CreateIntent(resourceType: "Patient", identifier: identifier, rowID: 1, recordedAt: Date(timeIntervalSince1970: 10)))
        try await store.recordCreateIntent(CreateIntent(resourceType: "Patient", identifier: identifier, rowID: 3, recordedAt: Date(timeIntervalSince1970: 15)))
        #expect(try await store.createIntent(resourceType: "Patient", identifier: identifier)?.rowID == 3)
        #expect(try await store.createIntents().map(\.rowID) == [3, 2])
        try await store.clearCreateIntent(resourceType: "Patient", identifier: identifier)
        #expect(try await store.createIntent(resourceType: "Patient", identifier: identifier) == nil)
        #expect(try await store.createIntents().map(\.identifier) == [other])
    }

    @Test(arguments: StoreKind.available)
    func aRowWaitingOnItsParentIsFoundOnceTheParentIsLinkedAndWithheldRowsByRecord(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let patient = #"{"resourceType":"Patient","id":"p1","name":[{"family":"Okafor"}]}"#
        let episode = #"{"resourceType":"EpisodeOfCare","id":"e1","patient":{"reference":"Patient/p1"}}"#
        let staged = try await store.stage(
            [record("p1", patient), record("e1", episode, type: "EpisodeOfCare"), record("p9", #"{"resourceType":"Patient","id":"p9"}"#)],
            job: nil, advancing: nil)
        let (patientRow, episodeRow, withheldRow) = (staged.rowIDs[0], staged.rowIDs[1], staged.rowIDs[2])
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        let waiting = LinkError(code: ErrorCode.waitingOnParent.rawValue, message: "Patient/p1 is not linked yet")
        try await store.record([
            LinkOutcome(rowID: episodeRow, actor: .job(1), at: Date(), status: .failed, attempt: .failed, error: waiting),
            LinkOutcome(rowID: withheldRow, actor: .job(1), at: Date(), status: .withheld, attempt: .withheld),
        ])
        #expect(try await store.rowsWaitingOnLinkedParents(system: .emr, limit: 10) == [])
        let at = Date(timeIntervalSince1970: 1_790_000_400)
        let link = RecordLink(
            source: SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1"), targetType: "Contact", targetID: "003P1", recordKey: "p1",
            linkedRowID: patientRow, linkedVersion: RecordVersion(version: "1", lastUpdated: nil), updatedAt: at)
        try await store.record([LinkOutcome(rowID: patientRow, actor: .job(1), at: at, status: .linked, attempt: .linked, links: [link])])
        #expect(try await store.rowsWaitingOnLinkedParents(system: .emr, limit: 10) == [episodeRow])
        #expect(try await store.rowsWaitingOnLinkedParents(system: .salesforce, limit: 10) == [])
        let p9 = SourceKey(system: .emr, resourceType: "Patient", sourceID: "p9")
        let withheld = try await store.withheldRows(of: [p9, SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1")])
        #expect(withheld.keys.sorted { $0.sourceID < $1.sourceID } == [p9])
        #expect(withheld[p9]?.map(\.id) == [withheldRow])
        #expect(withheld[p9]?.first?.status == .withheld)
    }

    // MARK: - Service lease and requests

    @Test(arguments: StoreKind.available)
    func aLeaseHeldByALiveProcessIsRefusedAndAnExpiredOneTakenOver(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let service = LeaseHolder(name: "run", host: "a", pid: 10)
        let second = LeaseHolder(name: "run", host: "a", pid: 11)
        guard case .acquired = try await store.acquireLease(service, for: .seconds(60)) else { Issue.record("not acquired"); return }
        guard case .heldBy(let lease) = try await store.acquireLease(second, for: .seconds(60)) else { Issue.record("not refused"); return }
        #expect(lease.holder == service)
        _ = try await store.acquireLease(service, for: .milliseconds(1))
        try await Task.sleep(for: .milliseconds(20))
        guard case .acquired(_, let tookOver) = try await store.acquireLease(second, for: .seconds(60)) else { Issue.record("not taken over"); return }
        #expect(tookOver == service)
    }

    @Test(arguments: StoreKind.available)
    func aLeaseIsTakenFromTheStaleHolderNamedOnlyAndKeepsItsTakeOverRecord(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let crashed = LeaseHolder(name: "run", host: "a", pid: 10)
        let other = LeaseHolder(name: "run", host: "a", pid: 12)
        let restarted = LeaseHolder(name: "run", host: "a", pid: 11)
        _ = try await store.acquireLease(crashed, for: .seconds(60))
        guard case .heldBy = try await store.acquireLease(restarted, for: .seconds(60), replacing: other) else { Issue.record("taken from the wrong holder"); return }
        guard case .acquired(_, let tookOver) = try await store.acquireLease(restarted, for: .seconds(60), replacing: crashed) else {
            Issue.record("not taken over"); return
        }
        #expect(tookOver == crashed)
        #expect(try await store.currentLease()?.holder == restarted)
    }

    @Test(arguments: StoreKind.available)
    func eachChangeOfHandsTakesTheNextEpochAndARenewalKeepsIt(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let first = LeaseHolder(name: "run", host: "a", pid: 10)
        let second = LeaseHolder(name: "run", host: "b", pid: 20)
        guard case .acquired(let taken, _) = try await store.acquireLease(first, for: .seconds(60)) else { Issue.record("not taken"); return }
        guard case .acquired(let renewed, _) = try await store.acquireLease(first, for: .seconds(60)) else { Issue.record("not renewed"); return }
        #expect(renewed.epoch == taken.epoch, "a renewal keeps the fencing token")
        guard case .acquired(let takenOver, _) = try await store.acquireLease(second, for: .seconds(60), replacing: first) else {
            Issue.record("not taken over"); return
        }
        #expect(takenOver.epoch > taken.epoch, "a change of hands takes a greater epoch")
        try await store.releaseLease(second)
        guard case .acquired(let afterRelease, _) = try await store.acquireLease(first, for: .seconds(60)) else { Issue.record("not taken again"); return }
        #expect(afterRelease.epoch > takenOver.epoch, "epochs grow across a release")
        #expect(try await store.currentLease()?.epoch == afterRelease.epoch)
    }

    @Test(arguments: StoreKind.available)
    func aSyncRequestIsTakenOnceOldestFirstAndEventsReadNewestFirst(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.requestSync([.inbound], actor: .operator("dana"))
        try await store.requestSync([.outbound, .inbound], actor: .operator("eli"))
        let taken = try await store.takeSyncRequests()
        #expect(taken.map(\.actor) == [.operator("dana"), .operator("eli")])
        #expect(taken.last?.directions == [.inbound, .outbound])
        #expect(try await store.takeSyncRequests().isEmpty)
        try await store.appendEvents([
            SyncEvent(at: Date(timeIntervalSince1970: 1), jobID: 7, level: .info, message: "pulled 3 Patients"),
            SyncEvent(at: Date(timeIntervalSince1970: 2), jobID: nil, level: .warning, message: "Salesforce answered 503"),
        ])
        let events = try await store.recentEvents(limit: 10)
        #expect(events.map(\.message) == ["Salesforce answered 503", "pulled 3 Patients"])
        #expect(events.map(\.jobID) == [nil, 7])
    }
}
