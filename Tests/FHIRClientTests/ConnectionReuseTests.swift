import Foundation
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import FHIRClient

@Suite(.timeLimit(.minutes(1)))
struct ConnectionReuseTests {
    @Test func fiftyCallsToTheSandboxGoOverOneConnection() async throws {
        try await SandboxHarness.with(patients: 5) { harness in
            let emr = try await harness.fhir()
            let port = try #require(URL(string: harness.sandbox.fhirURL)?.port)
            for _ in 0..<50 {
                _ = try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 5), after: nil)
            }
            // Discovery, token and 50 searches: one connection, whatever state it is in now.
            #expect(emr.meter.calls == 52)
            #expect(LoopbackConnections.count(toPort: port) == 1)
        }
    }
}
