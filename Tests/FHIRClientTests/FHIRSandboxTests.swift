import Foundation
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import FHIRClient

/// The client against the FHIR simulator over real HTTP on loopback.
@Suite(.timeLimit(.minutes(1)))
struct FHIRSandboxTests {
    static let sfSystem = "https://stagelink.example/salesforce-contact"

    static func patient(_ sfID: String, family: String = "Referral", id: String? = nil, birthDate: String = "1990-04-01") -> [UInt8] {
        let idMember = id.map { #""id":"\#($0)","# } ?? ""
        return Array(
            #"{"resourceType":"Patient",\#(idMember)"identifier":[{"system":"\#(sfSystem)","value":"\#(sfID)"}],"name":[{"family":"\#(family)","given":["Ada"]}],"gender":"female","birthDate":"\#(birthDate)"}"#
                .utf8)
    }

    /// Every page of a delta pull.
    static func pullAll(_ emr: FHIRClient, _ type: String, since: Date? = nil, pageSize: Int) async throws -> (records: [IncomingRecord], pages: Int) {
        var records: [IncomingRecord] = []
        var cursor: PageCursor?
        var pages = 0
        repeat {
            let page = try await emr.page(DeltaRequest(resourceType: type, since: since, pageSize: pageSize), after: cursor)
            records += page.records
            cursor = page.next
            pages += 1
        } while cursor != nil
        return (records, pages)
    }

    @Test func aConditionalCreateMatchingSeveralPatientsIsALastingMultipleMatchesNamingThem() async throws {
        try await SandboxHarness.with { harness in
            let emr = try await harness.fhir()
            let identifier = ResourceIdentifier(system: Self.sfSystem, value: "003DUP")
            // Two Patients carry the identifier: one made by it, one made under another condition.
            let first = try await emr.createIfNoneExist(resourceType: "Patient", identifier: identifier, resource: Self.patient("003DUP")).get()
            let second = try await emr.createIfNoneExist(
                resourceType: "Patient", identifier: ResourceIdentifier(system: Self.sfSystem, value: "003DUP-elsewhere"),
                resource: Self.patient("003DUP")
            ).get()
            let third = try await emr.createIfNoneExist(resourceType: "Patient", identifier: identifier, resource: Self.patient("003DUP"))
            guard case .failure(let error) = third else {
                Issue.record("a conditional create matching two Patients succeeded")
                return
            }
            #expect(error.code == "MULTIPLE_MATCHES")
            #expect(!error.isTransient)
            #expect(error.message.hasPrefix("2 Patient resources in the EMR carry the identifier \(Self.sfSystem)|003DUP (Patient/"))
            #expect(error.message.contains("Patient/\(first.id)") && error.message.contains("Patient/\(second.id)"))
            #expect(error.remoteBody?.contains("OperationOutcome") == true)
            #expect(harness.sandbox.inspection.fhirResources("Patient").count == 22)
        }
    }

    @Test func aDeltaPullHandsOnEveryPatientOldestFirstAsItsExactBytes() async throws {
        try await SandboxHarness.with(patients: 30) { harness in
            let emr = try await harness.fhir()
            let (records, pages) = try await Self.pullAll(emr, "Patient", pageSize: 7)
            #expect(pages == 5)
            #expect(records.count == 30)
            #expect(Set(records.map(\.sourceID)).count == 30)
            let stamps = records.compactMap(\.lastUpdated)
            #expect(stamps.count == 30 && stamps == stamps.sorted())
            for record in records.prefix(5) {
                let stored = try #require(harness.sandbox.inspection.fhirResource("Patient", id: record.sourceID))
                let received = try StagelinkEngine.JSONValue(parsing: record.payload)
                #expect(received["meta"]?["versionId"]?.stringValue == record.version)
                #expect(record.payload == stored.serialized())
            }
            let calls = harness.sandbox.inspection.counts().calls
            #expect(calls[.fhirToken] == 1)
            #expect(emr.meter.calls == 2 + 5)
        }
    }

    @Test func aDeltaPullFromAMomentSkipsWhatDidNotChange() async throws {
        try await SandboxHarness.with(patients: 10) { harness in
            let emr = try await harness.fhir()
            try await Task.sleep(for: .milliseconds(20))
            let since = Date()
            let written = try await emr.createIfNoneExist(
                resourceType: "Patient", identifier: ResourceIdentifier(system: Self.sfSystem, value: "003NEW"), resource: Self.patient("003NEW"))
            let (records, _) = try await Self.pullAll(emr, "Patient", since: since, pageSize: 50)
            #expect(records.map(\.sourceID) == [try written.get().id])
        }
    }

    @Test func aConditionalCreateMakesOnePatientHoweverOftenItIsSent() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            let emr = try await harness.fhir()
            let identifier = ResourceIdentifier(system: Self.sfSystem, value: "003A|x")
            let first = try await emr.createIfNoneExist(resourceType: "Patient", identifier: identifier, resource: Self.patient("003A|x")).get()
            let second = try await emr.createIfNoneExist(resourceType: "Patient", identifier: identifier, resource: Self.patient("003A|x")).get()
            #expect(first.created && !second.created)
            #expect(first.id == second.id)
            #expect(first.versionID == "1")
            #expect(first.lastUpdated != nil)
            #expect(harness.sandbox.inspection.fhirResources("Patient").count == 4)
        }
    }

    @Test func anUpdateGoesThroughOnTheKnownVersionAndFailsOnAStaleOne() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            let emr = try await harness.fhir()
            let created = try await emr.createIfNoneExist(
                resourceType: "Patient", identifier: ResourceIdentifier(system: Self.sfSystem, value: "003B"), resource: Self.patient("003B")).get()
            let updated = try await emr.update(
                resourceType: "Patient", id: created.id, resource: Self.patient("003B", family: "Renamed", id: created.id), ifMatch: created.versionID)
            #expect(try updated.get().versionID == "2")
            let stale = try await emr.update(
                resourceType: "Patient", id: created.id, resource: Self.patient("003B", family: "Again", id: created.id), ifMatch: "W/\"1\"")
            guard case .failure(let error) = stale else {
                Issue.record("a stale If-Match was accepted")
                return
            }
            #expect(error.code == "VERSION_MOVED")
            #expect(error.isTransient)
            #expect(error.remoteBody?.contains("OperationOutcome") == true)
        }
    }

    @Test func anInvalidResourceFailsAloneWithTheOutcomesCodeAndField() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            let emr = try await harness.fhir()
            let result = try await emr.createIfNoneExist(
                resourceType: "Patient", identifier: ResourceIdentifier(system: Self.sfSystem, value: "003C"),
                resource: Self.patient("003C", birthDate: "1985-13-45"))
            guard case .failure(let error) = result else {
                Issue.record("an invalid birth date was accepted")
                return
            }
            #expect(error.code == "value")
            #expect(error.fields == ["Patient.birthDate"])
            #expect(!error.message.isEmpty)
        }
    }

    @Test func aReadReturnsTheResourceOrNothing() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            let emr = try await harness.fhir()
            let id = try #require(harness.sandbox.inspection.fhirResources("Patient").first?["id"]?.stringValue)
            let record = try await emr.read(resourceType: "Patient", id: id)
            #expect(record?.sourceID == id)
            #expect(record?.version == "1")
            #expect(try await emr.read(resourceType: "Patient", id: "no-such-patient") == nil)
        }
    }

    @Test func theTokenIsReplacedBeforeItExpires() async throws {
        // A token counts as fresh for lifetime − margin = 10 s: room for two calls on a busy machine
        // (3 s was not: CI's load once stretched two calls past it).
        try await SandboxHarness.with(patients: 3, configure: { $0.fhirTokenLifetime = .seconds(20) }) { harness in
            var configuration = harness.fhirConfiguration()
            configuration.tokenRenewalMargin = .seconds(10)
            let emr = try await FHIRClient(configuration: configuration, logger: SandboxHarness.silent)
            let started = ContinuousClock.now
            _ = try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 10), after: nil)
            let secondCall = ContinuousClock.now
            _ = try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 10), after: nil)
            let tokens = try #require(harness.sandbox.inspection.counts().calls[.fhirToken])
            // The token was issued after `started`: a second call begun within 10 s of it finds
            // the token fresh (a machine slow enough to delay it longer decides nothing here).
            if secondCall - started < .seconds(10) { #expect(tokens == 1) }
            try await Task.sleep(for: .milliseconds(10_200))
            _ = try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 10), after: nil)
            let calls = harness.sandbox.inspection.counts().calls
            #expect(calls[.fhirToken] == tokens + 1, "a token older than lifetime − margin is replaced, once")
            #expect(calls[.fhirSearch] == 3)
        }
    }
}
