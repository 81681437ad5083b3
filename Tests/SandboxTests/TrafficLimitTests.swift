import Foundation
import Testing

@testable import Sandbox

/// Latency and the vendors' limits on traffic (issue 22): Salesforce's limit on concurrent long
/// requests and an EHR's rate limit, each answered as the vendor documents it.
struct TrafficLimitTests {
    @Test func aLatencyNamesEachSimulatorInMillisecondsOrSeconds() throws {
        let both = try SandboxLatency(parsing: "salesforce=150ms,emr=80ms")
        #expect(both.salesforce == .milliseconds(150))
        #expect(both.emr == .milliseconds(80))
        #expect(both.description == "salesforce=150ms,emr=80ms")
        let one = try SandboxLatency(parsing: "emr=0.5s")
        #expect(one.emr == .milliseconds(500))
        #expect(one.salesforce == .zero)
    }

    @Test(arguments: ["salesforce=fast", "db=10ms", "emr=20000ms", "emr=-1ms", "salesforce=150", "emr=nanms", "emr=infs", ""])
    func aLatencyThatIsNotOneIsRefusedWithWhatToWrite(_ text: String) {
        #expect(throws: SandboxError.self) { try SandboxLatency(parsing: text) }
    }

    @Test func whileTheLongRequestLimitIsReachedANewRequestIsRefusedUntilOneEnds() async throws {
        var configuration = TestSandbox.configuration()
        // Every running request counts as long, and one may run.
        configuration.salesforceLongRequests = LongRequestLimit(limit: 1, threshold: .zero)
        let world = TestSandbox.world(configuration)
        let path = "/services/data/v60.0/query?q=SELECT+Id+FROM+Contact+LIMIT+1"
        let (refused, served) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            // A request that has run past the threshold, still running.
            let running = try #require(world.salesforceRequests.enter())
            let refused = try await client.call(.get, path, bearer: token)
            world.salesforceRequests.leave(running)
            return (refused, try await client.call(.get, path, bearer: token))
        }
        #expect(refused.status == 403)
        #expect(refused.json[0]?["errorCode"] == "REQUEST_LIMIT_EXCEEDED")
        #expect(refused.json[0]?["message"] == "ConcurrentPerOrgLongTxn Limit exceeded.")
        #expect(served.status == 200, "once fewer long requests run, new ones are served")
    }

    @Test func aRequestShorterThanTheThresholdNeverCountsTowardsTheLimit() {
        let gate = LongRequestGate(rule: LongRequestLimit(limit: 1, threshold: .seconds(20)))
        let first = gate.enter()
        #expect(first != nil)
        #expect(gate.enter() != nil, "a request running less than 20 seconds is not long")
    }

    @Test func overItsRateLimitTheEHRAnswers429ThrottledWithRetryAfter() async throws {
        var configuration = TestSandbox.configuration()
        configuration.emrRateLimit = RequestRate(requests: 3, per: .seconds(3600))
        let world = TestSandbox.world(configuration)
        let replies = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            var replies: [Reply] = []
            for _ in 0..<5 { replies.append(try await client.call(.get, "/fhir/Patient?_count=1", bearer: token)) }
            return replies
        }
        #expect(replies.prefix(3).allSatisfy { $0.status == 200 }, "the token request is not counted")
        for reply in replies.dropFirst(3) {
            #expect(reply.status == 429)
            #expect(reply.json["resourceType"] == "OperationOutcome")
            #expect(reply.json["issue"]?[0]?["code"] == "throttled")
            let wait = try #require(reply.header("Retry-After").flatMap { Int($0) })
            #expect((3_500...3_600).contains(wait), "Retry-After says when the oldest request leaves the window")
        }
    }
}
