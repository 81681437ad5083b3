import Foundation
import Testing

@testable import Sandbox

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The sandbox over real loopback sockets: start, serve, drop a connection mid-body, measure, stop.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct LiveSandboxTests {
    private func start(patients: Int = 30) async throws -> Sandbox {
        var configuration = TestSandbox.configuration(patients: patients)
        configuration.slowResponseDelay = .seconds(2)
        return try await Sandbox.start(configuration)
    }

    @Test func startReportsBothBaseURLsAndServesOverHTTPUntilStopped() async throws {
        let sandbox = try await start()
        let client = LoopbackClient(session: URLSession(configuration: .ephemeral))
        #expect(sandbox.salesforceURL.hasPrefix("http://127.0.0.1:"))
        #expect(sandbox.fhirURL.hasSuffix("/fhir"))
        let token = try await client.salesforceToken(sandbox: sandbox, credentials: TestSandbox.credentials)
        let page = try await client.json(
            "GET", sandbox.salesforceURL + "/services/data/v60.0/query?q=SELECT+COUNT()+FROM+Contact", bearer: token)
        #expect(page["totalSize"]?.intValue == sandbox.configuration.effectiveReferralCount)
        let fhirToken = try await client.fhirToken(sandbox: sandbox, credentials: TestSandbox.credentials)
        let bundle = try await client.json("GET", sandbox.fhirURL + "/Patient?_count=5", bearer: fhirToken)
        #expect(bundle["total"] == 30)
        await sandbox.stop()
        await #expect(throws: (any Error).self) {
            _ = try await client.json("GET", sandbox.fhirURL + "/metadata")
        }
    }

    @Test func aDroppedConnectionReachesTheClientAsATruncatedTransfer() async throws {
        let sandbox = try await start()
        defer { Task { await sandbox.stop() } }
        let client = LoopbackClient(session: URLSession(configuration: .ephemeral))
        let token = try await client.fhirToken(sandbox: sandbox, credentials: TestSandbox.credentials)
        try sandbox.faults.inject(FaultRule(.droppedConnection, on: .fhirSearch, trigger: .nextCalls(1)))
        let error = await #expect(throws: URLError.self) {
            _ = try await client.send("GET", sandbox.fhirURL + "/Patient?_count=30", bearer: token, body: nil)
        }
        // libcurl on Linux: -1 "transfer closed with N bytes remaining to read"; elsewhere -1005.
        #expect([URLError.Code(rawValue: -1), .networkConnectionLost].contains(error?.code))
        #expect(error.map { "\($0)".contains("transfer closed") || $0.code == .networkConnectionLost } == true)
        let after = try await client.json("GET", sandbox.fhirURL + "/Patient?_count=30", bearer: token)
        #expect(after["entry"]?.arrayValue?.count == 30)
    }

    @Test func aSlowResponseOutlastsAClientTimeout() async throws {
        let sandbox = try await start()
        defer { Task { await sandbox.stop() } }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 1
        let client = LoopbackClient(session: URLSession(configuration: configuration))
        try sandbox.faults.inject(FaultRule(.slowResponse, on: .fhirToken, trigger: .nextCalls(1)))
        let start = ContinuousClock.now
        let error = await #expect(throws: URLError.self) {
            _ = try await client.fhirToken(sandbox: sandbox, credentials: TestSandbox.credentials)
        }
        #expect(error?.code == .timedOut)
        #expect(ContinuousClock.now - start >= .milliseconds(900))
    }

    @Test func theSimulatorsServeEveryRecordOfTheBenchmarkOverLoopback() async throws {
        let result = try await SandboxBenchmark.run(patients: 3000, records: 4000)
        #expect(result.fhirResources == 3000)
        #expect(result.salesforceRecords == 4000)
        // Speed is a `stagelink bench` figure (release build, beside its reference), never a timed
        // assertion here: a loaded CI machine would fail a floor for reasons that are not the code's.
        #expect(result.fhirResourcesPerSecond.isFinite && result.fhirResourcesPerSecond > 0)
        #expect(result.salesforceRecordsPerSecond.isFinite && result.salesforceRecordsPerSecond > 0)
    }
}
