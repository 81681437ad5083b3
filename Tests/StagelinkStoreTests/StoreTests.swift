import Foundation
import GRDB
import Testing
import StagelinkEngine
@testable import StagelinkStore

struct StoreTests {
    let store: SQLiteStore

    init() throws {
        store = try SQLiteStore.temporary("store-tests")
    }

    func record(_ id: String, _ text: String, version: String? = "1", at seconds: Double = 1_790_000_000, type: String = "Patient") -> IncomingRecord {
        IncomingRecord(system: .emr, resourceType: type, sourceID: id, version: version, lastUpdated: Date(timeIntervalSince1970: seconds), payload: Array(text.utf8))
    }

    // Staging and jobs: StoreConformanceTests, on SQLite and PostgreSQL alike.

    @Test func theFileIsReadableByItsOwnerOnlyAndInWALMode() async throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: store.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        _ = try await store.stage([record("p1", "{}")], job: nil, advancing: nil)
        let wal = try FileManager.default.attributesOfItem(atPath: store.path + "-wal")
        #expect((wal[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let mode = try await store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func anExistingFileIsTightenedToOwnerOnly() throws {
        let temporary = try TemporaryFolder("loose")
        let path = temporary.file("store.sqlite")
        FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644])
        _ = try SQLiteStore(path: path)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func thePolicyAuditTrailRefusesUpdatesAndDeletes() async throws {
        _ = try await store.loadPolicy([PolicyDeclaration(object: "Contact", field: "Phone", rule: .salesforce)], actor: .file("m.yaml"))
        _ = try await store.setPolicyRule(object: "Contact", field: "Phone", rule: .hold, actor: .operator("dana"), reason: "review")
        await #expect(throws: DatabaseError.self) {
            try await store.pool.write { db in try db.execute(sql: "UPDATE policy_audit SET newRule = 'emr'") }
        }
        await #expect(throws: DatabaseError.self) {
            try await store.pool.write { db in try db.execute(sql: "DELETE FROM policy_audit") }
        }
        #expect(try await store.policyAudit(object: nil, field: nil, limit: 10).count == 2)
    }

    @Test func rowsArePagedByKeysetForwardAndBackInAnySortOrder() async throws {
        let records = (1...50).map { record(String(format: "p%02d", $0), #"{"n":\#($0)}"#) }
        _ = try await store.stage(records, job: nil, advancing: nil)
        let sort = RowSort(column: .sourceID, descending: true)
        let first = try await store.rows(RowQuery(sort: sort, limit: 20))
        #expect(first.map(\.sourceID) == (31...50).reversed().map { String(format: "p%02d", $0) })
        let second = try await store.rows(RowQuery(sort: sort, after: first.last!.cursor(for: sort), limit: 20))
        #expect(second.first?.sourceID == "p30")
        let back = try await store.rows(RowQuery(sort: sort, after: second.first!.cursor(for: sort), backwards: true, limit: 5))
        #expect(back.map(\.sourceID) == ["p35", "p34", "p33", "p32", "p31"])
    }

    @Test func filtersMatchStatusTextAndTheirInverse() async throws {
        let staged = try await store.stage((1...6).map { record("p\($0)", "{}") }, job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(rowIDs: Array(staged.rowIDs.prefix(2))), limit: 10, actor: .system)
        try await store.record(staged.rowIDs.prefix(2).map {
            LinkOutcome(rowID: $0, actor: .system, at: Date(), status: .failed, attempt: .failed, error: LinkError(code: "INVALID_FIELD", message: "No such column 'Gender__c'"))
        })
        #expect(try await store.countRows(RowFilter(statuses: [.failed])) == 2)
        #expect(try await store.countRows(RowFilter(text: "p3")) == 1, "free text finds a source id")
        #expect(try await store.countRows(RowFilter(text: "p3", inverted: true)) == 5)
        #expect(try await store.countRows(RowFilter(text: "Gender__c")) == 0, "error messages are matched by code:, not free text")
        #expect(try await store.countRows(RowFilter(errorCode: "INVALID_FIELD", inverted: true)) == 4)
        #expect(try await store.countRows(RowFilter(text: "100%_")) == 0)
        let groups = try await store.failureGroups()
        #expect(groups.map(\.errorCode) == ["INVALID_FIELD"])
        #expect(groups.first?.count == 2)
        #expect(groups.first?.sampleMessage == "No such column 'Gender__c'")
    }

    @Test func aRowKeepsEveryProblemOfItsRecordAndTheFirstIsItsCode() async throws {
        let staged = try await store.stage([record("p1", "{}"), record("p2", "{}")], job: nil, advancing: nil)
        let (id, other) = (staged.rowIDs[0], staged.rowIDs[1])
        let problems = [
            LinkError(.mappingControlCharacter, message: "FirstName (name[0].given) contains the control character U+001B", fields: ["FirstName"]),
            LinkError(.mappingInvalidDate, message: "Birthdate (birthDate) is not a valid full date (YYYY-MM-DD)", fields: ["Birthdate"]),
            LinkError(code: "REMOTE_SAYS", message: "with its answer", fields: [], remoteBody: #"{"a":1}"#),
        ]
        let error = try #require(LinkError(combining: problems))
        _ = try await store.claimRows(ClaimRequest(rowIDs: [id, other]), limit: 2, actor: .system)
        try await store.record([
            LinkOutcome(rowID: id, actor: .system, at: Date(), status: .failed, attempt: .failed, error: error),
            LinkOutcome(rowID: other, actor: .system, at: Date(), status: .failed, attempt: .failed, error: problems[1]),
        ])
        let read = try #require(try await store.row(id: id)?.error)
        #expect(read == error)
        #expect(read.all == problems)
        #expect(read.code == ErrorCode.mappingControlCharacter.rawValue)
        #expect(try await store.row(id: other)?.error?.all == [problems[1]])
        #expect(try await store.failureGroups().map(\.errorCode).sorted() == [ErrorCode.mappingControlCharacter.rawValue, ErrorCode.mappingInvalidDate.rawValue])
        #expect(try await store.countRows(RowFilter(errorCode: ErrorCode.mappingControlCharacter.rawValue)) == 1)

        // Linked on a retry: no error is kept, and none of the further ones either.
        _ = try await store.claimRows(ClaimRequest(rowIDs: [id]), limit: 1, actor: .system)
        try await store.record([LinkOutcome(rowID: id, actor: .system, at: Date(), status: .linked, attempt: .linked, error: nil)])
        #expect(try await store.row(id: id)?.error == nil)
        let column = try await store.pool.read { db in try String?.fetchOne(db, sql: "SELECT errorFurther FROM staged_row WHERE id = ?", arguments: [id]) }
        #expect(column == .some(nil))
    }

    @Test func furtherProblemsTheBuildCannotReadAreAnErrorNotAnEmptyList() async throws {
        let staged = try await store.stage([record("p1", "{}")], job: nil, advancing: nil)
        let id = staged.rowIDs[0]
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE staged_row SET status = 'failed', errorCode = 'X', errorFurther = '[{\"code\":1}]' WHERE id = ?", arguments: [id])
        }
        await #expect(throws: UnreadableValue.self) { _ = try await store.row(id: id) }
    }

    @Test func aStatusOrKindTheBuildDoesNotKnowIsAnErrorNamingTheColumnNeverADefault() async throws {
        let staged = try await store.stage([record("p1", "{}"), record("p2", "{}")], job: nil, advancing: nil)
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE staged_row SET status = 'stagd' WHERE id = ?", arguments: [staged.rowIDs[0]])
            try db.execute(sql: "UPDATE staged_row SET kind = 'tombstone' WHERE id = ?", arguments: [staged.rowIDs[1]])
        }
        let status = await #expect(throws: UnreadableValue.self) { _ = try await store.row(id: staged.rowIDs[0]) }
        #expect(status == UnreadableValue(column: "staged_row.status", value: "stagd"), "not read as staged")
        let kind = await #expect(throws: UnreadableValue.self) { _ = try await store.row(id: staged.rowIDs[1]) }
        #expect(kind == UnreadableValue(column: "staged_row.kind", value: "tombstone"), "not read as a record version")
    }

    @Test func aRecordsRowsAreFoundByItsSourceIDExactlyNotByTextThatAlsoMatchesBirthYears() async throws {
        let born1950 = #"{"resourceType":"Patient","id":"p7","name":[{"family":"Adler"}],"birthDate":"1950-03-01"}"#
        _ = try await store.stage(
            [record("p7", born1950), record("1950", #"{"resourceType":"Patient","id":"1950"}"#), record("1950", #"{"resourceType":"Patient","id":"1950","v":2}"#, version: "2")],
            job: nil, advancing: nil)
        let byText = try await store.rows(RowQuery(filter: RowFilter(text: "1950"), limit: 10))
        #expect(Set(byText.map(\.sourceID)) == ["p7", "1950"], "free text finds the person born in 1950 too")
        let exact = try await store.rows(RowQuery(filter: RowFilter(resourceType: "Patient", sourceID: "1950"), sort: RowSort(descending: true), limit: 10))
        #expect(exact.map(\.sourceID) == ["1950", "1950"])
        #expect(exact.map(\.version) == ["2", "1"])
        #expect(try await store.countRows(RowFilter(sourceID: "1950")) == 2)
    }

    @Test func aJobWhoseStatusTheBuildDoesNotKnowIsAnErrorNotAFailedJob() async throws {
        let job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        try await store.pool.write { db in try db.execute(sql: "UPDATE job SET status = 'paused' WHERE id = ?", arguments: [job.id]) }
        let error = await #expect(throws: UnreadableValue.self) { _ = try await store.jobs(before: nil, limit: 10) }
        #expect(error == UnreadableValue(column: "job.status", value: "paused"))
    }

    @Test func failureGroupsAreReadFromTheIndexOfFailedRowsAlone() async throws {
        let plan = try await store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    EXPLAIN QUERY PLAN SELECT errorCode, COUNT(*), group_concat(DISTINCT resourceType), MAX(id)
                    FROM staged_row WHERE status = 'failed' AND errorCode IS NOT NULL GROUP BY errorCode
                    """
            ).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("COVERING INDEX staged_row_failure_group") })
    }

    /// The linker asks for the deletions and merges among each batch's records: a scan of the
    /// whole table per batch made a first load's link quadratic.
    @Test func removalRowsAreFoundThroughTheirPartialIndex() async throws {
        let plan = try await store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteStore.removalRowsSQL(3), arguments: ["p1", "p2", "p3"]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("USING INDEX staged_row_kind") })
        #expect(!plan.contains { $0 == "SCAN staged_row" })
    }

    @Test func statusChangesAreRecordedWithTimeAndActor() async throws {
        let staged = try await store.stage([record("p1", "{}")], job: nil, advancing: nil)
        let id = staged.rowIDs[0]
        _ = try await store.claimRows(ClaimRequest(rowIDs: [id]), limit: 1, actor: .job(4))
        try await store.record([LinkOutcome(rowID: id, actor: .job(4), at: Date(), status: .failed, attempt: .failed, error: LinkError(code: "X", message: "m"))])
        #expect(try await store.setStatus(rowIDs: [id], to: .ignored, from: [.failed], actor: .operator("carol"), note: "duplicate") == [id])
        #expect(try await store.setStatus(rowIDs: [id], to: .ignored, from: [.failed], actor: .operator("carol"), note: "again").isEmpty)
        let history = try await store.history(ofRow: id)
        #expect(history.map(\.to) == [.staged, .failed, .ignored])
        #expect(history.map(\.actor) == [.system, .job(4), .operator("carol")])
        #expect(history[2].note == "duplicate")
        #expect(zip(history, history.dropFirst()).allSatisfy { $0.at <= $1.at })
    }

    @Test func anotherConnectionSeesJobProgressMoveAndTheChangeToken() async throws {
        let reader = try SQLiteStore(path: store.path)
        let tokenBefore = try await reader.changeToken()
        var job = try await store.startJob(kind: .link, direction: .inbound, actor: .system)
        job.progress = Job.Progress(phase: "linking Patient", done: 400, total: 1_000, updatedAt: Date())
        job.counts.linked = 390
        try await store.updateJob(job)
        let seen = try #require(try await reader.job(id: job.id))
        #expect(seen.progress.done == 400)
        #expect(seen.progress.total == 1_000)
        #expect(seen.progress.phase == "linking Patient")
        #expect(seen.counts.linked == 390)
        #expect(seen.status == .running)
        #expect(try await reader.changeToken() != tokenBefore)
        let unchanged = try await reader.changeToken()
        #expect(try await reader.changeToken() == unchanged)
    }

    @Test func integrityCheckPassesOnAFreshStore() async throws {
        #expect(try await store.integrityCheck() == "ok")
    }
}
