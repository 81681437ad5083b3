import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// Health tells the truth against the sandbox: a direction whose every pull fails is failing
/// (exit code 2) even though the link after each failed pull has nothing to do and succeeds; a
/// push by hand of an unknown id is reported apart and pages nobody; a later good pull heals it.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct HealthTests {
    private static func health(_ sync: SyncHarness) async throws -> ServiceHealth {
        try await ServiceHealth.assess(sync.store, thresholds: ServiceHealth.Thresholds(every: .seconds(900)))
    }

    @Test func everySearchFailingForTwoCyclesIsFailingUntilAPullSucceeds() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        #expect(try await Self.health(sync).level == .healthy)

        // POST /_sandbox/faults {"endpoint":"fhir.search","kind":"503","rate":1.0}
        try sync.sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .fhirSearch, trigger: .rate(1), retryAfterSeconds: 0))
        for _ in 0..<2 {
            let report = try await sync.sync()
            #expect(report.jobs.first { $0.kind == .pull && $0.direction == .inbound }?.status == .failed)
            #expect(report.jobs.first { $0.kind == .link && $0.direction == .inbound }?.status == .succeeded, "the link had nothing to do")
        }
        let failing = try await Self.health(sync)
        #expect(failing.level == .failing)
        #expect(failing.level.rawValue == 2, "status exits 2")
        #expect(failing.directions.first { $0.direction == .inbound }?.pull.level == .failing)
        #expect(failing.reasons.first?.message.contains("inbound is failing until a pull succeeds") == true, "\(failing.reasons)")

        sync.sandbox.faults.clear()
        try await sync.sync()
        let healed = try await Self.health(sync)
        #expect(healed.level == .healthy, "\(healed.reasons)")
    }

    @Test func malformedSearchPagesMakingEveryInboundPullFailAreFailing() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        try sync.sandbox.faults.inject(FaultRule(.malformedJSON, on: .fhirSearch, trigger: .rate(1)))
        try await sync.sync()
        try await sync.sync()
        let health = try await Self.health(sync)
        #expect(health.level == .failing)
        #expect(health.directions.first { $0.direction == .inbound }?.pull.last?.status == .failed)
        #expect(health.directions.first { $0.direction == .outbound }?.level == .healthy)
    }

    @Test func aPushByHandOfAnUnknownIdIsReportedApartAndLeavesTheServiceHealthy() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        await #expect(throws: OperationError.self) { _ = try await sync.operations.push(salesforceID: "003000000000000AAA", by: "dana") }
        let health = try await Self.health(sync)
        #expect(health.level == .healthy, "\(health.reasons)")
        let failure = try #require(health.manual.unresolvedFailure)
        #expect(failure.kind == .push)
        #expect(failure.trigger == .manual)
        #expect(failure.actor == .operator("dana"))
        #expect(failure.status == .failed)

        // A cycle asked for by a person counts as a cycle.
        let report = try await sync.cycle.run(actor: .operator("dana"), stop: StopSignal())
        #expect(report.jobs.allSatisfy { $0.trigger == .onDemand })
    }
}
