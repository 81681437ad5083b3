import Foundation
import Testing

@testable import Sandbox

/// Every fault kind, as each simulator shows it on the wire, and the counters that tell what happened.
struct FaultTests {
    private func contactRecords(_ count: Int, prefix: String = "f") -> WireJSON {
        ["allOrNone": false, "records": .array((0..<count).map {
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": .string("\(prefix)\($0)"), "LastName": "Novak"]
        })]
    }

    @Test(arguments: [
        (FaultKind.internalServerError, 500, "UNKNOWN_EXCEPTION"), (.serviceUnavailable, 503, "SERVER_UNAVAILABLE"),
        (.tooManyRequests, 429, "REQUEST_LIMIT_EXCEEDED"), (.requestLimitExceeded, 403, "REQUEST_LIMIT_EXCEEDED"),
        (.expiredToken, 401, "INVALID_SESSION_ID"),
    ])
    func salesforceStatusFaultsStopTheCallBeforeAnyWrite(_ kind: FaultKind, _ status: Int, _ code: String) async throws {
        let world = TestSandbox.world()
        try world.faults.inject(FaultRule(kind, on: .salesforceCollections, trigger: .nextCalls(1), retryAfterSeconds: 7))
        let (faulted, retried) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let path = "/services/data/v60.0/composite/sobjects/Contact/EMR_Patient_Id__c"
            return (try await client.call(.patch, path, bearer: token, json: contactRecords(3)),
                    try await client.call(.patch, path, bearer: token, json: contactRecords(3)))
        }
        #expect(faulted.status == status)
        #expect(faulted.json[0]?["errorCode"] == .string(code))
        #expect(faulted.header("Sforce-Limit-Info") != nil)
        if status == 503 || status == 429 { #expect(faulted.header("Retry-After") == "7") }
        #expect(retried.status == 200)
        let counts = SandboxInspection(world: world).counts()
        #expect(counts.calls[.salesforceCollections] == 2)
        #expect(counts.faults[.salesforceCollections] == 1)
        #expect(counts.writes[.salesforceCollections] == 3)
    }

    @Test(arguments: [(FaultKind.internalServerError, 500), (.serviceUnavailable, 503), (.tooManyRequests, 429), (.expiredToken, 401)])
    func fhirStatusFaultsAnswerWithAnOperationOutcome(_ kind: FaultKind, _ status: Int) async throws {
        let world = TestSandbox.world()
        try world.faults.inject(FaultRule(kind, on: .fhirCreate, trigger: .nextCalls(1)))
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(.post, "/fhir/Patient", bearer: try await client.fhirToken(), json: ["resourceType": "Patient"])
        }
        #expect(reply.status == status)
        #expect(reply.json["resourceType"] == "OperationOutcome")
        #expect(SandboxInspection(world: world).counts().writes[.fhirCreate, default: 0] == 0)
    }

    @Test func rowLockFailsSomeRecordsOfACollectionAndTheOthersSucceed() async throws {
        let world = TestSandbox.world()
        try world.faults.inject(FaultRule(.rowLock, on: .salesforceCollections, trigger: .nextCalls(1), affectedShare: 0.3))
        let reply = try await TestSandbox.salesforce(world) { client in
            try await client.call(
                .patch, "/services/data/v60.0/composite/sobjects/Contact/EMR_Patient_Id__c",
                bearer: try await client.salesforceToken(), json: contactRecords(20))
        }
        let results = reply.json.arrayValue!
        let locked = results.filter { $0["errors"]?[0]?["statusCode"] == "UNABLE_TO_LOCK_ROW" }
        #expect(reply.status == 200)
        #expect(!locked.isEmpty && locked.count < 20)
        #expect(results.filter { $0["success"] == true }.count == 20 - locked.count)
        #expect(SandboxInspection(world: world).counts().writes[.salesforceCollections] == 20 - locked.count)
    }

    @Test func malformedJSONIsA200WithATruncatedBodyAfterTheWriteHappened() async throws {
        let world = TestSandbox.world()
        try world.faults.inject(FaultRule(.malformedJSON, on: .salesforceCollections, trigger: .nextCalls(1)))
        let reply = try await TestSandbox.salesforce(world) { client in
            try await client.call(
                .patch, "/services/data/v60.0/composite/sobjects/Contact/EMR_Patient_Id__c",
                bearer: try await client.salesforceToken(), json: contactRecords(4))
        }
        #expect(reply.status == 200)
        #expect(throws: JSONSyntaxError.self) { try WireJSON.parse(reply.body) }
        #expect(SandboxInspection(world: world).counts().writes[.salesforceCollections] == 4)
    }

    @Test func schemaInvalidResourceBreaksOneEntryOfASearchPage() async throws {
        let world = TestSandbox.world()
        try world.faults.inject(FaultRule(.schemaInvalidResource, on: .fhirSearch, trigger: .nextCalls(1)))
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(.get, "/fhir/Patient?_count=10", bearer: try await client.fhirToken())
        }
        let resources = reply.json["entry"]!.arrayValue!.map { $0["resource"]! }
        let broken = resources.filter { $0["birthDate"]?.intValue != nil }
        #expect(broken.count == 1)
        #expect(broken.first?["name"]?.stringValue != nil)
    }

    @Test func slowResponseAnswersAfterTheDelay() async throws {
        let world = TestSandbox.world()
        try world.faults.inject(FaultRule(.slowResponse, on: .fhirRead, trigger: .nextCalls(1), delay: .milliseconds(400)))
        let id = world.emr.entries("Patient")[0].resource["id"]!.stringValue!
        let (elapsed, status) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let start = ContinuousClock.now
            let reply = try await client.call(.get, "/fhir/Patient/\(id)", bearer: token)
            return (ContinuousClock.now - start, reply.status)
        }
        #expect(status == 200)
        #expect(elapsed >= .milliseconds(400))
    }

    @Test func rateFaultsAreDeterministicForASeed() throws {
        func decisions(seed: UInt64) throws -> [Bool] {
            let faults = FaultInjector(seed: seed)
            try faults.inject(FaultRule(.serviceUnavailable, on: .fhirSearch, trigger: .rate(0.3)))
            return (0..<200).map { _ in faults.decide(.fhirSearch) != nil }
        }
        let first = try decisions(seed: 5)
        #expect(first == (try decisions(seed: 5)))
        #expect(first != (try decisions(seed: 6)))
        #expect((30...90).contains(first.filter { $0 }.count))
    }

    @Test func aFaultKindThatCannotHappenOnAnEndpointIsRefused() {
        let faults = FaultInjector(seed: 1)
        #expect(throws: SandboxError.self) { try faults.inject(FaultRule(.rowLock, on: .fhirSearch, trigger: .nextCalls(1))) }
        #expect(throws: SandboxError.self) {
            try faults.inject(FaultRule(.requestLimitExceeded, on: .fhirRead, trigger: .nextCalls(1)))
        }
    }

    @Test func faultsCanBeSetOverTheInspectionAPI() async throws {
        let world = TestSandbox.world()
        let (set, faulted) = try await TestSandbox.fhir(world) { client in
            let set = try await client.call(
                .post, "/_sandbox/faults", json: ["endpoint": "fhir.search", "kind": "503", "nextCalls": 1])
            let faulted = try await client.call(.get, "/fhir/Patient", bearer: try await client.fhirToken())
            return (set, faulted)
        }
        #expect(set.status == 201)
        #expect(faulted.status == 503)
        #expect(world.faults.rules.isEmpty)
    }
}
