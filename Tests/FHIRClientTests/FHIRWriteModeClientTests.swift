import Foundation
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import FHIRClient

/// How the client writes into each kind of EHR, over real HTTP: the modes read from the
/// CapabilityStatement unless `emr.writes` names them, a plain create and a search by identifier
/// for a server without conditional create, and JSON Patch with `If-Match`.
@Suite(.timeLimit(.minutes(1)))
struct FHIRWriteModeClientTests {
    static func certified(_ configuration: inout SandboxConfiguration) { configuration.emrProfile = .certified }

    @Test func theWriteModesComeFromTheCapabilityStatementUnlessConfigured() async throws {
        let generic = try await SandboxHarness.with(patients: 2) { harness in
            try await harness.fhir().writeModes(for: "Patient")
        }
        #expect(generic == EMRWriteModes(create: .conditional, update: .put))
        let (certified, configured, calls) = try await SandboxHarness.with(patients: 2, configure: Self.certified) { harness in
            let emr = try await harness.fhir()
            let modes = try await emr.writeModes(for: "Patient")
            let afterFirst = emr.meter.calls
            _ = try await emr.writeModes(for: "ServiceRequest")
            var configuration = harness.fhirConfiguration()
            configuration.writes.update = .put
            let configured = try await FHIRClient(configuration: configuration, logger: SandboxHarness.silent).writeModes(for: "Patient")
            return (modes, configured, emr.meter.calls - afterFirst)
        }
        #expect(certified == EMRWriteModes(create: .searchThenCreate, update: .patch))
        #expect(configured == EMRWriteModes(create: .searchThenCreate, update: .put), "emr.writes.update wins; create still follows the server")
        #expect(calls == 0, "the CapabilityStatement is read once for every type")
    }

    @Test func withoutConditionalCreateTheClientCreatesPlainlyAndFindsByIdentifier() async throws {
        try await SandboxHarness.with(patients: 2, configure: Self.certified) { harness in
            let emr = try await harness.fhir()
            let identifier = ResourceIdentifier(system: FHIRSandboxTests.sfSystem, value: "003PLAIN")
            #expect(try await emr.search(resourceType: "Patient", identifier: identifier).isEmpty)
            let created = try await emr.create(resourceType: "Patient", resource: FHIRSandboxTests.patient("003PLAIN")).get()
            #expect(created.created)
            #expect(created.versionID == "1")
            #expect(try await emr.search(resourceType: "Patient", identifier: identifier) == [created.id])
            // The same EHR refuses the conditional create the generic client would send: a lasting error.
            let refused = try await emr.createIfNoneExist(resourceType: "Patient", identifier: identifier, resource: FHIRSandboxTests.patient("003PLAIN"))
            guard case .failure(let error) = refused else {
                Issue.record("the certified profile accepted If-None-Exist")
                return
            }
            #expect(error.code == "not-supported")
            #expect(!error.isTransient)
        }
    }

    @Test func aPatchSendsOnlyItsOperationsWithIfMatchAndAStaleVersionIsVersionMoved() async throws {
        try await SandboxHarness.with(patients: 2, configure: Self.certified) { harness in
            let emr = try await harness.fhir()
            let id = try #require(harness.sandbox.inspection.fhirResources("Patient").first?["id"]?.stringValue)
            let current = try #require(try await emr.read(resourceType: "Patient", id: id))
            let version = try #require(current.version)
            let operations = [JSONPatchOperation(op: "replace", path: "/gender", value: "unknown")]
            let patched = try await emr.patch(resourceType: "Patient", id: id, operations: operations, ifMatch: version).get()
            #expect(patched.versionID == String(Int(version)! + 1))
            #expect(harness.sandbox.inspection.fhirResource("Patient", id: id)?["gender"]?.stringValue == "unknown")
            let stale = try await emr.patch(resourceType: "Patient", id: id, operations: operations, ifMatch: version)
            guard case .failure(let error) = stale else {
                Issue.record("a patch at a stale version succeeded")
                return
            }
            #expect(error.code == "VERSION_MOVED")
            #expect(error.isTransient)
            let counts = harness.sandbox.inspection.counts()
            #expect(counts.writes[.fhirPatch] == 1)
            #expect(counts.calls[.fhirUpdate, default: 0] == 0)
        }
    }
}
