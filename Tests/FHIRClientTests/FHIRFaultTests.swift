import Foundation
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import FHIRClient

/// Every fault the FHIR simulator injects: the client succeeds after retrying, or says clearly
/// what failed, per record or per call; each test is bounded.
@Suite(.timeLimit(.minutes(1)))
struct FHIRFaultTests {
    static let patients = 12

    static func pullAll(_ emr: FHIRClient) async throws -> [IncomingRecord] {
        try await FHIRSandboxTests.pullAll(emr, "Patient", pageSize: 5).records
    }

    @Test(arguments: [FaultKind.internalServerError, .serviceUnavailable, .tooManyRequests])
    func aServerErrorOrRateLimitIsRetriedUntilThePullSucceeds(kind: FaultKind) async throws {
        try await SandboxHarness.with(patients: Self.patients) { harness in
            try harness.sandbox.faults.inject(FaultRule(kind, on: .fhirSearch, trigger: .nextCalls(2), retryAfterSeconds: 0))
            let emr = try await harness.fhir()
            #expect(try await Self.pullAll(emr).count == Self.patients)
            #expect(harness.sandbox.inspection.counts().calls[.fhirSearch] == 3 + 2)
        }
    }

    @Test func aRateLimitAnswerIsCountedAsAThrottleAndRetried() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            try harness.sandbox.faults.inject(FaultRule(.tooManyRequests, on: .fhirSearch, trigger: .nextCalls(2), retryAfterSeconds: 0))
            let emr = try await harness.fhir()
            #expect(try await Self.pullAll(emr).count == 3)
            #expect(emr.meter.throttles == 2, "each 429 is a throttle the linker's window narrows on")
        }
    }

    @Test func aLastingServerErrorIsATransientCallErrorWithTheOutcome() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            try harness.sandbox.faults.inject(FaultRule(.internalServerError, on: .fhirSearch, trigger: .rate(1)))
            let emr = try await harness.fhir()
            let error = await #expect(throws: RemoteCallError.self) { try await Self.pullAll(emr) }
            #expect(error?.kind == .transient)
            #expect(error?.error.code == "HTTP_500")
            #expect(error?.error.remoteBody?.contains("OperationOutcome") == true)
        }
    }

    @Test func anExpiredTokenIsRenewedOnceAndTheCallRepeatedOnce() async throws {
        try await SandboxHarness.with(patients: Self.patients) { harness in
            try harness.sandbox.faults.inject(FaultRule(.expiredToken, on: .fhirSearch, trigger: .nextCalls(1)))
            let emr = try await harness.fhir()
            #expect(try await Self.pullAll(emr).count == Self.patients)
            #expect(harness.sandbox.inspection.counts().calls[.fhirToken] == 2)
        }
    }

    @Test func aTokenRefusedTwiceIsUnauthorized() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            try harness.sandbox.faults.inject(FaultRule(.expiredToken, on: .fhirCreate, trigger: .rate(1)))
            let emr = try await harness.fhir()
            let error = await #expect(throws: RemoteCallError.self) {
                try await emr.createIfNoneExist(
                    resourceType: "Patient", identifier: ResourceIdentifier(system: FHIRSandboxTests.sfSystem, value: "003T"),
                    resource: FHIRSandboxTests.patient("003T"))
            }
            #expect(error?.kind == .unauthorized)
            #expect(harness.sandbox.inspection.counts().calls[.fhirCreate] == 2)
        }
    }

    @Test func aSlowPageIsCutAtTheDeadlineAndAskedForAgain() async throws {
        try await SandboxHarness.with(patients: Self.patients) { harness in
            // Waiting for the slow answer would take 60 s; the 5 s deadline cuts it and a retry gets the page.
            try harness.sandbox.faults.inject(FaultRule(.slowResponse, on: .fhirSearch, trigger: .nextCalls(1), delay: .seconds(60)))
            let emr = try await harness.fhir(http: SandboxHarness.quickHTTP(requestTimeout: .seconds(5)))
            let started = ContinuousClock.now
            #expect(try await Self.pullAll(emr).count == Self.patients)
            // Three pages of five, the first asked at least twice. (On a machine loaded by the whole suite an
            // ordinary page can pass the deadline too and be asked again: the count is a floor, not exact.)
            #expect(harness.sandbox.inspection.counts().calls[.fhirSearch, default: 0] >= 3 + 1)
            // Far under the held answer's 60 s even on a loaded machine: the page was cut, not waited for.
            #expect(ContinuousClock.now - started < .seconds(40))
        }
    }

    @Test func aConnectionDroppedMidPageIsRetried() async throws {
        try await SandboxHarness.with(patients: Self.patients) { harness in
            try harness.sandbox.faults.inject(FaultRule(.droppedConnection, on: .fhirSearch, trigger: .nextCalls(1)))
            let emr = try await harness.fhir()
            #expect(try await Self.pullAll(emr).count == Self.patients)
        }
    }

    @Test(arguments: [FaultKind.droppedConnection, .slowResponse])
    func aConditionalCreateWhoseAnswerWasLostIsSentAgainWithoutADuplicate(kind: FaultKind) async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            try harness.sandbox.faults.inject(FaultRule(kind, on: .fhirCreate, trigger: .nextCalls(1), delay: .seconds(3)))
            let emr = try await harness.fhir(http: SandboxHarness.quickHTTP(requestTimeout: .seconds(1)))
            let identifier = ResourceIdentifier(system: FHIRSandboxTests.sfSystem, value: "003D")
            let written = try await emr.createIfNoneExist(
                resourceType: "Patient", identifier: identifier, resource: FHIRSandboxTests.patient("003D")).get()
            #expect(!written.created)
            // Sent again at least once: how many times depends on when the lost answer's delay ends
            // against the client's timeout and backoff; what matters is that no copy is made.
            #expect((harness.sandbox.inspection.counts().calls[.fhirCreate] ?? 0) >= 2)
            let matching = harness.sandbox.inspection.fhirResources("Patient").filter {
                $0["identifier"]?[0]?["value"]?.stringValue == "003D"
            }
            #expect(matching.count == 1)
        }
    }

    @Test func aTruncatedPageIsAskedForAgain() async throws {
        try await SandboxHarness.with(patients: Self.patients) { harness in
            try harness.sandbox.faults.inject(FaultRule(.malformedJSON, on: .fhirSearch, trigger: .nextCalls(1)))
            let emr = try await harness.fhir()
            #expect(try await Self.pullAll(emr).count == Self.patients)
        }
    }

    @Test func aPageThatStaysTruncatedIsAMalformedResponse() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            try harness.sandbox.faults.inject(FaultRule(.malformedJSON, on: .fhirSearch, trigger: .rate(1)))
            let emr = try await harness.fhir()
            let error = await #expect(throws: RemoteCallError.self) { try await Self.pullAll(emr) }
            #expect(error?.kind == .malformedResponse)
            #expect(harness.sandbox.inspection.counts().calls[.fhirSearch] == 4)
        }
    }

    @Test func aSchemaInvalidResourceIsStillHandedOn() async throws {
        try await SandboxHarness.with(patients: Self.patients) { harness in
            try harness.sandbox.faults.inject(FaultRule(.schemaInvalidResource, on: .fhirSearch, trigger: .rate(1)))
            let emr = try await harness.fhir()
            let records = try await Self.pullAll(emr)
            #expect(records.count == Self.patients)
            #expect(Set(records.map(\.sourceID)).count == Self.patients)
            let damaged = records.filter { record in
                (try? StagelinkEngine.JSONValue(parsing: record.payload))?["name"]?.stringValue == "not-a-HumanName"
            }
            #expect(!damaged.isEmpty)
        }
    }

    @Test func aSchemaInvalidReadIsStillReturned() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            try harness.sandbox.faults.inject(FaultRule(.schemaInvalidResource, on: .fhirRead, trigger: .nextCalls(1)))
            let emr = try await harness.fhir()
            let id = try #require(harness.sandbox.inspection.fhirResources("Patient").first?["id"]?.stringValue)
            let record = try await emr.read(resourceType: "Patient", id: id)
            #expect(record?.sourceID == id)
            #expect(record.flatMap { try? StagelinkEngine.JSONValue(parsing: $0.payload) }?["birthDate"] == .number("19850101"))
        }
    }
}
