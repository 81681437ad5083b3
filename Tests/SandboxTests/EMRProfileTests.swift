import Hummingbird
import Testing

@testable import Sandbox

/// The EHR profiles: `certified` refuses population searches of patient data, `lenient` ignores
/// what it does not support and links to another origin, and the CapabilityStatement says which.
struct EMRProfileTests {
    static func world(_ profile: EMRProfile, patients: Int = 30) -> SandboxWorld {
        var configuration = TestSandbox.configuration(patients: patients)
        configuration.emrProfile = profile
        return TestSandbox.world(configuration)
    }

    @Test func certifiedRefusesPopulationSearchesOfPatientDataAsTooCostly() async throws {
        let world = Self.world(.certified)
        let patientID = try #require(world.emr.entries("Patient").first?.resource["id"]?.stringValue)
        let replies = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            var replies: [Reply] = []
            for path in [
                "/fhir/Patient?_lastUpdated=ge2000-01-01&_sort=_lastUpdated", "/fhir/EpisodeOfCare?_count=10",
                "/fhir/QuestionnaireResponse", "/fhir/Patient?_id=\(patientID)",
                "/fhir/QuestionnaireResponse?patient=Patient/\(patientID)", "/fhir/Questionnaire",
            ] {
                replies.append(try await client.call(.get, path, bearer: token))
            }
            return replies
        }
        #expect(replies.map(\.status) == [400, 400, 400, 200, 200, 200])
        #expect(replies[0].json["resourceType"] == "OperationOutcome")
        #expect(replies[0].json["issue"]?[0]?["code"] == "too-costly")
        #expect(replies[0].json["issue"]?[0]?["diagnostics"]?.stringValue?.contains("$export") == true)
        #expect(replies[3].json["total"] == 1)
    }

    @Test func genericStillServesPopulationSearches() async throws {
        let world = Self.world(.generic, patients: 12)
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(.get, "/fhir/Patient?_lastUpdated=ge2000-01-01&_sort=_lastUpdated", bearer: try await client.fhirToken())
        }
        #expect(reply.status == 200)
        #expect(reply.json["total"] == 12)
    }

    @Test func lenientIgnoresUnknownParametersAndSortCapsCountAndSaysSoInTheSelfLink() async throws {
        let world = Self.world(.lenient, patients: 150)
        // An edit moves the first patient's lastUpdated past every other: sorted, it would come last.
        let first = try #require(world.emr.entries("Patient").first)
        var edited = first.resource
        edited["gender"] = edited["gender"] == "other" ? "unknown" : "other"
        try SandboxInspection(world: world).editFHIRResource("Patient", id: first.resource["id"]!.stringValue!, resource: .object(edited))
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(
                .get, "/fhir/Patient?_lastUpdated=ge2000-01-01&_sort=_lastUpdated&_count=500&favouriteColour=blue",
                bearer: try await client.fhirToken())
        }
        #expect(reply.status == 200)
        let entries = try #require(reply.json["entry"]?.arrayValue)
        #expect(entries.count == 100)
        #expect(entries.first?["resource"]?["id"] == first.resource["id"])
        let selfLink = try #require(reply.json["link"]?[0]?["url"]?.stringValue)
        #expect(selfLink.contains("_lastUpdated=ge2000-01-01"))
        #expect(!selfLink.contains("_sort"))
        #expect(!selfLink.contains("favouriteColour"))
        #expect(selfLink.contains("_count=100"))
    }

    @Test func genericAndCertifiedHonourPreferHandlingAndSaySoWhileLenientDropsIt() async throws {
        let unknown = "/fhir/Patient?_lastUpdated=ge2000-01-01&favouriteColour=blue"
        for profile in [EMRProfile.generic, .certified, .lenient] {
            let world = Self.world(profile, patients: 5)
            let path = profile == .certified ? unknown + "&identifier=nobody" : unknown
            let (strict, lenient, none) = try await TestSandbox.fhir(world) { client in
                let token = try await client.fhirToken()
                return (
                    try await client.call(.get, path, bearer: token, headers: [("Prefer", "handling=strict")]),
                    try await client.call(.get, path, bearer: token, headers: [("Prefer", "handling=lenient")]),
                    try await client.call(.get, path, bearer: token)
                )
            }
            switch profile {
            case .lenient:
                // The proxy drops the preference: unknown parameters are ignored whatever was asked.
                #expect([strict.status, lenient.status, none.status] == [200, 200, 200])
                #expect(strict.headers[.preferenceApplied] == nil)
            default:
                #expect(strict.status == 400, "\(profile): strict refuses the unknown parameter")
                #expect(strict.json["issue"]?[0]?["diagnostics"]?.stringValue?.contains("favouriteColour") == true)
                #expect(lenient.status == 200, "\(profile): lenient ignores it")
                #expect(lenient.headers[.preferenceApplied] == "handling=lenient")
                #expect(lenient.json["link"]?[0]?["url"]?.stringValue?.contains("favouriteColour") == false, "and leaves it out of the self link")
                #expect(none.status == 400, "\(profile): without a preference the server refuses, as before")
            }
            let inspection = SandboxInspection(world: world)
            #expect(inspection.preferHeaders(.fhirSearch) == ["handling=strict", "handling=lenient"])
        }
    }

    @Test func lenientNextLinksNameTheOtherLoopbackOrigin() async throws {
        let world = Self.world(.lenient, patients: 30)
        let reply = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            // The server as it is reached on loopback (the token was issued for the test base URL).
            world.setBaseURLs(salesforce: "http://127.0.0.1:9", fhir: "http://127.0.0.1:9/fhir")
            return try await client.call(.get, "/fhir/Patient?_count=10", bearer: token)
        }
        let next = try #require(reply.json["link"]?.arrayValue?.first { $0["relation"] == "next" }?["url"]?.stringValue)
        #expect(next.hasPrefix("http://localhost:9/fhir?_getpages="))
        #expect(EMRProfile.otherOrigin(of: "http://localhost:9/fhir") == "http://127.0.0.1:9/fhir")
    }

    @Test func theCapabilityStatementFollowsTheProfile() async throws {
        func statement(_ profile: EMRProfile) async throws -> WireJSON {
            try await TestSandbox.fhir(Self.world(profile, patients: 1)) { client in try await client.call(.get, "/fhir/metadata").json }
        }
        let certified = try await statement(.certified)
        let lenient = try await statement(.lenient)
        let generic = try await statement(.generic)
        func resource(_ statement: WireJSON, _ type: String) -> WireJSON? {
            statement["rest"]?[0]?["resource"]?.arrayValue?.first { $0["type"] == .string(type) }
        }
        func parameters(_ statement: WireJSON, _ type: String) -> [String] {
            resource(statement, type)?["searchParam"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        }
        #expect(certified["instantiates"]?[0] == .string(FHIRCapability.bulkDataServer))
        #expect(certified["rest"]?[0]?["operation"]?[0]?["name"] == "export")
        #expect(resource(certified, "Group")?["operation"]?[0]?["definition"] == .string(FHIRCapability.groupExportDefinition))
        #expect(!parameters(certified, "Patient").contains("_lastUpdated"))
        #expect(parameters(generic, "Patient").contains("_lastUpdated"))
        #expect(resource(generic, "Group") != nil)
        #expect(lenient["instantiates"]?.arrayValue?.isEmpty == true)
        #expect(resource(lenient, "Group") == nil)
    }
}
