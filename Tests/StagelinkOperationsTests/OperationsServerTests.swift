import Foundation
import Logging
import StagelinkEngine
import StagelinkStore
import Testing

@testable import StagelinkOperations

/// The endpoints `stagelink run --listen` serves, over real HTTP on loopback.
struct OperationsServerTests {
    @Test func theEndpointsAnswerOverHTTP() async throws {
        let store = try await OperationsFixture.store()
        let server = try await OperationsServer.start(
            listen: ListenAddress(port: 0), exporter: MetricsExporter(store: store), status: { (#"{"level":"degraded"}"#, false) },
            readiness: { Readiness(ready: false, reason: "no cycle has finished yet") }, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        defer { Task { await server.stop() } }
        #expect(server.address.host == "127.0.0.1")
        #expect(server.address.port > 0)
        let base = "http://127.0.0.1:\(server.address.port)"
        let http = HTTPTestClient()
        #expect(try await http.get("\(base)/healthz") == Answer(200, "ok\n"))
        #expect(try await http.get("\(base)/readyz") == Answer(503, #"{"ready":false,"role":"active","reason":"no cycle has finished yet","leaseHolder":null}"# + "\n"))
        #expect(try await http.get("\(base)/leader").status == 503)
        #expect(try await http.get("\(base)/status") == Answer(200, "{\"level\":\"degraded\"}\n"))
        let metrics = try await http.get("\(base)/metrics")
        #expect(metrics.status == 200)
        #expect(try PrometheusText(metrics.body).value("stagelink_failed_rows", ["code": "INVALID_FIELD"]) == 2)
        #expect(try await http.get("\(base)/nothing").status == 404)
        await server.stop()
    }

    @Test func readinessNeedsTheLeaseAndARecentCycle() {
        let me = LeaseHolder(name: "run", host: "h", pid: 1)
        let other = LeaseHolder(name: "run", host: "h", pid: 2)
        let now = Date()
        let live = Lease(holder: me, since: now.addingTimeInterval(-100), expiresAt: now.addingTimeInterval(20))
        let every = Duration.seconds(60)
        #expect(Readiness.assess(lease: live, holder: me, standby: false, lastCycleAt: now.addingTimeInterval(-119), every: every, now: now).ready)
        #expect(!Readiness.assess(lease: live, holder: me, standby: false, lastCycleAt: now.addingTimeInterval(-121), every: every, now: now).ready)
        #expect(!Readiness.assess(lease: live, holder: me, standby: false, lastCycleAt: nil, every: every, now: now).ready)
        #expect(!Readiness.assess(lease: live, holder: other, standby: false, lastCycleAt: now, every: every, now: now).ready)
        let expired = Lease(holder: me, since: now.addingTimeInterval(-100), expiresAt: now.addingTimeInterval(-1))
        #expect(!Readiness.assess(lease: expired, holder: me, standby: false, lastCycleAt: now, every: every, now: now).ready)
    }

    /// A standby is ready (Kubernetes keeps it in its Services and counts it available) with the
    /// role `standby`; `/leader` answers 200 on the lease holder only.
    @Test func aStandbyIsReadyAsAStandbyAndOnlyTheHolderIsTheLeader() async throws {
        let me = LeaseHolder(name: "run", host: "h", pid: 1)
        let other = LeaseHolder(name: "run", host: "h", pid: 2)
        let now = Date()
        let every = Duration.seconds(60)
        let theirs = Lease(holder: other, since: now.addingTimeInterval(-100), expiresAt: now.addingTimeInterval(20))
        let waiting = Readiness.assess(lease: theirs, holder: me, standby: true, lastCycleAt: nil, every: every, now: now)
        #expect(waiting == Readiness(ready: true, reason: "standby for \(other)", role: .standby, leaseHolder: "\(other)"))
        let orphaned = Readiness.assess(lease: nil, holder: me, standby: true, lastCycleAt: nil, every: every, now: now)
        #expect(orphaned.ready && orphaned.role == .standby && orphaned.leaseHolder == nil)
        // Once it took the lease over, it is active: ready after its first cycle.
        let mine = Lease(holder: me, since: now, expiresAt: now.addingTimeInterval(30))
        let tookOver = Readiness.assess(lease: mine, holder: me, standby: true, lastCycleAt: nil, every: every, now: now)
        #expect(tookOver == Readiness(ready: false, reason: "no cycle has finished yet", role: .active, leaseHolder: "\(me)"))
        #expect(Readiness.assess(lease: mine, holder: me, standby: true, lastCycleAt: now, every: every, now: now).role == .active)
        // Not a standby and not the holder: not ready.
        #expect(Readiness.assess(lease: theirs, holder: me, standby: false, lastCycleAt: now, every: every, now: now).role == .inactive)

        let store = try await OperationsFixture.store()
        for (answer, readyz, leader) in [(waiting, 200, 503), (Readiness.assess(lease: mine, holder: me, standby: true, lastCycleAt: now, every: every, now: now), 200, 200)] {
            let server = try await OperationsServer.start(
                listen: ListenAddress(port: 0), exporter: MetricsExporter(store: store), status: { ("{}", false) }, readiness: { answer },
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            let base = "http://127.0.0.1:\(server.address.port)"
            let http = HTTPTestClient()
            let ready = try await http.get("\(base)/readyz")
            #expect(ready.status == readyz)
            #expect(ready.body.contains(#""role":"\#(answer.role.rawValue)""#), "\(ready.body)")
            #expect(try await http.get("\(base)/leader").status == leader, "\(answer)")
            await server.stop()
        }
    }

    @Test func aListenAddressIsLoopbackUnlessAHostIsNamed() throws {
        #expect(try ListenAddress(parsing: "9464") == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try ListenAddress(parsing: ":9464") == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try ListenAddress(parsing: "[::1]:9464") == ListenAddress(host: "::1", port: 9464))
        #expect(try ListenAddress(parsing: "[::1]:9464").isLoopback)
        #expect(try !ListenAddress(parsing: "0.0.0.0:9464").isLoopback)
        #expect(throws: ListenAddressError.self) { try ListenAddress(parsing: "127.0.0.1:99999") }
        #expect(throws: ListenAddressError.self) { try ListenAddress(parsing: "host/../x:80") }
        #expect(throws: ListenAddressError.self) { try ListenAddress(parsing: "[::1:80") }
    }
}
