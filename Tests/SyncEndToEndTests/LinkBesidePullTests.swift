import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// With calls allowed at once, a cycle links each EMR type as soon as its pull has ended, beside
/// the pull of the types after it; one call at a time (`salesforce.concurrency: 1`), the link
/// waits for the whole pull.
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
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline {
            linkedPatientsSeen = (try? await store.countRows(RowFilter(statuses: [.linked], system: .emr, resourceType: "Patient"))) ?? 0
            if linkedPatientsSeen > 0 { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        waitedInVain = true
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

/// The EMR's change source, with the first page of QuestionnaireResponse held by a gate, the
/// first pages' order kept, or a stop requested when the Patients' first page is read.
struct GatedSource: ChangeSource {
    let inner: any ChangeSource
    let gate: AssessmentGate?
    var order: PageOrder?
    var stopAtPatients: StopSignal?

    var system: SourceSystem { inner.system }
    var meter: APIMeter { inner.meter }
    var overlapListing: (any OverlapListing)? { inner.overlapListing }

    func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        if request.resourceType == "QuestionnaireResponse", let gate { await gate.pass() }
        if let order { await order.asked(request.resourceType, cursor: cursor) }
        if request.resourceType == "Patient", let stopAtPatients { stopAtPatients.request() }
        return try await inner.page(request, after: cursor)
    }

    func deletions(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
        try await inner.deletions(request, after: cursor)
    }
}
