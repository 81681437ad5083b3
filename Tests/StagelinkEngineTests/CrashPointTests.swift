import Foundation
import Synchronization
import Testing
@testable import StagelinkEngine
import StagelinkStore

/// The crash points a harness kills the process at are reached where they say, and are inert
/// once the hook is gone.
@Suite(.serialized)
struct CrashPointTests {
    @Test func aPullReachesThePagePointAndTheStagePointOncePerPage() async throws {
        let store = try SQLiteStore.temporary()
        let reached = Mutex<[CrashPoint]>([])
        // Another test's work may reach points meanwhile: only this store's pull is counted below.
        CrashPoints.install { point in reached.withLock { $0.append(point) } }
        defer { CrashPoints.uninstall() }
        let pages = (0..<2).map { page in (1...2).map { Fixtures.record(Fixtures.patient(id: "p\(page * 2 + $0)", version: page * 2 + $0)) } }
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [], logger: .init(label: "test"))
        try await DeltaPuller(store: store, source: ScriptedSource(pages: pages), pageSize: 2).pull("Patient", into: recorder, stop: StopSignal())
        // Tests run in parallel in one process: others' points may be counted too, never fewer.
        let points = reached.withLock { $0 }
        #expect(points.filter { $0 == .pullPage }.count >= 2, "once per page")
        #expect(points.filter { $0 == .stageBeforeCommit }.count >= 2, "once per staged page")
    }

    @Test func aPullReachesThePagePointForEachPageOfItsOverlapListingToo() async throws {
        let store = try SQLiteStore.temporary()
        // The pages after the window come once the listing has fetched what it lacks: the point
        // is then reached after that fetch too (the two run at once, in either order otherwise).
        let source = ListingSource((1...4).map { Fixtures.record(Fixtures.patient(id: "p\($0)", version: $0)) }, pagesAfterAFetch: true)
        let pull = { () async throws in
            let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [], logger: .init(label: "test"))
            try await DeltaPuller(store: store, source: source, overlap: .seconds(300), pageSize: 10).pull("Patient", into: recorder, stop: StopSignal())
        }
        try await pull()
        source.commit(Fixtures.record(Fixtures.patient(id: "late", version: 3)))
        // What the source had been asked to read by id each time the point was reached.
        let reached = Mutex<[[String]]>([])
        CrashPoints.install { point in if point == .pullPage { reached.withLock { $0.append(source.fetched) } } }
        defer { CrashPoints.uninstall() }
        try await pull()
        let fetchedAtThePoint = reached.withLock { $0 }
        #expect(fetchedAtThePoint.first == [], "reached with the listing's page, before the late record it names is read")
        #expect(fetchedAtThePoint.contains(["late"]), "and with the page after the listing")
    }

    @Test func theBulkPointsAreReachedWhilePollingAndAfterEachFile() async throws {
        let store = try SQLiteStore.temporary()
        let reached = Mutex<[CrashPoint]>([])
        CrashPoints.install { point in reached.withLock { $0.append(point) } }
        defer { CrashPoints.uninstall() }
        _ = try await BulkPullerTests.pull(store, BulkPullerTests.export())
        let points = reached.withLock { $0 }
        #expect(points.filter { $0 == .bulkPolling }.count >= 1)
        #expect(points.filter { $0 == .bulkFileStaged }.count >= 2, "once per file")
    }

    @Test func aPointIsInertWithoutAHook() {
        let reached = Mutex(0)
        CrashPoints.install { _ in reached.withLock { $0 += 1 } }
        CrashPoints.uninstall()
        CrashPoints.reach(.emrCreated)
        #expect(reached.withLock { $0 } == 0)
        #expect(Set(CrashPoint.all.map(\.rawValue)).count == CrashPoint.all.count)
    }
}
