import Hummingbird
import HummingbirdTesting
import Testing

@testable import Sandbox

/// Bulk Data export in the FHIR simulator, rule by rule of the Bulk Data Access IG v2: the cohort
/// Group, kick-off, polling, the manifest, NDJSON files, `_since`, `_type`, `_outputFormat`, one
/// export at a time, cancellation, expiry, faults and planted raw records.
struct BulkExportTests {
    static let async = [("Prefer", "respond-async"), ("Accept", "application/fhir+json")]

    static func world(
        _ profile: EMRProfile = .certified, patients: Int = 20, perFile: Int = 10_000, duration: Duration = .seconds(30),
        ignoresSince: Bool = false
    ) -> SandboxWorld {
        var configuration = TestSandbox.configuration(patients: patients)
        configuration.emrProfile = profile
        configuration.bulkExport.duration = duration
        configuration.bulkExport.resourcesPerFile = perFile
        configuration.bulkExport.ignoresSince = ignoresSince
        // Tests move the sandbox's clock past export lifetimes: the token must outlive them.
        configuration.fhirTokenLifetime = .seconds(86_400)
        return TestSandbox.world(configuration)
    }

    /// Kicks off, lets the export finish, and returns the manifest reply.
    static func finishedManifest(_ client: any TestClientProtocol, _ world: SandboxWorld, token: String, query: String = "") async throws -> Reply {
        let kickOff = try await client.call(.get, "/fhir/Group/all-patients/$export" + query, bearer: token, headers: async)
        #expect(kickOff.status == 202)
        world.clock.advance(by: .seconds(31))
        return try await client.call(.get, relative(try #require(kickOff.header("Content-Location"))), bearer: token)
    }

    static func lines(_ reply: Reply) -> [WireJSON] {
        reply.body.split(separator: UInt8(ascii: "\n")).map { (try? WireJSON.parse(Array($0))) ?? .null }
    }

    @Test func theCohortGroupListsEveryPatient() async throws {
        let world = Self.world(patients: 15)
        let (list, read) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            return (try await client.call(.get, "/fhir/Group", bearer: token), try await client.call(.get, "/fhir/Group/all-patients", bearer: token))
        }
        #expect(list.status == 200)
        #expect(list.json["entry"]?[0]?["resource"]?["id"] == "all-patients")
        #expect(read.json["quantity"] == .int(world.emr.entries("Patient").count))
        #expect(read.json["member"]?.arrayValue?.count == world.emr.entries("Patient").count)
    }

    @Test func kickOffAnswers202WithAnAbsoluteStatusURLThenPollsAnswer202WithProgressThen200WithTheManifest() async throws {
        let world = Self.world(patients: 20)
        let (kickOff, running, done) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let kickOff = try await client.call(.get, "/fhir/Group/all-patients/$export?_outputFormat=application%2Ffhir%2Bndjson", bearer: token, headers: Self.async)
            let status = relative(try #require(kickOff.header("Content-Location")))
            let running = try await client.call(.get, status, bearer: token)
            world.clock.advance(by: .seconds(31))
            return (kickOff, running, try await client.call(.get, status, bearer: token))
        }
        #expect(kickOff.status == 202)
        #expect(kickOff.header("Content-Location")?.hasPrefix(TestSandbox.fhirBase + "/_bulk/status/") == true)
        #expect(running.status == 202)
        #expect(running.header("X-Progress")?.contains("%") == true)
        #expect(Int(running.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(done.status == 200)
        #expect(done.json["requiresAccessToken"] == true)
        #expect(done.json["request"]?.stringValue?.hasPrefix(TestSandbox.fhirBase + "/Group/all-patients/$export") == true)
        #expect(done.json["transactionTime"]?.stringValue != nil)
        #expect(done.header("Expires") != nil)
        let output = try #require(done.json["output"]?.arrayValue)
        let types = Set(output.compactMap { $0["type"]?.stringValue })
        #expect(types == ["Patient", "EpisodeOfCare", "QuestionnaireResponse", "ServiceRequest"].filter { !world.emr.entries($0).isEmpty }.reduce(into: Set()) { $0.insert($1) })
        let patients = output.first { $0["type"] == "Patient" }
        #expect(patients?["count"] == .int(world.emr.entries("Patient").count))
        #expect(done.json["error"]?.arrayValue?.isEmpty == true)
    }

    @Test func kickOffWithoutRespondAsyncOrWithAnUnknownFormatTypeOrParameterIsRefused() async throws {
        let world = Self.world()
        let replies = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            return [
                try await client.call(.get, "/fhir/$export", bearer: token),
                try await client.call(.get, "/fhir/$export?_outputFormat=text%2Fcsv", bearer: token, headers: Self.async),
                try await client.call(.get, "/fhir/$export?_type=Observation", bearer: token, headers: Self.async),
                try await client.call(.get, "/fhir/$export?_typeFilter=Patient%3Fgender%3Dmale", bearer: token, headers: Self.async),
                try await client.call(.get, "/fhir/$export?_since=yesterday", bearer: token, headers: Self.async),
                try await client.call(.get, "/fhir/Group/nobody/$export", bearer: token, headers: Self.async),
            ]
        }
        #expect(replies.map(\.status) == [400, 400, 400, 400, 400, 404])
        #expect(replies.allSatisfy { $0.json["resourceType"] == "OperationOutcome" })
    }

