import Testing

@testable import Sandbox

/// The inspection API's record routes: read a record without a token, and edit it as a person at
/// the source (a new version, not the integration user's).
struct InspectionTests {
    @Test func aPersonsEditAtTheSourceMakesANewVersionReadableWithoutAToken() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 3))
        let id = try #require(world.emr.entries("Patient").first?.resource["id"]?.stringValue)
        let (before, edited, after) = try await TestSandbox.fhir(world) { client in
            let before = try await client.call(.get, "/_sandbox/records/fhir/Patient/\(id)")
            var resource = try #require(before.json.objectValue)
            resource["birthDate"] = "1985-12-15"
            let edited = try await client.call(.put, "/_sandbox/edit/fhir/Patient/\(id)", json: .object(resource))
            let after = try await client.call(.get, "/_sandbox/records/fhir/Patient/\(id)")
            return (before, edited, after)
        }
        #expect(before.status == 200)
        #expect(edited.status == 204)
        #expect(after.json["birthDate"]?.stringValue == "1985-12-15")
        #expect(after.json["meta"]?["versionId"]?.stringValue == "2")
        #expect(world.ledger.history(.fhir, "Patient", id).last?.actor == SeedGenerator.clinician)
    }

    @Test func aSalesforceEditIsMadeByTheHumanUserAndAnUnknownRecordIs404() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 8))
        let contact = try #require(world.salesforce.store.records(of: "Contact").first?.id)
        let (edited, missing) = try await TestSandbox.salesforce(world) { client in
            let edited = try await client.call(.patch, "/_sandbox/edit/salesforce/Contact/\(contact)", json: ["Phone": "+1-555-777-0000"])
            let missing = try await client.call(.get, "/_sandbox/records/salesforce/Contact/003000000000000AAA")
            return (edited, missing)
        }
        #expect(edited.status == 204)
        #expect(missing.status == 404)
        let record = try #require(world.salesforce.store.records(of: "Contact").first { $0.id == contact })
        #expect(record["Phone"].stringValue == "+1-555-777-0000")
        #expect(record["LastModifiedById"].stringValue == SandboxInspection(world: world).humanUserID)
    }
}
