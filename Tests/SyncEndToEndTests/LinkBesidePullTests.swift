import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// With calls allowed at once, a cycle links each EMR type as soon as its pull has ended, beside
/// the pull of the types after it, and above the bulk threshold in whole bulk jobs while the type
/// is still pulled; one call at a time (`salesforce.concurrency: 1`), the link waits for the whole
/// pull.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct LinkBesidePullTests {
    @Test func patientsAreLinkedWhileTheAssessmentsAreStillBeingPulled() async throws {
        let harness = try await SyncHarness.start(patients: 30, badShare: 0)
        defer { Task { await harness.stop() } }
        var sync = harness
        let gate = AssessmentGate(store: sync.store, wait: .seconds(20))
        sync.endpoints.emrSource = GatedSource(inner: try #require(sync.endpoints.emrSource), gate: gate)
        let report = try await sync.sync()
        #expect(await gate.linkedPatientsSeen > 0, "the assessments' first page was answered only after Patients were linked")
        #expect(await gate.waitedInVain == false)
        // Everything is linked in the one cycle, as when the link waits for the pull.
        #expect(report.counts(.inbound).failed == 0)
        #expect(try await sync.store.countRows(RowFilter(statuses: [.staged], system: .emr)) == 0)
        #expect(try await sync.store.countRows(RowFilter(statuses: [.linked], system: .emr, resourceType: "QuestionnaireResponse")) > 0)
        // The link's job started before the EMR's pull ended, and is listed after the pulls.
        let pull = try #require(report.jobs.first { $0.kind == .pull && $0.direction == .inbound })
        let link = try #require(report.jobs.first { $0.kind == .link })
        #expect(link.startedAt < (pull.finishedAt ?? .distantFuture))
        #expect(report.jobs.firstIndex { $0.kind == .link }! > report.jobs.firstIndex { $0.kind == .pull && $0.direction == .inbound }!)
    }

    @Test func oneCallAtATimeTheLinkWaitsForTheWholePull() async throws {
        let harness = try await SyncHarness.start(patients: 30, badShare: 0)
        defer { Task { await harness.stop() } }
        var sync = harness
        sync.settings.salesforceConcurrency = 1
        let gate = AssessmentGate(store: sync.store, wait: .seconds(1))
        sync.endpoints.emrSource = GatedSource(inner: try #require(sync.endpoints.emrSource), gate: gate)
        let report = try await sync.sync()
        #expect(await gate.waitedInVain, "no Patient was linked while the assessments were pulled")
        #expect(await gate.linkedPatientsSeen == 0)
        #expect(try await sync.store.countRows(RowFilter(statuses: [.staged], system: .emr)) == 0)
        let pull = try #require(report.jobs.first { $0.kind == .pull && $0.direction == .inbound })
        let link = try #require(report.jobs.first { $0.kind == .link })
        #expect(link.startedAt >= (pull.finishedAt ?? .distantPast))
    }

    /// Episodes and assessments, both children of Patients, are pulled at once once the Patients
    /// are: the episodes' first page is held until the assessments' first page is asked for.
    @Test func episodesAndAssessmentsArePulledAtOnceAfterThePatients() async throws {
        let harness = try await SyncHarness.start(patients: 30, badShare: 0)
        defer { Task { await harness.stop() } }
        var sync = harness
        let order = PageOrder(wait: .seconds(20))
        sync.endpoints.emrSource = GatedSource(inner: try #require(sync.endpoints.emrSource), gate: nil, order: order)
        try await sync.sync()
        #expect(await order.assessmentsAskedWhileEpisodesHeld)
        #expect(await order.firstPages.first == "Patient")
        #expect(try await sync.store.countRows(RowFilter(statuses: [.staged], system: .emr)) == 0)

        // One EMR call at a time: one type after the other.
        let sequential = try await SyncHarness.start(patients: 30, badShare: 0)
        defer { Task { await sequential.stop() } }
        var oneAtATime = sequential
        oneAtATime.settings.emrConcurrency = 1
        let held = PageOrder(wait: .seconds(1))
        oneAtATime.endpoints.emrSource = GatedSource(inner: try #require(oneAtATime.endpoints.emrSource), gate: nil, order: held)
        try await oneAtATime.sync()
        #expect(await held.assessmentsAskedWhileEpisodesHeld == false)
        #expect(await held.firstPages == ["Patient", "EpisodeOfCare", "QuestionnaireResponse"])
    }

    /// Above the bulk threshold, a type's rows are linked in whole bulk jobs while the type is still
    /// pulled: the Patients' fifth page is held until a Patient is linked, and every bulk job sent
    /// before the Patients' pull ended carried a whole batch.
    @Test func patientsAreLinkedInBulkJobsWhileThePatientsAreStillPulled() async throws {
        let harness = try await SyncHarness.start(patients: 60, badShare: 0)
        defer { Task { await harness.stop() } }
        var sync = harness
        sync.settings.pageSize = 10
        let gate = PatientPageGate(store: sync.store, heldPage: 5, wait: .seconds(20))
        let jobs = BulkJobLog()
        sync.endpoints.emrSource = GatedSource(inner: try #require(sync.endpoints.emrSource), gate: nil, patientPages: gate)
        sync.endpoints.salesforceTarget = SmallBulkTarget(inner: try #require(sync.endpoints.salesforceTarget), log: jobs, pulling: gate)
        let report = try await sync.sync()
        #expect(await gate.linkedPatientsSeen > 0, "the Patients' fifth page was answered only after Patients were linked")
        #expect(await gate.waitedInVain == false)
        // Bulk jobs while the Patients were pulled: whole batches of 20 (40 rows were staged when the
        // gate held the fifth page: more than the threshold of 30).
        let beside = await jobs.sent.filter(\.whilePulling)
        #expect(!beside.isEmpty)
        #expect(beside.allSatisfy { $0.object == "Contact" && $0.records == SmallBulkTarget.batch })
        // Everything is linked once, in the one cycle: one Contact per Patient pulled.
        #expect(report.counts(.inbound).failed == 0)
        #expect(try await sync.store.countRows(RowFilter(statuses: [.staged], system: .emr)) == 0)
        let pulled = try await sync.store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: "Patient"), limit: 1_000))
        #expect(pulled.count >= 60)
        #expect(pulled.allSatisfy { $0.status == .linked })
        #expect(Set(pulled.map(\.sourceID)).count == pulled.count)
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        #expect(pulled.allSatisfy { contacts[$0.sourceID]?.count == 1 })
    }

    /// A pull stopped by a request links nothing, beside it or after it.
    @Test func aStopDuringThePullLinksNothing() async throws {
        let harness = try await SyncHarness.start(patients: 30, badShare: 0)
        defer { Task { await harness.stop() } }
        var sync = harness
        let stop = StopSignal()
        sync.endpoints.emrSource = GatedSource(inner: try #require(sync.endpoints.emrSource), gate: nil, stopAtPatients: stop)
        let report = try await sync.cycle.run(actor: .system, stop: stop)
        #expect(report.stopped)
        #expect(!report.jobs.contains { $0.kind == .link })
        #expect(try await sync.store.countRows(RowFilter(statuses: [.linked], system: .emr)) == 0)
    }
}

/// The Patient rows linked in `store` as soon as there is one, or 0 once `wait` has passed without.
private func linkedPatients(in store: SQLiteStore, within wait: Duration) async -> Int {
    let deadline = ContinuousClock.now + wait
    while ContinuousClock.now < deadline {
        let linked = (try? await store.countRows(RowFilter(statuses: [.linked], system: .emr, resourceType: "Patient"))) ?? 0
        if linked > 0 { return linked }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return 0
}

/// Holds the first page of the EMR's assessments until a Patient row is linked, or until `wait`
/// has passed, and says which happened.
actor AssessmentGate {
    let store: SQLiteStore
    let wait: Duration
    private(set) var linkedPatientsSeen = 0
    private(set) var waitedInVain = false
    private var opened = false

    init(store: SQLiteStore, wait: Duration) {
        self.store = store
        self.wait = wait
    }

    func pass() async {
        guard !opened else { return }
        opened = true
        linkedPatientsSeen = await linkedPatients(in: store, within: wait)
        waitedInVain = linkedPatientsSeen == 0
    }
}

/// The order in which the first page of each type is asked for; the episodes' first page is held
/// until the assessments' is asked for, or until `wait` has passed.
actor PageOrder {
    let wait: Duration
    private(set) var firstPages: [String] = []
    private(set) var assessmentsAskedWhileEpisodesHeld = false

    init(wait: Duration) { self.wait = wait }

    func asked(_ type: String, cursor: PageCursor?) async {
        guard cursor == nil, !firstPages.contains(type) else { return }
        firstPages.append(type)
        guard type == "EpisodeOfCare" else { return }
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline {
            if firstPages.contains("QuestionnaireResponse") {
                assessmentsAskedWhileEpisodesHeld = true
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Holds the Patients' `heldPage`th page until a Patient row is linked, or until `wait` has
/// passed, and says which happened, and whether the Patients' pull is still going (their last page
/// not yet answered).
actor PatientPageGate {
    let store: SQLiteStore
    let heldPage: Int
    let wait: Duration
    private(set) var linkedPatientsSeen = 0
    private(set) var waitedInVain = false
    private(set) var pulling = true
    private var pages = 0

    init(store: SQLiteStore, heldPage: Int, wait: Duration) {
        self.store = store
        self.heldPage = heldPage
        self.wait = wait
    }

    func asked() async {
        pages += 1
        guard pages == heldPage else { return }
        linkedPatientsSeen = await linkedPatients(in: store, within: wait)
        waitedInVain = linkedPatientsSeen == 0
    }

    func answered(_ page: SourcePage) {
        if page.next == nil { pulling = false }
    }
}

/// The bulk jobs a ``SmallBulkTarget`` sent: their object, their rows, and whether the Patients
/// were still being pulled.
actor BulkJobLog {
    private(set) var sent: [(object: String, records: Int, whilePulling: Bool)] = []

    func add(_ object: String, _ records: Int, whilePulling: Bool) { sent.append((object, records, whilePulling)) }
}

/// The sandbox's Salesforce with a bulk threshold of 30 rows, bulk jobs of 20 and collections of
/// 10, so that a seed of 60 Patients in pages of 10 takes the bulk path while it is pulled.
struct SmallBulkTarget: UpsertTarget {
    static let batch = 20
    let inner: any UpsertTarget
    let log: BulkJobLog
    let pulling: PatientPageGate

    var meter: APIMeter { inner.meter }
    var maxBatchSize: Int { 10 }
    var bulkThreshold: Int? { 30 }
    var bulkBatchSize: Int { Self.batch }

    func upsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        try await inner.upsert(object: object, externalIDField: externalIDField, records: records)
    }

    func update(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        try await inner.update(object: object, records: records)
    }

    func recordTypeID(object: String, developerName: String) async throws(RemoteCallError) -> String {
        try await inner.recordTypeID(object: object, developerName: developerName)
    }

    func recordIDs(object: String, externalIDField: String, value: String) async throws(RemoteCallError) -> [String] {
        try await inner.recordIDs(object: object, externalIDField: externalIDField, value: value)
    }

    func delete(object: String, id: String) async throws(RemoteCallError) {
        try await inner.delete(object: object, id: id)
    }

    func bulkUpsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        await log.add(object, records.count, whilePulling: await pulling.pulling)
        return try await inner.bulkUpsert(object: object, externalIDField: externalIDField, records: records)
    }

    func bulkUpdate(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        try await inner.bulkUpdate(object: object, records: records)
    }
}

/// The EMR's change source, with the first page of QuestionnaireResponse held by a gate, the
/// first pages' order kept, a page of Patients held, or a stop requested when the Patients' first
/// page is read.
struct GatedSource: ChangeSource {
    let inner: any ChangeSource
    let gate: AssessmentGate?
    var order: PageOrder?
    var stopAtPatients: StopSignal?
    var patientPages: PatientPageGate?

    var system: SourceSystem { inner.system }
    var meter: APIMeter { inner.meter }
    var overlapListing: (any OverlapListing)? { inner.overlapListing }

    func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        if request.resourceType == "QuestionnaireResponse", let gate { await gate.pass() }
        if let order { await order.asked(request.resourceType, cursor: cursor) }
        if request.resourceType == "Patient", let stopAtPatients { stopAtPatients.request() }
        guard request.resourceType == "Patient", let patientPages else { return try await inner.page(request, after: cursor) }
        await patientPages.asked()
        let page = try await inner.page(request, after: cursor)
        await patientPages.answered(page)
        return page
    }

    func deletions(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        try await inner.deletions(request, after: cursor)
    }
}
