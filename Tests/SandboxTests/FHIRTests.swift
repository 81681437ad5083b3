import Testing

@testable import Sandbox

/// The FHIR simulator: SMART auth, search with stable paging, read, create, conditional create, If-Match, validation.
struct FHIRTests {
    @Test func metadataAndSmartConfigurationNeedNoToken() async throws {
        let world = TestSandbox.world()
        let (metadata, smart, patients) = try await TestSandbox.fhir(world) { client in
            (try await client.call(.get, "/fhir/metadata"), try await client.call(.get, "/fhir/.well-known/smart-configuration"),
             try await client.call(.get, "/fhir/Patient"))
        }
        #expect(metadata.json["resourceType"] == "CapabilityStatement")
        #expect(metadata.json["fhirVersion"] == "4.0.1")
        #expect(smart.json["token_endpoint"] == .string(TestSandbox.fhirBase + "/auth/token"))
        #expect(patients.status == 401)
        #expect(patients.json["resourceType"] == "OperationOutcome")
        #expect(patients.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
    }

    @Test func tokenEndpointAcceptsES384AndRS384AssertionsAndRefusesReplays() async throws {
        let world = TestSandbox.world()
        let replies = try await TestSandbox.fhir(world) { client in
            let assertion = try await TestSandbox.credentials.fhirAssertion(tokenURL: TestSandbox.fhirBase + "/auth/token")
            let first = try await client.fhirTokenReply(assertion: assertion)
            let replay = try await client.fhirTokenReply(assertion: assertion)
            let rsa = try await client.fhirTokenReply(TestSandbox.rsaCredentials, scope: "system/Patient.read")
            let wrongAudience = try await client.fhirTokenReply(
                assertion: try await TestSandbox.credentials.fhirAssertion(tokenURL: "https://elsewhere/token"))
            return [first, replay, rsa, wrongAudience]
        }
        #expect(replies.map(\.status) == [200, 400, 200, 400])
        #expect(replies[0].json["token_type"] == "bearer")
        #expect(replies[2].json["scope"] == "system/Patient.read")
        #expect(replies[3].json["error"] == "invalid_client")
    }

