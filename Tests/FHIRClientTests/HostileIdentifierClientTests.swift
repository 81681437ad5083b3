import Foundation
import StagelinkHTTP
import Synchronization
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import FHIRClient

/// Every hostile identifier of the corpus (`Tests/HostileInputs/identifiers.jsonl`) through the
/// FHIR client's resource URLs against the simulator: each reaches exactly the resource stored
/// under that literal id (the segment round-trips), never another one; `.`, `..` and the empty id
/// are refused before any request.
@Suite(.timeLimit(.minutes(2)))
struct HostileIdentifierClientTests {
    /// A FHIR server on loopback that answers SMART discovery and the token request, and 404 to
    /// every resource request, recording each request's target.
    static func scriptedEMR() -> ScriptedServer {
        let port = Mutex(0)
        let server = ScriptedServer { request in
            if request.target.hasSuffix("/.well-known/smart-configuration") {
                return .json(200, #"{"token_endpoint":"http://127.0.0.1:\#(port.withLock { $0 })/token"}"#)
            }
            if request.target == "/token" { return .json(200, #"{"access_token":"t","token_type":"bearer","expires_in":300}"#) }
            return .json(404, #"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}"#)
        }
        port.withLock { $0 = server.port }
        return server
    }

    @Test func everyHostileIdStaysInsideItsOneSegmentOfEveryResourceURLOrIsRefused() async throws {
        let identifiers = try HostileIdentifiers.all()
        #expect(identifiers.contains("1011/../1015") && identifiers.contains("../../metadata"))
        let server = Self.scriptedEMR()
        defer { server.stop() }
        try await SandboxHarness.with(patients: 1) { harness in
            var configuration = harness.fhirConfiguration()
            configuration.baseURL = server.baseURL.appending(path: "fhir")
            let emr = try await FHIRClient(configuration: configuration, logger: SandboxHarness.silent)
            for id in identifiers {
                let before = server.requests.count
                let calls: [(method: String, send: () async throws -> Void)] = [
                    ("GET", { _ = try await emr.read(resourceType: "Patient", id: id) }),
                    ("PUT", { _ = try await emr.update(resourceType: "Patient", id: id, resource: Array("{}".utf8), ifMatch: "1") }),
                    ("PATCH", {
                        _ = try await emr.patch(
                            resourceType: "Patient", id: id, operations: [JSONPatchOperation(op: "replace", path: "/gender", value: "other")], ifMatch: "1")
                    }),
                ]
                for call in calls {
                    do {
                        try await call.send()
                        #expect(!(id.isEmpty || id == "." || id == ".."), "\(id.debugDescription) was sent")
                    } catch let error as RemoteCallError {
                        #expect(error.error.code == "INVALID_IDENTIFIER" && (id.isEmpty || id == "." || id == ".."), "\(id.debugDescription): \(error)")
                    }
                }
                let sent = server.requests.dropFirst(before).filter { !$0.target.hasSuffix("smart-configuration") && $0.target != "/token" }
                if id.isEmpty || id == "." || id == ".." {
                    #expect(sent.isEmpty, "no request for \(id.debugDescription)")
                    continue
                }
                #expect(sent.map(\.method) == ["GET", "PUT", "PATCH"])
                for request in sent {
                    let segments = request.target.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                    #expect(segments.count == 4, "\(request.method) \(request.target)")
                    #expect(segments.prefix(3) == ["", "fhir", "Patient"])
                    #expect(segments.last?.removingPercentEncoding == id, "\(request.target) does not round-trip to \(id.debugDescription)")
                }
                // The conditional create carries the id in a header, percent-encoded.
                _ = try await emr.createIfNoneExist(
                    resourceType: "Patient", identifier: ResourceIdentifier(system: "https://stagelink.example/sf", value: id), resource: Array("{}".utf8))
                let create = try #require(server.requests.last)
                #expect(create.target == "/fhir/Patient")
                let header = try #require(create.headers.first { $0.key.lowercased() == "if-none-exist" }?.value)
                #expect(header.split(separator: "|").last.flatMap { String($0).removingPercentEncoding } == id)
                #expect(!header.contains("\r") && !header.contains("\n") && header.split(separator: "|").count == 2)
            }
        }
    }

    /// Against the simulator: no hostile id reaches another resource than the one stored under
    /// that literal id (here none), whatever it would navigate to once decoded.
    @Test func noHostileIdReachesAnotherResourceOfTheSimulator() async throws {
        try await SandboxHarness.with(patients: 3) { harness in
            let emr = try await harness.fhir()
            let seeded = try #require(harness.sandbox.inspection.fhirResources("Patient").first?["id"]?.stringValue)
            for id in try HostileIdentifiers.all() where !(id.isEmpty || id == "." || id == "..") {
                let probe = id.replacingOccurrences(of: "1015", with: seeded)
                // `_history` is the type's history (FHIR R4 http.html#history): the answer is a
                // Bundle, refused as another resource, which reaches nothing either.
                do {
                    #expect(try await emr.read(resourceType: "Patient", id: probe) == nil, "\(probe.debugDescription) reached a resource")
                } catch {
                    #expect((error as? RemoteCallError)?.error.code == ErrorCode.identityMismatch.rawValue, "\(probe.debugDescription): \(error)")
                }
            }
        }
    }

    @Test func aReadAnsweredWithAnotherResourceIsAnIdentityMismatch() async throws {
        try await SandboxHarness.with(patients: 2) { harness in
            let emr = try await harness.fhir()
            let other = try #require(harness.sandbox.inspection.fhirResources("Patient").first?["id"]?.stringValue)
            harness.sandbox.inspection.plantRawFHIRResource(
                "Patient", id: "hx-impostor", body: JSONWriter.compact(["resourceType": "Patient", "id": .string(other)]))
            do {
                _ = try await emr.read(resourceType: "Patient", id: "hx-impostor")
                Issue.record("another resource was accepted as Patient/hx-impostor")
            } catch {
                let remote = error as? RemoteCallError
                #expect(remote?.error.code == "IDENTITY_MISMATCH")
                #expect(remote?.stopsJob == false)
            }
        }
    }
}