    @Test func outputFilesAreNDJSONSplitEveryNResourcesAndNeedTheBearerToken() async throws {
        let world = Self.world(patients: 25, perFile: 10)
        let (manifest, files, anonymous) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let manifest = try await Self.finishedManifest(client, world, token: token, query: "?_type=Patient")
            var files: [Reply] = []
            for entry in manifest.json["output"]?.arrayValue ?? [] {
                files.append(try await client.call(.get, relative(entry["url"]!.stringValue!), bearer: token))
            }
            let anonymous = try await client.call(.get, relative(manifest.json["output"]![0]!["url"]!.stringValue!))
            return (manifest, files, anonymous)
        }
        #expect(manifest.json["output"]?.arrayValue?.map { $0["count"] } == [10, 10, 5])
        #expect(files.allSatisfy { $0.status == 200 && $0.header("Content-Type") == "application/fhir+ndjson" })
        let ids = files.flatMap(Self.lines).compactMap { $0["id"]?.stringValue }
        #expect(ids == world.emr.entries("Patient").compactMap { $0.resource["id"]?.stringValue })
        #expect(files[0].body == world.emr.entries("Patient").prefix(10).flatMap { $0.encoded + [UInt8(ascii: "\n")] })
        #expect(anonymous.status == 401)
    }

    @Test func elementsCutsEachResourceToTheListedRootElementsMarkedSubsetted() async throws {
        let world = Self.world(patients: 6)
        let (files, refused) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let manifest = try await Self.finishedManifest(client, world, token: token, query: "?_type=Patient,EpisodeOfCare&_elements=id,meta,Patient.gender")
            var files: [String: Reply] = [:]
            for entry in manifest.json["output"]?.arrayValue ?? [] {
                files[entry["type"]!.stringValue!] = try await client.call(.get, relative(entry["url"]!.stringValue!), bearer: token)
            }
            world.clock.advance(by: .seconds(3600))
            let refused = try await client.call(.get, "/fhir/Group/all-patients/$export?_elements=name.family", bearer: token, headers: Self.async)
            return (files, refused)
        }
        let patients = Self.lines(try #require(files["Patient"]))
        #expect(patients.count == world.emr.entries("Patient").count)
        for (line, entry) in zip(patients, world.emr.entries("Patient")) {
            // Only the listed root elements (and the mandatory resourceType, id, meta); Patient.gender for Patients only.
            let keys = Set(line.objectValue?.keys ?? [])
            #expect(keys.isSubset(of: ["resourceType", "id", "meta", "gender"]))
            #expect(line["id"] == entry.resource["id"])
            #expect(line["gender"] == entry.resource["gender"])
            #expect(line["meta"]?["versionId"] == entry.resource["meta"]?["versionId"])
            #expect(line["meta"]?["tag"]?.arrayValue?.contains { $0["code"] == "SUBSETTED" } == true)
        }
        let episodes = Self.lines(try #require(files["EpisodeOfCare"]))
        #expect(!episodes.isEmpty)
        let episodeKeys = episodes.map { Set($0.objectValue?.keys ?? []) }
        #expect(episodeKeys.allSatisfy { $0 == ["resourceType", "id", "meta"] })
        // Only root elements are permitted (IG v2 kick-off `_elements`).
        #expect(refused.status == 400)
    }

    @Test func sinceSelectsWhatChangedAfterItUnlessTheServerIgnoresIt() async throws {
        for ignores in [false, true] {
            let world = Self.world(patients: 10, ignoresSince: ignores)
            let edited = try #require(world.emr.entries("Patient").first)
            world.clock.advance(by: .seconds(60))
            let since = world.clock.now()
            world.clock.advance(by: .seconds(1))
            var resource = edited.resource
            resource["gender"] = resource["gender"] == "other" ? "unknown" : "other"
            try SandboxInspection(world: world).editFHIRResource("Patient", id: resource["id"]!.stringValue!, resource: .object(resource))
            let manifest = try await TestSandbox.fhir(world) { client in
                try await Self.finishedManifest(client, world, token: try await client.fhirToken(), query: "?_type=Patient&_since=\(since.fhirInstant)")
            }
            let count = manifest.json["output"]?[0]?["count"]
            #expect(count == (ignores ? .int(10) : 1))
        }
    }

    @Test func systemLevelExportCoversEveryTypeAndTypeNarrowsIt() async throws {
        let world = Self.world(.generic, patients: 10)
        let (all, narrowed) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let first = try await client.call(.get, "/fhir/$export", bearer: token, headers: Self.async)
            world.clock.advance(by: .seconds(31))
            let all = try await client.call(.get, relative(first.header("Content-Location")!), bearer: token)
            let second = try await client.call(.get, "/fhir/$export?_type=Questionnaire,Patient", bearer: token, headers: Self.async)
            world.clock.advance(by: .seconds(31))
            return (all, try await client.call(.get, relative(second.header("Content-Location")!), bearer: token))
        }
        #expect(all.json["output"]?.arrayValue?.contains { $0["type"] == "Questionnaire" } == true)
        #expect(narrowed.json["output"]?.arrayValue?.compactMap { $0["type"]?.stringValue } == ["Questionnaire", "Patient"])
    }

    @Test func aSecondKickOffWhileOneRunsIsAnswered429() async throws {
        let world = Self.world()
        let (first, second, afterwards) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let first = try await client.call(.get, "/fhir/$export", bearer: token, headers: Self.async)
            let second = try await client.call(.get, "/fhir/Group/all-patients/$export", bearer: token, headers: Self.async)
            world.clock.advance(by: .seconds(31))
            return (first, second, try await client.call(.get, "/fhir/$export", bearer: token, headers: Self.async))
        }
        #expect(first.status == 202)
        #expect(second.status == 429)
        #expect(second.header("Retry-After") != nil)
        #expect(afterwards.status == 202)
    }

    @Test func deleteCancelsTheExportThenItsStatusIs404() async throws {
        let world = Self.world()
        let (cancel, status, again) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let kickOff = try await client.call(.get, "/fhir/$export", bearer: token, headers: Self.async)
            let url = relative(kickOff.header("Content-Location")!)
            return (try await client.call(.delete, url, bearer: token), try await client.call(.get, url, bearer: token),
                    try await client.call(.delete, url, bearer: token))
        }
        #expect(cancel.status == 202)
        #expect(status.status == 404)
        #expect(again.status == 404)
    }

    @Test func filesAndTheManifestExpireAfterTheirLifetime() async throws {
        let world = Self.world()
        let (file, status) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let kickOff = try await client.call(.get, "/fhir/$export", bearer: token, headers: Self.async)
            let url = relative(kickOff.header("Content-Location")!)
            world.clock.advance(by: .seconds(31))
            let manifest = try await client.call(.get, url, bearer: token)
            world.clock.advance(by: .seconds(3601))
            let file = try await client.call(.get, relative(manifest.json["output"]![0]!["url"]!.stringValue!), bearer: token)
            return (file, try await client.call(.get, url, bearer: token))
        }
        #expect(file.status == 404)
        #expect(file.json["resourceType"] == "OperationOutcome")
        #expect(status.status == 404)
    }

    @Test func lenientOffersNoExport() async throws {
        let world = Self.world(.lenient)
        let reply = try await TestSandbox.fhir(world) { client in
            try await client.call(.get, "/fhir/$export", bearer: try await client.fhirToken(), headers: Self.async)
        }
        #expect(reply.status == 404)
    }

    @Test func typesTheScopesDoNotAllowAreReportedInTheErrorFile() async throws {
        let world = Self.world(patients: 5)
        let (manifest, errors) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken(TestSandbox.rsaCredentials, scope: "system/Patient.rs")
            let manifest = try await Self.finishedManifest(client, world, token: token, query: "?_type=Patient,QuestionnaireResponse")
            let errors = try await client.call(.get, relative(manifest.json["error"]![0]!["url"]!.stringValue!), bearer: token)
            return (manifest, errors)
        }
        #expect(manifest.json["output"]?.arrayValue?.compactMap { $0["type"]?.stringValue } == ["Patient"])
        #expect(Self.lines(errors).first?["resourceType"] == "OperationOutcome")
        #expect(Self.lines(errors).first?["issue"]?[0]?["diagnostics"]?.stringValue?.contains("QuestionnaireResponse") == true)
    }

    @Test func plantedRawRecordsAreExportedAsTheirBytes() async throws {
        let world = Self.world(patients: 3)
        let raw = Array(#"{"resourceType":"Patient","id":"raw-1","name":[{"family":"Sm"#.utf8) + [0xFF] + Array(#"ith"}],"x":tru}"#.utf8)
        SandboxInspection(world: world).plantRawFHIRResource("Patient", id: "raw-1", body: raw)
        let file = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let manifest = try await Self.finishedManifest(client, world, token: token, query: "?_type=Patient")
            return try await client.call(.get, relative(manifest.json["output"]![0]!["url"]!.stringValue!), bearer: token)
        }
        let lines = file.body.split(separator: UInt8(ascii: "\n")).map(Array.init)
        #expect(lines.last == raw)
    }

    @Test func faultsApplyToTheExportEndpointGroups() async throws {
        let world = Self.world(patients: 10)
        try world.faults.inject(FaultRule(.serviceUnavailable, on: .fhirExport, trigger: .nextCalls(1)))
        try world.faults.inject(FaultRule(.tooManyRequests, on: .fhirExportStatus, trigger: .nextCalls(1)))
        try world.faults.inject(FaultRule(.malformedJSON, on: .fhirExportFile, trigger: .nextCalls(1)))
        let (kickOffs, poll, cut, whole) = try await TestSandbox.fhir(world) { client in
            let token = try await client.fhirToken()
            let refused = try await client.call(.get, "/fhir/$export?_type=Patient", bearer: token, headers: Self.async)
            let accepted = try await client.call(.get, "/fhir/$export?_type=Patient", bearer: token, headers: Self.async)
            world.clock.advance(by: .seconds(31))
            let url = relative(accepted.header("Content-Location")!)
            let poll = try await client.call(.get, url, bearer: token)
            let manifest = try await client.call(.get, url, bearer: token)
            let file = relative(manifest.json["output"]![0]!["url"]!.stringValue!)
            return ([refused.status, accepted.status], poll.status, try await client.call(.get, file, bearer: token), try await client.call(.get, file, bearer: token))
        }
        #expect(kickOffs == [503, 202])
        #expect(poll == 429)
        #expect(cut.body.count < whole.body.count)
        #expect(cut.body.last != UInt8(ascii: "\n"))
        #expect(world.faults.injectedCounts[.fhirExportFile] == 1)
    }
}
