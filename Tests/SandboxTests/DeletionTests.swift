import Testing

@testable import Sandbox

/// Deletions and merges on both simulators, rule by rule of the documentation each follows (see
/// `SalesforceOrg` deletes and `EMRStore` deletes for the citations).
struct DeletionTests {
    static let api = "/services/data/v60.0"

    static func world(patients: Int = 5, profile: EMRProfile = .generic) -> SandboxWorld {
        var configuration = TestSandbox.configuration(patients: patients)
        configuration.emrProfile = profile
        configuration.fhirTokenLifetime = .seconds(86_400 * 30)
        configuration.salesforceTokenLifetime = .seconds(86_400 * 30)
        return TestSandbox.world(configuration)
    }

    static func contact(_ world: SandboxWorld, _ name: String, patient: String? = nil) -> String {
        var values: [String: WireJSON] = ["LastName": .string(name)]
        if let patient { values["EMR_Patient_Id__c"] = .string(patient) }
        return world.salesforce.seedInsert("Contact", values: values, actor: "", at: world.clock.now())
    }

    // MARK: - Salesforce

    @Test func aDeletedContactGoesToTheRecycleBinWhereOnlyQueryAllSeesIt() async throws {
        let world = Self.world()
        let id = Self.contact(world, "Gone")
        let kept = Self.contact(world, "Kept")
        let soql = "SELECT+Id,IsDeleted+FROM+Contact+WHERE+LastName+IN+('Gone','Kept')"
        let (deleted, again, read, patched, query, queryAll) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let deleted = try await client.call(.delete, "\(Self.api)/sobjects/Contact/\(id)", bearer: token)
            let again = try await client.call(.delete, "\(Self.api)/sobjects/Contact/\(id)", bearer: token)
            let read = try await client.call(.get, "\(Self.api)/sobjects/Contact/\(id)", bearer: token)
            let patched = try await client.call(.patch, "\(Self.api)/sobjects/Contact/\(id)", bearer: token, json: ["Phone": "1"])
            let query = try await client.call(.get, "\(Self.api)/query?q=\(soql)", bearer: token)
            let queryAll = try await client.call(.get, "\(Self.api)/queryAll?q=\(soql)", bearer: token)
            return (deleted, again, read, patched, query, queryAll)
        }
        #expect(deleted.status == 204)
        for refused in [again, read, patched] {
            #expect(refused.status == 404)
            #expect(refused.json[0]?["errorCode"] == "ENTITY_IS_DELETED")
        }
        #expect(query.json["records"]?.arrayValue?.compactMap { $0["Id"]?.stringValue } == [kept])
        let all = try #require(queryAll.json["records"]?.arrayValue)
        #expect(Set(all.compactMap { $0["Id"]?.stringValue }) == [id, kept])
        #expect(all.first { $0["Id"]?.stringValue == id }?["IsDeleted"] == true)
        #expect(all.first { $0["Id"]?.stringValue == kept }?["IsDeleted"] == false)
    }

    @Test func anUpsertByTheExternalIDOfADeletedContactCreatesANewOne() throws {
        let world = Self.world()
        let id = Self.contact(world, "Old", patient: "p-1")
        try world.salesforce.delete("Contact", id: id, actor: "005", endpoint: nil)
        let result = try world.salesforce.upsert(
            "Contact", field: "EMR_Patient_Id__c", value: "p-1", body: ["LastName": "New"], actor: "005", apiVersion: "v60.0")
        #expect(result.created)
        #expect(result.id != id)
    }

    @Test func getDeletedListsTheDeleteLogBetweenTwoInstantsByWholeMinutes() async throws {
        let world = Self.world()
        let start = world.clock.now()
        let first = Self.contact(world, "One")
        let second = Self.contact(world, "Two")
        world.clock.advance(by: .seconds(60))
        try world.salesforce.delete("Contact", id: first, actor: "005", endpoint: nil)
        world.clock.advance(by: .seconds(120))
        try world.salesforce.delete("Contact", id: second, actor: "005", endpoint: nil)
        world.clock.advance(by: .seconds(60))
        let end = world.clock.now()
        @Sendable func url(_ from: SandboxInstant, _ to: SandboxInstant) -> String {
            "\(Self.api)/sobjects/Contact/deleted/?start=\(FormEncoding.escape(from.fhirInstant))&end=\(FormEncoding.escape(to.fhirInstant))"
        }
        let (all, none, backwards, tooOld, missing) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            return (
                try await client.call(.get, url(start.adding(seconds: -60), end), bearer: token),
                try await client.call(.get, url(end, end.adding(seconds: 120)), bearer: token),
                try await client.call(.get, url(end, start), bearer: token),
                try await client.call(.get, url(end.adding(seconds: -16 * 86_400), end), bearer: token),
                try await client.call(.get, "\(Self.api)/sobjects/Contact/deleted/?start=\(FormEncoding.escape(start.fhirInstant))", bearer: token)
            )
        }
        #expect(all.status == 200)
        let listed = try #require(all.json["deletedRecords"]?.arrayValue)
        #expect(listed.compactMap { $0["id"]?.stringValue } == [first, second])
        #expect(listed.allSatisfy { $0["deletedDate"]?.stringValue?.hasSuffix("+0000") == true })
        #expect(all.json["latestDateCovered"]?.stringValue == end.truncatedToMinute.salesforceDateTime)
        #expect(all.json["earliestDateAvailable"]?.stringValue != nil)
        #expect(none.json["deletedRecords"]?.arrayValue?.isEmpty == true)
        for refused in [backwards, tooOld] {
            #expect(refused.status == 400)
            #expect(refused.json[0]?["errorCode"] == "INVALID_REPLICATION_DATE")
        }
        #expect(missing.status == 400)
    }

    @Test func aMergeDeletesTheLoserWithMasterRecordIdAndReparentsItsAdmissions() throws {
        let world = Self.world()
        let master = Self.contact(world, "Master")
        let loser = Self.contact(world, "Loser")
        let admission = world.salesforce.seedInsert(
            "Admission__c", values: ["Contact__c": .string(loser), "Stage__c": "New"], actor: "", at: world.clock.now())
        let before = try #require(world.salesforce.store.records[master]?["SystemModstamp"].stringValue)
        world.clock.advance(by: .seconds(5))
        try world.salesforce.merge("Contact", master: master, losers: [loser], actor: "005")
        let store = world.salesforce.store
        #expect(store.records[loser]?.isDeleted == true)
        #expect(store.records[loser]?["MasterRecordId"] == .string(master))
        #expect(store.records[master]?.isDeleted == false)
        #expect(store.records[master]?["SystemModstamp"].stringValue != before)
        #expect(store.records[admission]?["Contact__c"] == .string(master))
        #expect(store.deleteLog["Contact"]?.map(\.id) == [loser])
        #expect(throws: SalesforceAPIError.self) { try world.salesforce.merge("Contact", master: master, losers: [loser], actor: "005") }
    }

    // MARK: - FHIR

    static let deleteScope = SandboxScopes.all + " system/Patient.d"

    @Test func aDeletedPatientAnswers410LeavesSearchesAndKeepsItsOldVersions() async throws {
        let world = Self.world()
        let id = try #require(world.emr.entries("Patient").first?.resource["id"]?.stringValue)
        let (deleted, again, read, vread, search, unknown) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken(scope: Self.deleteScope)
            let deleted = try await client.call(.delete, "/fhir/Patient/\(id)", bearer: token)
            let again = try await client.call(.delete, "/fhir/Patient/\(id)", bearer: token)
            let read = try await client.call(.get, "/fhir/Patient/\(id)", bearer: token)
            let vread = try await client.call(.get, "/fhir/Patient/\(id)/_history/1", bearer: token)
            let search = try await client.call(.get, "/fhir/Patient?_id=\(id)", bearer: token)
            let unknown = try await client.call(.delete, "/fhir/Patient/no-such-patient", bearer: token)
            return (deleted, again, read, vread, search, unknown)
        }
        #expect(deleted.status == 204)
        #expect(again.status == 204)
        #expect(read.status == 410)
        #expect(read.json["resourceType"] == "OperationOutcome")
        #expect(vread.status == 200)
        #expect(vread.json["id"] == .string(id))
        #expect(search.json["total"] == 0)
        #expect(unknown.status == 404)
        #expect(world.emr.entry("Patient", id)?.versionID == 2)
    }

    @Test func deletingNeedsADeleteScope() async throws {
        let world = Self.world()
        let id = try #require(world.emr.entries("Patient").first?.resource["id"]?.stringValue)
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(.delete, "/fhir/Patient/\(id)", bearer: try await client.fhirToken())
        }
        #expect(reply.status == 403)
        #expect(world.emr.liveEntry("Patient", id) != nil)
    }

    @Test func typeHistorySinceListsDeletionsAsDeleteEntriesWithoutAResource() async throws {
        let world = Self.world()
        let ids = world.emr.entries("Patient").compactMap { $0.resource["id"]?.stringValue }
        world.clock.advance(by: .seconds(10))
        let since = world.clock.now()
        world.clock.advance(by: .seconds(1))
        _ = world.emr.delete("Patient", id: ids[0], actor: "clinician", endpoint: nil)
        var edited = try #require(world.emr.entry("Patient", ids[1])?.resource)
        edited["gender"] = "other"
        _ = try world.emr.update(edited, type: "Patient", id: ids[1], ifMatch: nil, actor: "clinician", endpoint: nil)
        let (page, next) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let page = try await client.call(
                .get, "/fhir/Patient/_history?_since=\(FormEncoding.escape(since.fhirInstant))&_count=1", bearer: token)
            let next = try #require(page.json["link"]?.arrayValue?.first { $0["relation"] == "next" }?["url"]?.stringValue)
            return (page, try await client.call(.get, String(next.dropFirst(TestSandbox.salesforceBase.count)), bearer: token))
        }
        #expect(page.json["type"] == "history")
        #expect(page.json["total"] == 2)
        let newest = try #require(page.json["entry"]?[0])
        #expect(newest["request"]?["method"] == "PUT")
        #expect(newest["resource"]?["gender"] == "other")
        let deletion = try #require(next.json["entry"]?[0])
        #expect(deletion["request"]?["method"] == "DELETE")
        #expect(deletion["request"]?["url"] == .string("Patient/\(ids[0])"))
        #expect(deletion["resource"] == nil)
    }

    @Test func theCertifiedProfileRefusesTypeHistoryOfPatientData() async throws {
        let world = Self.world(profile: .certified)
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(.get, "/fhir/Patient/_history", bearer: try await client.fhirToken())
        }
        #expect(reply.status == 400)
        #expect(reply.json["issue"]?[0]?["code"] == "too-costly")
    }

    @Test func anExportWithSinceListsDeletionsInTheManifestsDeletedArray() async throws {
        let world = BulkExportTests.world(patients: 6)
        let ids = world.emr.entries("Patient").compactMap { $0.resource["id"]?.stringValue }
        world.clock.advance(by: .seconds(10))
        let since = world.clock.now()
        world.clock.advance(by: .seconds(1))
        _ = world.emr.delete("Patient", id: ids[2], actor: "clinician", endpoint: nil)
        let (manifest, file, full) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let manifest = try await BulkExportTests.finishedManifest(
                client, world, token: token, query: "?_since=\(FormEncoding.escape(since.fhirInstant))")
            let url = try #require(manifest.json["deleted"]?[0]?["url"]?.stringValue)
            let file = try await client.call(.get, relative(url), bearer: token)
            world.clock.advance(by: .seconds(3600))
            return (manifest, file, try await BulkExportTests.finishedManifest(client, world, token: token))
        }
        #expect(manifest.json["deleted"]?[0]?["type"] == "Bundle")
        #expect(manifest.json["deleted"]?[0]?["count"] == 1)
        let lines = BulkExportTests.lines(file)
        #expect(lines.count == 1)
        #expect(lines[0]["type"] == "transaction")
        #expect(lines[0]["entry"]?[0]?["request"]?["method"] == "DELETE")
        #expect(lines[0]["entry"]?[0]?["request"]?["url"] == .string("Patient/\(ids[2])"))
        #expect(full.json["deleted"] == nil)
        #expect(full.json["output"]?.arrayValue?.first { $0["type"] == "Patient" }?["count"] == .int(ids.count - 1))
    }

    @Test func aPatientMergeLinksTheLoserReplacedByAndTheSurvivorReplaces() throws {
        let world = Self.world()
        let ids = world.emr.entries("Patient").compactMap { $0.resource["id"]?.stringValue }
        try world.emr.mergePatients(survivor: ids[0], loser: ids[1], actor: "clinician")
        let survivor = try #require(world.emr.entry("Patient", ids[0])?.resource)
        let loser = try #require(world.emr.entry("Patient", ids[1])?.resource)
        #expect(loser["active"] == false)
        #expect(loser["link"]?[0]?["type"] == "replaced-by")
        #expect(loser["link"]?[0]?["other"]?["reference"] == .string("Patient/\(ids[0])"))
        #expect(survivor["link"]?.arrayValue?.last?["type"] == "replaces")
        #expect(survivor["link"]?.arrayValue?.last?["other"]?["reference"] == .string("Patient/\(ids[1])"))
        #expect(throws: FHIRError.self) { try world.emr.mergePatients(survivor: ids[0], loser: ids[0], actor: "clinician") }
    }

    // MARK: - Mutation driver

    @Test func theMutationDriverDeletesAndMergesOnBothSidesAtTheConfiguredShare() throws {
        var configuration = TestSandbox.configuration(patients: 40)
        configuration.deletionShare = 0.5
        let world = TestSandbox.world(configuration)
        let made = world.mutations.step(count: 120)
        let kinds = Set(made.map(\.kind))
        #expect(kinds.isSuperset(of: [.contactDeleted, .contactsMerged, .patientDeleted, .patientsMerged]))
        let removals = made.filter { [.contactDeleted, .contactsMerged, .patientDeleted, .patientsMerged].contains($0.kind) }
        #expect(removals.count > 30 && removals.count < 90)
        for change in made {
            switch change.kind {
            case .contactDeleted: #expect(world.salesforce.store.records[change.id]?.isDeleted == true)
            case .contactsMerged:
                #expect(world.salesforce.store.records[change.id]?["MasterRecordId"] == change.survivor.map(WireJSON.string))
            case .patientDeleted: #expect(world.emr.entry("Patient", change.id)?.isDeleted == true)
            case .patientsMerged: #expect(world.emr.entry("Patient", change.id)?.resource["link"]?[0]?["type"] == "replaced-by")
            default: break
            }
        }
        var quiet = TestSandbox.configuration(patients: 40)
        quiet.deletionShare = 0
        let quietWorld = TestSandbox.world(quiet)
        let unchanged = quietWorld.mutations.step(count: 120)
        #expect(!unchanged.contains { removals.map(\.kind).contains($0.kind) })
    }
}
