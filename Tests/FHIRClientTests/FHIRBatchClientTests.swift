import Foundation
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import FHIRClient

/// FHIR `batch` Bundles over real HTTP (FHIR R4 http.html#transaction): offered where the
/// CapabilityStatement lists the `batch` interaction, each entry processed on its own, one answer
/// per entry in the same order, mapped back to its write.
@Suite(.timeLimit(.minutes(1)))
struct FHIRBatchClientTests {
    static func create(_ sfID: String, gender: String = "female") -> BatchWrite {
        var bytes = FHIRSandboxTests.patient(sfID)
        if gender != "female" { bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"female\"", with: "\"\(gender)\"").utf8) }
        return .createIfNoneExist(
            resourceType: "Patient", identifier: ResourceIdentifier(system: FHIRSandboxTests.sfSystem, value: sfID), resource: bytes)
    }

    @Test func batchesAreUsedWhereTheCapabilityStatementOffersThemUpToTheConfiguredSize() async throws {
        let (generic, single) = try await SandboxHarness.with(patients: 2) { harness in
            var configuration = harness.fhirConfiguration()
            configuration.batchSize = 1
            let single = try await FHIRClient(configuration: configuration, logger: SandboxHarness.silent).batchLimit()
            return (try await harness.fhir().batchLimit(), single)
        }
        #expect(generic == FHIRConfiguration.defaultBatchSize)
        #expect(single == 1, "emr.batchSize 1 sends one request at a time")
        let certified = try await SandboxHarness.with(patients: 2, configure: FHIRWriteModeClientTests.certified) { harness in
            try await harness.fhir().batchLimit()
        }
        #expect(certified == 1, "the certified profile lists no batch interaction")
    }

    @Test func eachEntryIsAnsweredOnItsOwnInTheOrderSent() async throws {
        try await SandboxHarness.with(patients: 2) { harness in
            let emr = try await harness.fhir()
            let existing = try await emr.createIfNoneExist(
                resourceType: "Patient", identifier: ResourceIdentifier(system: FHIRSandboxTests.sfSystem, value: "003OLD"),
                resource: FHIRSandboxTests.patient("003OLD")
            ).get()
            let before = harness.sandbox.inspection.counts()
            let results = try await emr.batch([Self.create("003NEW1"), Self.create("003OLD"), Self.create("003BAD", gender: "robot"), Self.create("003NEW2")])
            #expect(results.count == 4)
            let first = try results[0].get()
            #expect(first.created)
            #expect(first.versionID == "1")
            #expect(harness.sandbox.inspection.fhirResource("Patient", id: first.id)?["identifier"]?[0]?["value"]?.stringValue == "003NEW1")
            let found = try results[1].get()
            #expect(found.id == existing.id, "the conditional create found the Patient already there")
            #expect(!found.created)
            guard case .failure(let refused) = results[2] else {
                Issue.record("an invalid Patient was accepted in a batch")
                return
            }
            #expect(refused.code == "code-invalid")
            #expect(refused.message.hasPrefix("Patient.gender: unknown code"))
            #expect(refused.fields == ["Patient.gender"])
            #expect(!refused.isTransient)
            #expect(refused.remoteBody?.contains("OperationOutcome") == true)
            #expect(try results[3].get().created, "an entry after a refused one is written")
            let counts = harness.sandbox.inspection.counts()
            #expect(counts.calls[.fhirBatch, default: 0] - before.calls[.fhirBatch, default: 0] == 1, "one request for four writes")
            #expect(counts.calls[.fhirCreate, default: 0] == before.calls[.fhirCreate, default: 0])
            #expect(counts.writes[.fhirCreate, default: 0] - before.writes[.fhirCreate, default: 0] == 2, "two Patients made, no more")
        }
    }

    @Test func aFaultOnOneEntryFailsThatEntryAloneAndTransiently() async throws {
        try await SandboxHarness.with(patients: 2) { harness in
            let emr = try await harness.fhir()
            try harness.sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .fhirCreate, trigger: .nextCalls(1)))
            let results = try await emr.batch([Self.create("003F1"), Self.create("003F2")])
            guard case .failure(let error) = results[0] else {
                Issue.record("the entry meeting a 503 was written")
                return
            }
            #expect(error.code == "HTTP_503")
            #expect(error.isTransient)
            #expect(try results[1].get().created)
        }
    }

    @Test func aBundleWhoseAnswerWasLostIsSentAgainWithoutMakingAnythingTwice() async throws {
        try await SandboxHarness.with(patients: 2) { harness in
            let emr = try await harness.fhir()
            // The server writes both Patients; the connection drops while the answer is on its way.
            try harness.sandbox.faults.inject(FaultRule(.droppedConnection, on: .fhirBatch, trigger: .nextCalls(1)))
            let results = try await emr.batch([Self.create("003LOST1"), Self.create("003LOST2")])
            #expect(results.allSatisfy { (try? $0.get())?.created == false }, "the second send found what the first made")
            let patients = harness.sandbox.inspection.fhirResources("Patient").filter {
                ["003LOST1", "003LOST2"].contains($0["identifier"]?[0]?["value"]?.stringValue ?? "")
            }
            #expect(patients.count == 2, "one Patient each")
            #expect(harness.sandbox.inspection.counts().calls[.fhirBatch, default: 0] == 2)
        }
    }

    @Test func aServerWithoutBatchRefusesTheBundle() async throws {
        try await SandboxHarness.with(patients: 2, configure: FHIRWriteModeClientTests.certified) { harness in
            let emr = try await harness.fhir()
            do throws(RemoteCallError) {
                _ = try await emr.batch([Self.create("003NOBATCH")])
                Issue.record("the certified profile took a batch")
            } catch {
                #expect(error.error.code == "not-supported")
            }
            #expect(harness.sandbox.inspection.fhirResources("Patient").allSatisfy { $0["identifier"]?[0]?["value"]?.stringValue != "003NOBATCH" })
        }
    }
}
