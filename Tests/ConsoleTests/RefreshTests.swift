import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// The console follows another process's writes through the change token, and reads nothing
/// when nothing changed.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct RefreshTests {
    @Test func aWriteByAnotherConnectionShowsOnTheNextPoll() async throws {
        let fixture = try await ConsoleFixture.make()
        let other = try SQLiteStore(path: fixture.store.path)
        let id = fixture.contents.failedRowIDs[0]
        await fixture.console.press(.character("/"))
        await fixture.console.type("failed\n")
        #expect(fixture.screen.line(containing: " \(id) ")?.contains("✗ failed") == true)
        _ = try await other.setStatus(rowIDs: [id], to: .ignored, from: [.failed], actor: .operator("bob"), note: "test")
        await fixture.console.poll()
        #expect(fixture.screen.line(containing: " \(id) ") == nil, "the ignored row left the list of failed rows")
        #expect(fixture.screen.line(containing: "Staged(failed)[39]") != nil)
    }

    @Test func nothingIsReadAgainWhenTheTokenDidNotMove() async throws {
        let store = try SQLiteStore.temporary("console-refresh")
        let counting = CountingStore(store)
        let mapping = try MappingDocument.load(contentsOf: ConsoleFixture.repositoryRoot.appendingPathComponent("config/mapping.yaml").path)
        try await mapping.loadPolicy(into: store)
        _ = try await store.stage((0..<50).map { IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p\($0)", version: "1", lastUpdated: nil, payload: Array("{}".utf8)) }, job: nil, advancing: nil)
        let configuration = ConsoleFixture.configuration(store: store, mapping: mapping, now: Date(), tab: .staged, readOnly: false)
        let console = try HeadlessConsole(store: counting, actions: RecordingActions(), configuration: configuration)
        await console.start()
        let reads = counting.reads
        await console.poll()
        await console.poll()
        #expect(counting.reads == reads, "two polls of an unchanged store read nothing but the token")
        _ = try await SQLiteStore(path: store.path).setStatus(rowIDs: [1], to: .ignored, from: [.staged], actor: .operator("bob"), note: "x")
        await console.poll()
        #expect(counting.reads > reads)
        #expect(console.screen.line(containing: "⊘ ignored") != nil)
    }
}

/// A store that counts the reads the console makes, other than the change token: it has only
/// the roles the console takes (``ConsoleStore``), none of the writes of a sync.
final class CountingStore: ConsoleStore, @unchecked Sendable {
    private let base: SQLiteStore
    private let lock = NSLock()
    private var count = 0

    init(_ base: SQLiteStore) {
        self.base = base
    }

    var reads: Int { lock.withLock { count } }
    private func read() { lock.withLock { count += 1 } }

    func changeToken() async throws -> Int { try await base.changeToken() }
    func rows(_ query: RowQuery) async throws -> [StagedRowSummary] { read(); return try await base.rows(query) }
    func countRows(_ filter: RowFilter) async throws -> Int { read(); return try await base.countRows(filter) }
    func personNames(ofRows ids: [Int64]) async throws -> [Int64: String] { try await base.personNames(ofRows: ids) }
    func parents(ofRows ids: [Int64]) async throws -> [Int64: ParentRecord] { try await base.parents(ofRows: ids) }
    func jobs(before: Int64?, limit: Int) async throws -> [Job] { read(); return try await base.jobs(before: before, limit: limit) }
    func currentLease() async throws -> Lease? { read(); return try await base.currentLease() }
    func lastJob(_ selection: JobSelection) async throws -> Job? { read(); return try await base.lastJob(selection) }
    func recentEvents(limit: Int) async throws -> [SyncEvent] { read(); return try await base.recentEvents(limit: limit) }
    func recordAccess(_ accesses: [RowAccess]) async throws { try await base.recordAccess(accesses) }
    func accessLog(_ query: AccessQuery) async throws -> [RowAccess] { read(); return try await base.accessLog(query) }
    func job(id: Int64) async throws -> Job? { try await base.job(id: id) }
    func row(id: Int64) async throws -> StagedRow? { try await base.row(id: id) }
    func rows(ids: [Int64]) async throws -> [StagedRow] { try await base.rows(ids: ids) }
    func row(of record: SourceKey, contentHash: String) async throws -> StagedRow? { try await base.row(of: record, contentHash: contentHash) }
    func failureGroups() async throws -> [FailureGroup] { try await base.failureGroups() }
    func history(ofRow id: Int64) async throws -> [RowTransition] { try await base.history(ofRow: id) }
    func attempts(ofRow id: Int64) async throws -> [LinkAttempt] { try await base.attempts(ofRow: id) }
    func lastAttemptID() async throws -> Int64 { try await base.lastAttemptID() }
    func rowsAttempted(byJob id: Int64, since attemptID: Int64) async throws -> [Int64] { try await base.rowsAttempted(byJob: id, since: attemptID) }
    func writes(byRow id: Int64) async throws -> [FieldWrite] { try await base.writes(byRow: id) }
    func policyRules() async throws -> [PolicyRule] { try await base.policyRules() }
    func policyAudit(object: String?, field: String?, limit: Int) async throws -> [PolicyAuditEntry] { try await base.policyAudit(object: object, field: field, limit: limit) }
    func conflicts(_ query: ConflictQuery) async throws -> [Conflict] { try await base.conflicts(query) }
    func conflict(id: Int64) async throws -> Conflict? { try await base.conflict(id: id) }
    func countConflicts(status: Conflict.Status?) async throws -> Int { try await base.countConflicts(status: status) }
    func lastWrite(record: MappedRecordKey, field: String) async throws -> FieldWrite? { try await base.lastWrite(record: record, field: field) }
}

/// Counting after a store change is throttled when counts are slow, and never skipped.
@MainActor
struct CountThrottleTests {
    @Test func aChangeDuringTheThrottleIsCountedOnceTheCountIsDue() async throws {
        let pager = SlowCountPager(total: 40, delay: .milliseconds(300))
        let list = RowList(pager: pager, capacity: 10)
        try await list.recount()
        #expect(list.count == 40)

        pager.set(total: 39, delay: .zero)
        let clock = ContinuousClock()
        let waited = try await clock.measure { try await list.recount(throttled: true) }
        #expect(list.count == 39, "the change is counted, not skipped because a count was not yet due")
        #expect(waited >= .seconds(2), "a count that took 300 ms waits ten times as long before it runs again")
    }

    @Test func aNewFilterDuringTheThrottleDropsTheWaitingCount() async throws {
        let pager = SlowCountPager(total: 40, delay: .milliseconds(300))
        let list = RowList(pager: pager, capacity: 10)
        try await list.recount()
        let waiting = Task { try await list.recount(throttled: true) }
        try await Task.sleep(for: .milliseconds(100))
        let filtered = SlowCountPager(total: 7, delay: .zero)
        try await list.replace(pager: filtered)
        try await waiting.value
        #expect(pager.counts == 1 && filtered.counts == 0, "the waiting count ended when the filter changed, counting nothing")
        #expect(list.count == nil, "the old filter's count is not shown for the new one")
        try await list.recount()
        #expect(list.count == 7)
    }
}

/// A pager with no rows whose count takes as long as it is told.
final class SlowCountPager: RowPager, @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int
    private var delay: Duration
    private var calls = 0

    init(total: Int, delay: Duration) {
        self.total = total
        self.delay = delay
    }

    func set(total: Int, delay: Duration) { lock.withLock { (self.total, self.delay) = (total, delay) } }
    /// How many times the rows were counted.
    var counts: Int { lock.withLock { calls } }

    func first(limit: Int) async throws -> [StagedRowSummary] { [] }
    func last(limit: Int) async throws -> [StagedRowSummary] { [] }
    func after(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] { [] }
    func before(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] { [] }
    func from(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] { [] }
    func count() async throws -> Int {
        let (total, delay) = lock.withLock {
            calls += 1
            return (self.total, self.delay)
        }
        try await Task.sleep(for: delay)
        return total
    }
}
