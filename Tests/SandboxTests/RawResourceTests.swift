import Hummingbird
import Testing

@testable import Sandbox

/// Planted raw resources: served byte for byte by search and read, whatever they hold, so that
/// hostile payloads reach a client; and the tokens listing that log checks compare against.
struct RawResourceTests {
    static let damaged: [UInt8] = Array(#"{"resourceType":"Patient","id":"raw-1","name":[{"family":"Sm"#.utf8) + [0xFF] + Array(#"ith"}],"x":tru}"#.utf8)

    @Test func aPlantedResourceIsServedVerbatimBySearchAndRead() async throws {
        let world = TestSandbox.world()
        let (put, read, search) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let put = try await client.execute(uri: "/_sandbox/raw/fhir/Patient/raw-1", method: .put, headers: [:], body: ByteBuffer(bytes: Self.damaged)) {
                Int($0.status.code)
            }
            return (put, try await client.call(.get, "/fhir/Patient/raw-1", bearer: token), try await client.call(.get, "/fhir/Patient?_count=1000", bearer: token))
        }
        #expect(put == 204)
        #expect(read.status == 200)
        #expect(read.body == Self.damaged)
        #expect(search.status == 200)
        #expect(search.body.firstRange(of: #","resource":"#.utf8 + Self.damaged + #","search":"#.utf8) != nil)
    }

    @Test func anEditReplacesAPlantedResourceWithAValidOne() throws {
        let world = TestSandbox.world()
        let inspection = SandboxInspection(world: world)
        inspection.plantRawFHIRResource("Patient", id: "raw-2", body: Self.damaged)
        try inspection.editFHIRResource("Patient", id: "raw-2", resource: ["resourceType": "Patient", "id": "raw-2", "name": [["family": "Fixed"]]])
        let entry = try #require(world.emr.entry("Patient", "raw-2"))
        #expect(!entry.isRaw)
        #expect(entry.versionID == 2)
        #expect(try WireJSON.parse(entry.encoded)["name"]?[0]?["family"] == "Fixed")
    }

    @Test func everyIssuedTokenIsListed() async throws {
        let world = TestSandbox.world()
        let salesforce = try await TestSandbox.salesforce(world) { client in try await client.salesforceToken() }
        let (fhir, listed) = try await TestSandbox.fhir(world) { client in
            (try await client.fhirToken(), try await client.call(.get, "/_sandbox/tokens"))
        }
        let tokens = listed.json.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(tokens.contains(salesforce) && tokens.contains(fhir))
    }
}