    @Test func aReadOnlyTokenCannotCreate() async throws {
        let world = TestSandbox.world()
        let reply = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken(scope: "system/*.read")
            return try await client.call(.post, "/fhir/Patient", bearer: token, json: ["resourceType": "Patient"])
        }
        #expect(reply.status == 403)
    }

    @Test func searchPagesFollowAbsoluteNextLinksThroughASnapshotThatIgnoresLaterChanges() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 25))
        let ids = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            var page = try await client.call(.get, "/fhir/Patient?_count=10&_sort=_lastUpdated", bearer: token)
            #expect(page.json["total"] == 25)
            #expect(page.json["link"]?[0]?["url"]?.stringValue?.hasPrefix(TestSandbox.fhirBase + "/Patient?") == true)
            var ids: [String] = []
            // A patient created while paging must not shift the pages.
            _ = try await client.call(.post, "/fhir/Patient", bearer: token, json: ["resourceType": "Patient", "gender": "male"])
            while true {
                ids += page.json["entry"]!.arrayValue!.map { $0["resource"]!["id"]!.stringValue! }
                guard let next = page.json["link"]!.arrayValue!.first(where: { $0["relation"] == "next" })?["url"]?.stringValue
                else { break }
                #expect(next.hasPrefix(TestSandbox.fhirBase + "?_getpages="))
                page = try await client.call(.get, String(next.dropFirst("http://sandbox.test".count)), bearer: token)
            }
            return ids
        }
        #expect(ids.count == 25)
        #expect(Set(ids).count == 25)
    }

    @Test func elementsCutsEveryPageToThoseElementsTaggedSubsettedAndTheNextLinkKeepsIt() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 15))
        try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            var page = try await client.call(.get, "/fhir/Patient?_elements=id,meta&_count=10", bearer: token)
            var seen = 0
            while true {
                for entry in page.json["entry"]!.arrayValue! {
                    let resource = entry["resource"]!.objectValue!
                    #expect(Set(resource.keys) == ["resourceType", "id", "meta"], "name, birthDate and the rest are left out")
                    #expect(resource["meta"]?["versionId"] != nil)
                    #expect(resource["meta"]?["tag"]?.arrayValue?.contains { $0["code"] == "SUBSETTED" } == true)
                    seen += 1
                }
                guard let next = page.json["link"]!.arrayValue!.first(where: { $0["relation"] == "next" })?["url"]?.stringValue else { break }
                #expect(next.contains("_elements=id%2Cmeta"))
                page = try await client.call(.get, String(next.dropFirst("http://sandbox.test".count)), bearer: token)
            }
            #expect(seen == 15)
            let refused = try await client.call(.get, "/fhir/Patient?_elements=name)", bearer: token)
            #expect(refused.status == 400)
        }
    }

    @Test func anInstanceHistoryEndsInItsDeletion() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 3))
        try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken(scope: SandboxScopes.all + " system/Patient.d")
            let id = try #require(world.emr.search(FHIRSearch(type: "Patient", parameters: [])).entries.first?.id)
            _ = try await client.call(.delete, "/fhir/Patient/\(id)", bearer: token)
            let history = try await client.call(.get, "/fhir/Patient/\(id)/_history?_count=1", bearer: token)
            #expect(history.status == 200)
            #expect(history.json["type"] == "history")
            let entries = try #require(history.json["entry"]?.arrayValue)
            #expect(entries.count == 1)
            #expect(entries[0]["request"]?["method"] == "DELETE")
            #expect(entries[0]["request"]?["url"]?.stringValue == "Patient/\(id)")
            #expect(try await client.call(.get, "/fhir/Patient/never-known/_history", bearer: token).status == 404)
        }
    }

    @Test func lastUpdatedPrefixesSelectByInstant() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 10))
        let stamps = world.emr.entries("Patient").map(\.lastUpdated).sorted()
        let pivot = stamps[4].fhirInstant
        let (greater, greaterOrEqual) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            return (try await client.call(.get, "/fhir/Patient?_lastUpdated=gt\(pivot)", bearer: token),
                    try await client.call(.get, "/fhir/Patient?_lastUpdated=ge\(pivot)", bearer: token))
        }
        #expect(greater.json["total"] == 5)
        #expect(greaterOrEqual.json["total"] == 6)
    }

    @Test func patientAndIdentifierSearchesFindTheirResources() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 10))
        let response = try #require(world.emr.entries("QuestionnaireResponse").first?.resource)
        let patientID = SearchKeys.patient(response)
        let (byPatient, byIdentifier, unknown) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            return (try await client.call(.get, "/fhir/QuestionnaireResponse?patient=Patient/\(patientID)", bearer: token),
                    try await client.call(.get, "/fhir/Patient?identifier=\(SeedGenerator.mrnSystem)|MRN100000", bearer: token),
                    try await client.call(.get, "/fhir/Patient?favouriteColour=blue", bearer: token))
        }
        #expect(byPatient.json["entry"]?.arrayValue?.allSatisfy { SearchKeys.patient($0["resource"]!.objectValue!) == patientID } == true)
        #expect(byIdentifier.json["total"] == 1)
        #expect(unknown.status == 400)
    }

    @Test func createAnswers201WithLocationETagAndMillisecondLastUpdated() async throws {
        let world = TestSandbox.world()
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(
                .post, "/fhir/Patient", bearer: try await client.fhirToken(),
                json: ["resourceType": "Patient", "name": [["family": "Müller", "given": ["Zoë"]]], "birthDate": "1990-01-01"])
        }
        #expect(reply.status == 201)
        #expect(reply.header("ETag") == "W/\"1\"")
        let id = try #require(reply.json["id"]?.stringValue)
        #expect(reply.header("Location") == "\(TestSandbox.fhirBase)/Patient/\(id)/_history/1")
        #expect(reply.header("Content-Type")?.hasPrefix("application/fhir+json") == true)
        #expect(reply.json["meta"]?["lastUpdated"]?.stringValue?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        #expect(world.ledger.history(.fhir, "Patient", id).map(\.operation) == ["create"])
    }

    @Test func conditionalCreateAnswers201ThenTheExistingOneThen412ForSeveral() async throws {
        let world = TestSandbox.world()
        let statuses = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let patient: WireJSON = ["resourceType": "Patient", "identifier": [["system": "urn:sf", "value": "003A"]]]
            let condition = [("If-None-Exist", "identifier=urn:sf|003A")]
            let first = try await client.call(.post, "/fhir/Patient", bearer: token, json: patient, headers: condition)
            let second = try await client.call(.post, "/fhir/Patient", bearer: token, json: patient, headers: condition)
            _ = try await client.call(.post, "/fhir/Patient", bearer: token, json: patient)
            let third = try await client.call(.post, "/fhir/Patient", bearer: token, json: patient, headers: condition)
            #expect(second.json["id"] == first.json["id"])
            return [first.status, second.status, third.status]
        }
        #expect(statuses == [201, 200, 412])
    }

    @Test func updateChecksIfMatchAndBumpsTheVersion() async throws {
        let world = TestSandbox.world()
        let patient = try #require(world.emr.entries("Patient").first?.resource)
        let id = patient["id"]!.stringValue!
        let statuses = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            var changed = patient
            changed["gender"] = "other"
            let ok = try await client.call(.put, "/fhir/Patient/\(id)", bearer: token, json: .object(changed), headers: [("If-Match", "W/\"1\"")])
            #expect(ok.json["meta"]?["versionId"] == "2")
            changed["gender"] = "male"
            let stale = try await client.call(.put, "/fhir/Patient/\(id)", bearer: token, json: .object(changed), headers: [("If-Match", "W/\"1\"")])
            let old = try await client.call(.get, "/fhir/Patient/\(id)/_history/1", bearer: token)
            #expect(old.json["gender"] == patient["gender"])
            return [ok.status, stale.status]
        }
        #expect(statuses == [200, 412])
    }

    @Test(arguments: [
        (["resourceType": "Patient", "gender": "robot"] as WireJSON, "Patient.gender"),
        (["resourceType": "Patient", "birthDate": "1985-13-45"] as WireJSON, "Patient.birthDate"),
        (["resourceType": "Patient", "name": "Smith"] as WireJSON, "Patient.name"),
    ])
    func invalidResourcesAreRefusedWithAnOutcomeNamingTheElement(_ body: WireJSON, _ element: String) async throws {
        let world = TestSandbox.world()
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(.post, "/fhir/Patient", bearer: try await client.fhirToken(), json: body)
        }
        #expect(reply.status == 400)
        #expect(reply.json["issue"]?[0]?["expression"]?[0] == .string(element))
        #expect(world.ledger.snapshot().writes[.fhirCreate] == nil)
    }

    @Test func aResponseForAPatientThatDoesNotExistIsRefused() async throws {
        let world = TestSandbox.world()
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(
                .post, "/fhir/QuestionnaireResponse", bearer: try await client.fhirToken(),
                json: .object(SurveyInstrument.phq9.response(subject: "999999", answers: Array(repeating: 1, count: 9), authored: "2024-01-01T00:00:00Z")))
        }
        #expect(reply.status == 400)
        #expect(reply.json["issue"]?[0]?["diagnostics"]?.stringValue?.contains("Patient/999999") == true)
    }
}

enum SearchKeys {
    static func patient(_ resource: WireObject) -> String {
        FHIRSearch.patientID(resource["subject"]?["reference"]?.stringValue ?? "")
    }
}
