import Foundation
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import SalesforceClient

/// Every fault the Salesforce simulator injects: the client succeeds after retrying, or says
/// clearly what failed, per record or per call; each test is bounded.
@Suite(.timeLimit(.minutes(1)))
struct SalesforceFaultTests {
    static let records = (0..<10).map { SalesforceSandboxTests.contact($0) }

    static func upsert(_ salesforce: SalesforceClient) async throws(RemoteCallError) -> [RecordResult] {
        try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
    }

    static func allSucceeded(_ results: [RecordResult]) -> Bool {
        results.count == records.count && results.allSatisfy { if case .success = $0 { true } else { false } }
    }

    static let firstPage = DeltaRequest(resourceType: "Contact", since: nil, fields: ["LastName"], pageSize: 200)

    @Test(arguments: [FaultKind.internalServerError, .serviceUnavailable, .tooManyRequests])
    func aServerErrorOrRateLimitIsRetriedUntilTheUpsertSucceeds(kind: FaultKind) async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(kind, on: .salesforceCollections, trigger: .nextCalls(2), retryAfterSeconds: 0))
            let salesforce = try await harness.salesforce()
            #expect(Self.allSucceeded(try await Self.upsert(salesforce)))
            #expect(harness.sandbox.inspection.counts().calls[.salesforceCollections] == 3)
        }
    }

    @Test func retryAfterIsWaitedFor() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .salesforceQuery, trigger: .nextCalls(1), retryAfterSeconds: 1))
            let salesforce = try await harness.salesforce()
            _ = try await salesforce.integrationUserID()
            let started = ContinuousClock.now
            _ = try await salesforce.page(Self.firstPage, after: nil)
            #expect(ContinuousClock.now - started >= .seconds(1))
        }
    }

    @Test func aLastingServerErrorIsATransientCallErrorWithSalesforcesBody() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.internalServerError, on: .salesforceCollections, trigger: .rate(1)))
            let salesforce = try await harness.salesforce()
            let error = await #expect(throws: RemoteCallError.self) { try await Self.upsert(salesforce) }
            #expect(error?.kind == .transient)
            #expect(error?.error.code == "HTTP_500")
            #expect(error?.error.remoteBody?.contains("UNKNOWN_EXCEPTION") == true)
            #expect(harness.sandbox.inspection.counts().calls[.salesforceCollections] == 4)
        }
    }

    @Test func requestLimitExceededStopsTheJobWithoutRetrying() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.requestLimitExceeded, on: .salesforceQuery, trigger: .nextCalls(1)))
            let salesforce = try await harness.salesforce()
            let error = await #expect(throws: RemoteCallError.self) { try await salesforce.page(Self.firstPage, after: nil) }
            #expect(error?.kind == .limitReached)
            #expect(error?.stopsJob == true)
            #expect(error?.error.code == "REQUEST_LIMIT_EXCEEDED")
            #expect(harness.sandbox.inspection.counts().calls[.salesforceQuery] == 1)
        }
    }

    @Test func theLimitOnConcurrentLongRequestsIsAThrottleRetriedNotAStoppedJob() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.concurrentRequestLimit, on: .salesforceCollections, trigger: .nextCalls(2)))
            let salesforce = try await harness.salesforce()
            #expect(Self.allSucceeded(try await Self.upsert(salesforce)))
            #expect(salesforce.meter.throttles == 2, "each refusal is a throttle the linker's window narrows on")
            #expect(harness.sandbox.inspection.counts().calls[.salesforceCollections] == 3)
        }
    }

    @Test func theLimitOnConcurrentLongRequestsOutlastingTheRetriesFailsTheRowsTransiently() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.concurrentRequestLimit, on: .salesforceCollections, trigger: .rate(1)))
            let salesforce = try await harness.salesforce()
            let error = await #expect(throws: RemoteCallError.self) { try await Self.upsert(salesforce) }
            #expect(error?.kind == .transient, "it passes as long requests finish: the job goes on")
            #expect(error?.stopsJob == false)
            #expect(error?.error.code == "REQUEST_LIMIT_EXCEEDED")
            #expect(error?.error.message.contains("ConcurrentPerOrgLongTxn") == true)
        }
    }

    @Test func anExpiredSessionIsRenewedOnceAndTheCallRepeatedOnce() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.expiredToken, on: .salesforceCollections, trigger: .nextCalls(1)))
            let salesforce = try await harness.salesforce()
            #expect(Self.allSucceeded(try await Self.upsert(salesforce)))
            let calls = harness.sandbox.inspection.counts().calls
            #expect(calls[.salesforceToken] == 2)
            #expect(calls[.salesforceCollections] == 2)
        }
    }

    @Test func aSessionRefusedTwiceIsUnauthorized() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.expiredToken, on: .salesforceCollections, trigger: .rate(1)))
            let salesforce = try await harness.salesforce()
            let error = await #expect(throws: RemoteCallError.self) { try await Self.upsert(salesforce) }
            #expect(error?.kind == .unauthorized)
            let calls = harness.sandbox.inspection.counts().calls
            #expect(calls[.salesforceToken] == 2)
            #expect(calls[.salesforceCollections] == 2)
        }
    }

    @Test func aSlowAnswerPastTheDeadlineIsRetriedAndTheUpsertLands() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(
                FaultRule(.slowResponse, on: .salesforceCollections, trigger: .nextCalls(1), delay: .seconds(60)))
            // A deadline that a loaded machine still meets when the answer is not held back (3 s was
            // not, at the suite's start), far under the held answer's 60 s.
            let salesforce = try await harness.salesforce(http: SandboxHarness.quickHTTP(requestTimeout: .seconds(10)))
            let started = ContinuousClock.now
            let results = try await Self.upsert(salesforce)
            #expect(Self.allSucceeded(results))
            // Waiting for the slow answer would take 60 s.
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(harness.sandbox.inspection.salesforceRecords("Contact").filter { $0["FirstName"]?.stringValue == "Test" }.count == 10)
        }
    }

    @Test(arguments: [SandboxEndpoint.salesforceQuery, .salesforceCollections])
    func aConnectionDroppedMidBodyIsRetried(endpoint: SandboxEndpoint) async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.droppedConnection, on: endpoint, trigger: .nextCalls(1)))
            let salesforce = try await harness.salesforce()
            #expect(Self.allSucceeded(try await Self.upsert(salesforce)))
            let page = try await salesforce.page(Self.firstPage, after: nil)
            #expect(page.records.count == harness.sandbox.inspection.salesforceRecords("Contact").count)
            #expect(harness.sandbox.inspection.counts().calls[endpoint] == 2)
        }
    }

    @Test func aTruncatedPageIsAskedForAgain() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.malformedJSON, on: .salesforceQuery, trigger: .nextCalls(1)))
            let salesforce = try await harness.salesforce()
            let page = try await salesforce.page(Self.firstPage, after: nil)
            #expect(page.records.count == harness.sandbox.inspection.salesforceRecords("Contact").count)
        }
    }

    @Test func aPageThatStaysTruncatedIsAMalformedResponse() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.malformedJSON, on: .salesforceQuery, trigger: .rate(1)))
            let salesforce = try await harness.salesforce()
            let error = await #expect(throws: RemoteCallError.self) { try await salesforce.page(Self.firstPage, after: nil) }
            #expect(error?.kind == .malformedResponse)
            #expect(harness.sandbox.inspection.counts().calls[.salesforceQuery] == 4)
        }
    }

    @Test func rowLocksFailOnlyTheirRecordsAsTransient() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.faults.inject(FaultRule(.rowLock, on: .salesforceCollections, trigger: .nextCalls(1), affectedShare: 0.4))
            let salesforce = try await harness.salesforce()
            let results = try await Self.upsert(salesforce)
            let failures = results.compactMap { if case .failure(let error) = $0 { error } else { nil } }
            #expect(!failures.isEmpty && failures.count < results.count)
            #expect(failures.allSatisfy { $0.code == "UNABLE_TO_LOCK_ROW" && $0.isTransient && $0.remoteBody != nil })
        }
    }

    @Test func everyAnswersLimitInfoReachesTheMeter() async throws {
        try await SandboxHarness.with(configure: { $0.dailyAPILimit = 5000 }) { harness in
            let salesforce = try await harness.salesforce()
            _ = try await salesforce.page(Self.firstPage, after: nil)
            _ = try await Self.upsert(salesforce)
            let usage = harness.sandbox.inspection.counts().apiUsage
            #expect(salesforce.meter.usage == APIUsage(used: usage, limit: 5000))
            #expect(salesforce.meter.calls == 3)
        }
    }

    @Test func callsStopCleanlyAtTheConfiguredShareOfTheDailyLimit() async throws {
        try await SandboxHarness.with(configure: { $0.dailyAPILimit = 10 }) { harness in
            let salesforce = try await harness.salesforce(limitShare: 0.5)
            var stopped: RemoteCallError?
            for _ in 0..<20 {
                do throws(RemoteCallError) {
                    _ = try await salesforce.page(Self.firstPage, after: nil)
                } catch {
                    stopped = error
                    break
                }
            }
            #expect(stopped?.kind == .limitReached)
            #expect(stopped?.error.code == "API_LIMIT_SHARE_REACHED")
            #expect(harness.sandbox.inspection.counts().apiUsage == 5)
        }
    }
}
