import Testing

@testable import Sandbox

/// How each EHR profile takes writes: `certified` refuses conditional create (400 `not-supported`)
/// and PUT (405) and takes JSON Patch with a required `If-Match`; every profile that offers
/// conditional create answers 412 when several resources match; the CapabilityStatement says which.
struct EMRWriteTests {
    static let patchType = [("Content-Type", JSONPatch.mediaType)]

    static func patient(_ identifier: String) -> WireJSON {
        [
            "resourceType": "Patient", "identifier": [["system": "https://stagelink.example/contact", "value": .string(identifier)]],
            "name": [["family": "Okafor", "given": ["Ada"]]], "gender": "female", "birthDate": "1980-02-03",
            "telecom": [["system": "phone", "value": "555-0100"]],
        ]
    }

    @Test func certifiedRefusesConditionalCreateButCreatesWithoutIt() async throws {
        let world = EMRProfileTests.world(.certified, patients: 3)
        let (conditional, plain) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let conditional = try await client.call(
                .post, "/fhir/Patient", bearer: token, json: Self.patient("003C1"),
                headers: [("If-None-Exist", "identifier=https://stagelink.example/contact|003C1")])
            return (conditional, try await client.call(.post, "/fhir/Patient", bearer: token, json: Self.patient("003C1")))
        }
        #expect(conditional.status == 400)
        #expect(conditional.json["issue"]?[0]?["code"] == "not-supported")
        #expect(conditional.json["issue"]?[0]?["diagnostics"]?.stringValue?.contains("If-None-Exist") == true)
        #expect(plain.status == 201)
        #expect(world.emr.entries("Patient").count == 4, "the refused conditional create made nothing")
    }

    @Test func certifiedRefusesPutWith405AndSaysWhatToUse() async throws {
        let world = EMRProfileTests.world(.certified, patients: 3)
        let entry = try #require(world.emr.entries("Patient").first)
        let id = try #require(entry.resource["id"]?.stringValue)
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(
                .put, "/fhir/Patient/\(id)", bearer: try await client.fhirToken(), json: .object(entry.resource), headers: [("If-Match", "W/\"1\"")])
        }
        #expect(reply.status == 405)
        #expect(reply.json["issue"]?[0]?["code"] == "not-supported")
        #expect(reply.header("Allow") == "GET, PATCH")
        #expect(world.emr.entry("Patient", id)?.versionID == entry.versionID)
    }

    @Test func jsonPatchWithIfMatchChangesOnlyWhatItNamesAndMovesTheVersion() async throws {
        let world = EMRProfileTests.world(.certified, patients: 3)
        let entry = try #require(world.emr.entries("Patient").first)
        let id = try #require(entry.resource["id"]?.stringValue)
        let operations: WireJSON = [
            ["op": "test", "path": "/id", "value": .string(id)],
            ["op": "add", "path": "/telecom", "value": [["system": "phone", "value": "555-0199"]]],
            ["op": "replace", "path": "/gender", "value": "unknown"],
        ]
        let (patched, stale, missing, wrongType) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let patched = try await client.call(
                .patch, "/fhir/Patient/\(id)", bearer: token, json: operations, headers: Self.patchType + [("If-Match", "W/\"1\"")])
            let stale = try await client.call(
                .patch, "/fhir/Patient/\(id)", bearer: token, json: operations, headers: Self.patchType + [("If-Match", "W/\"1\"")])
            let missing = try await client.call(.patch, "/fhir/Patient/\(id)", bearer: token, json: operations, headers: Self.patchType)
            let wrongType = try await client.call(
                .patch, "/fhir/Patient/\(id)", bearer: token, json: operations, headers: [("If-Match", "W/\"2\"")])
            return (patched, stale, missing, wrongType)
        }
        #expect(patched.status == 200)
        #expect(patched.header("ETag") == "W/\"2\"")
        #expect(patched.json["gender"] == "unknown")
        #expect(patched.json["telecom"]?[0]?["value"] == "555-0199")
        #expect(patched.json["name"] == entry.resource["name"], "what the patch does not name is kept")
        #expect(stale.status == 412, "If-Match names a version that moved on")
        #expect(missing.status == 412, "certified requires If-Match on a patch")
        #expect(missing.json["issue"]?[0]?["diagnostics"]?.stringValue?.contains("If-Match") == true)
        #expect(wrongType.status == 415, "a patch must be application/json-patch+json")
        let stored = try #require(world.emr.entry("Patient", id))
        #expect(stored.versionID == 2)
        #expect(world.ledger.history(.fhir, "Patient", id).last?.operation == "patch")
    }

    @Test func aPatchThatCannotBeAppliedChangesNothing() async throws {
        let world = EMRProfileTests.world(.certified, patients: 3)
        let entry = try #require(world.emr.entries("Patient").first)
        let id = try #require(entry.resource["id"]?.stringValue)
        let replies = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            var replies: [Reply] = []
            for operations: WireJSON in [
                // The first operation applies, the second cannot: neither is kept.
                [["op": "replace", "path": "/gender", "value": "other"], ["op": "remove", "path": "/deceasedBoolean"]],
                [["op": "test", "path": "/gender", "value": "not-this"]],
                [["op": "replace", "path": "/id", "value": "someone-else"]],
                [["op": "replace", "path": "/birthDate", "value": 7]],
                ["op": "replace"],
                [["op": "frobnicate", "path": "/gender"]],
            ] {
                replies.append(
                    try await client.call(
                        .patch, "/fhir/Patient/\(id)", bearer: token, json: operations, headers: Self.patchType + [("If-Match", "W/\"1\"")]))
            }
            return replies
        }
        #expect(replies.map(\.status) == [422, 422, 400, 400, 400, 400])
        #expect(replies.allSatisfy { $0.json["resourceType"] == "OperationOutcome" })
        #expect(world.emr.entry("Patient", id)?.versionID == 1)
        #expect(world.emr.entry("Patient", id)?.resource == entry.resource)
    }

    @Test func genericTakesPutConditionalCreateAndAPatchWithoutIfMatch() async throws {
        let world = EMRProfileTests.world(.generic, patients: 3)
        let entry = try #require(world.emr.entries("Patient").first)
        let id = try #require(entry.resource["id"]?.stringValue)
        let (created, patched) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let created = try await client.call(
                .post, "/fhir/Patient", bearer: token, json: Self.patient("003G1"),
                headers: [("If-None-Exist", "identifier=https://stagelink.example/contact|003G1")])
            let patched = try await client.call(
                .patch, "/fhir/Patient/\(id)", bearer: token, json: [["op": "replace", "path": "/gender", "value": "other"]],
                headers: Self.patchType)
            return (created, patched)
        }
        #expect(created.status == 201)
        #expect(patched.status == 200)
        #expect(patched.json["gender"] == "other")
    }

    @Test(arguments: [EMRProfile.generic, .lenient])
    func everyProfileThatOffersConditionalCreateAnswers412WhenSeveralMatch(_ profile: EMRProfile) async throws {
        let world = EMRProfileTests.world(profile, patients: 3)
        for _ in 0..<2 { _ = world.emr.insert(Self.patient("003TWIN").objectValue!, type: "Patient") }
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(
                .post, "/fhir/Patient", bearer: try await client.fhirToken(), json: Self.patient("003TWIN"),
                headers: [("If-None-Exist", "identifier=https://stagelink.example/contact|003TWIN")])
        }
        #expect(reply.status == 412)
        #expect(reply.json["issue"]?[0]?["diagnostics"]?.stringValue?.contains("matched 2") == true)
        #expect(world.emr.entries("Patient").count == 5)
    }

    /// Searches and `If-None-Exist` by identifier read the store's identifier index (as a real
    /// server indexes the token parameter), not every resource: they find the same resources, in
    /// creation order, after updates and deletions too.
    @Test func aSearchByIdentifierFindsWhatTheIndexHoldsInCreationOrder() throws {
        let emr = EMRProfileTests.world(.generic, patients: 5).emr
        func patient(_ system: String, _ value: String) -> WireObject {
            ["resourceType": "Patient", "identifier": [["system": .string(system), "value": .string(value)]]]
        }
        let contact = "https://stagelink.example/contact"
        let a = try #require(emr.insert(patient(contact, "v1"), type: "Patient").resource["id"]?.stringValue)
        let b = try #require(emr.insert(patient(contact, "v2"), type: "Patient").resource["id"]?.stringValue)
        let c = try #require(emr.insert(patient("https://other.example", "v1"), type: "Patient").resource["id"]?.stringValue)
        func ids(_ token: String) throws -> [String] {
            emr.search(try FHIRSearch(type: "Patient", parameters: [("identifier", token)])).entries.map(\.id)
        }
        #expect(try ids("v1") == [a, c])
        #expect(try ids("\(contact)|v1") == [a])
        #expect(try ids("v2,v1") == [a, b, c], "alternatives in creation order")
        #expect(try ids("\(contact)|") == [a, b], "a system without a value reads every Patient")
        _ = try emr.update(patient(contact, "v3"), type: "Patient", id: a, ifMatch: nil, actor: "test")
        #expect(try ids("v1") == [c], "a value the Patient no longer carries no longer finds it")
        #expect(try ids("v3") == [a])
        _ = emr.delete("Patient", id: c, actor: "test")
        #expect(try ids("v1").isEmpty, "a deleted Patient is not found")
        let found = try emr.create(patient(contact, "v3"), type: "Patient", ifNoneExist: "identifier=\(contact)|v3", actor: "test")
        #expect(found.created == false)
        #expect(found.entry.resource["id"]?.stringValue == a)
    }

    @Test func theCapabilityStatementSaysWhichWritesEachProfileOffers() async throws {
        for profile in EMRProfile.allCases {
            let statement = FHIRCapability.statement(base: "http://sandbox.test/fhir", profile: profile)
            let patient = try #require(statement["rest"]?[0]?["resource"]?.arrayValue?.first { $0["type"] == "Patient" })
            let interactions = Set(patient["interaction"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? [])
            #expect(interactions.isSuperset(of: ["read", "create", "patch", "search-type"]))
            #expect(interactions.contains("update") == (profile != .certified), "\(profile)")
            #expect(patient["conditionalCreate"] == .bool(profile != .certified), "\(profile)")
            #expect(statement["patchFormat"] == [.string(JSONPatch.mediaType)])
        }
    }

    @Test func jsonPointersUnescapeAndArrayIndexesFollowRFC6901() throws {
        #expect(JSONPatch.tokens("") == [])
        #expect(JSONPatch.tokens("/a~1b/m~0n/0") == ["a/b", "m~n", "0"])
        #expect(JSONPatch.tokens("gender") == nil)
        let document: WireJSON = ["list": [1, 2, 3]]
        let patch = try JSONPatch(parsing: [
            ["op": "add", "path": "/list/-", "value": 4], ["op": "add", "path": "/list/0", "value": 0],
            ["op": "move", "from": "/list/4", "path": "/last"], ["op": "copy", "from": "/last", "path": "/list/1"],
        ])
        let result = try patch.applied(to: document)
        #expect(result == ["list": [0, 4, 1, 2, 3], "last": 4])
        #expect(throws: FHIRError.self) { try JSONPatch(parsing: [["op": "add", "path": "/list/01", "value": 1]]).applied(to: document) }
    }
}
