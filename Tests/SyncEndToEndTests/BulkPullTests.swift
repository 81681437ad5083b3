import FHIRClient
import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing

/// The bulk pull against the certified sandbox over real HTTP: every record staged once as its
/// exact bytes, the watermark at the manifest's transactionTime, a restart resuming the same export,
/// cut and vanished files, hostile lines, manifest errors, and a non-incremental EHR.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BulkPullTests {
    static func certified(
        perFile: Int = 10_000, duration: Duration = .milliseconds(300), ignoresSince: Bool = false, lifetime: Duration = .seconds(3600)
    ) -> (inout SandboxConfiguration) -> Void {
        { configuration in
            configuration.emrProfile = .certified
            configuration.bulkExport.fileLifetime = lifetime
            configuration.bulkExport.duration = duration
            configuration.bulkExport.resourcesPerFile = perFile
            configuration.bulkExport.ignoresSince = ignoresSince
        }
    }

    static let types = ["Patient", "EpisodeOfCare", "QuestionnaireResponse"]
    static let quick = BulkPullSettings(group: "all-patients", defaultPollInterval: .milliseconds(100))

    /// One bulk pull of the mapped types into a pull job; returns the finished job.
    static func pull(_ harness: SandboxHarness, store: SQLiteStore, settings: BulkPullSettings = quick) async throws -> Job {
        let emr = try await harness.fhir()
        let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [emr.meter], logger: SandboxHarness.silent)
        do {
            try await BulkPuller(store: store, source: emr, settings: settings, overlap: .seconds(5)).pull(Self.types, into: recorder, stop: StopSignal())
            return try await recorder.finish()
        } catch {
            _ = try await recorder.finish(.failed, message: "\(error)")
            throw error
        }
    }

    static func stagedIDs(_ store: SQLiteStore, _ type: String) async throws -> [String] {
        try await store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: type), limit: 10_000)).map(\.sourceID)
    }

    @Test func aBulkPullStagesEveryResourceOnceAsItsBytesAndTakesTheTransactionTimeAsWatermark() async throws {
        try await SandboxHarness.with(patients: 30, configure: Self.certified(perFile: 7)) { harness in
            let store = try SQLiteStore.temporary("bulk")
            let job = try await Self.pull(harness, store: store)
            #expect(job.status == .succeeded)
            for type in Self.types {
                let resources = harness.sandbox.inspection.fhirResources(type)
                #expect(Set(try await Self.stagedIDs(store, type)) == Set(resources.compactMap { $0["id"]?.stringValue }), "\(type) staged once each")
            }
            let first = try #require(harness.sandbox.inspection.fhirResources("Patient").first)
            let summaries = try await store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: "Patient", text: first["id"]!.stringValue!), limit: 5))
            let summary = try #require(summaries.first)
            let row = try #require(try await store.row(id: summary.id))
            #expect(row.payload == first.serialized())
            let watermark = try #require(try await store.watermark(system: .emr, resourceType: "Patient"))
            #expect(job.watermarkAfter == watermark)
            #expect(try await store.bulkExport(system: .emr) == nil, "nothing left in flight")
            // A second pull asks only for what changed since: nothing.
            let again = try await Self.pull(harness, store: store)
            #expect(again.counts.pulled == 0)
            #expect(harness.sandbox.inspection.counts().calls[.fhirExport] == 2)
        }
    }

    @Test func aPullStoppedWhileTheExportRunsResumesTheSameExport() async throws {
        try await SandboxHarness.with(patients: 10, configure: Self.certified(duration: .seconds(2))) { harness in
            let store = try SQLiteStore.temporary("bulk")
            var impatient = Self.quick
            impatient.maxWait = .milliseconds(300)
            await #expect(throws: BulkExportTooSlow.self) { _ = try await Self.pull(harness, store: store, settings: impatient) }
            let inFlight = try #require(try await store.bulkExport(system: .emr))
            #expect(try await store.watermark(system: .emr, resourceType: "Patient") == nil)
            let job = try await Self.pull(harness, store: store)
            #expect(job.status == .succeeded)
            #expect(harness.sandbox.inspection.counts().calls[.fhirExport] == 1, "no second kick-off while the status URL answers")
            #expect(try await Self.stagedIDs(store, "Patient").count == 10)
            _ = inFlight
        }
    }

    @Test func aVanishedExportStartsAgainFromTheSameWatermark() async throws {
        try await SandboxHarness.with(patients: 10, configure: Self.certified(duration: .seconds(1), lifetime: .seconds(2))) { harness in
            let store = try SQLiteStore.temporary("bulk")
            var impatient = Self.quick
            impatient.maxWait = .milliseconds(200)
            await #expect(throws: BulkExportTooSlow.self) { _ = try await Self.pull(harness, store: store, settings: impatient) }
            // The export finishes, then it and its files expire before anyone reads them.
            try await Task.sleep(for: .milliseconds(3_500))
            let job = try await Self.pull(harness, store: store)
            #expect(job.status == .succeeded)
            // A second export at least; on a loaded machine its files may expire too before they are
            // read, and a third starts, again from the same watermark.
            #expect(harness.sandbox.inspection.counts().calls[.fhirExport, default: 0] >= 2)
            #expect(try await store.watermark(system: .emr, resourceType: "Patient") == job.watermarkAfter)
            #expect(try await Self.stagedIDs(store, "Patient").count == 10)
        }
    }

    @Test func aFileCutMidLineOrDroppedMidwayIsFetchedAgain() async throws {
        try await SandboxHarness.with(patients: 20, configure: Self.certified(perFile: 8)) { harness in
            try harness.sandbox.faults.inject(FaultRule(.malformedJSON, on: .fhirExportFile, trigger: .nextCalls(1)))
            try harness.sandbox.faults.inject(FaultRule(.droppedConnection, on: .fhirExportFile, trigger: .nextCalls(1)))
            let store = try SQLiteStore.temporary("bulk")
            let job = try await Self.pull(harness, store: store)
            #expect(job.status == .succeeded)
            #expect(try await Self.stagedIDs(store, "Patient").count == 20)
            #expect(harness.sandbox.inspection.counts().faults[.fhirExportFile] == 2)
        }
    }

    @Test func aFileOfManyNetworkPiecesIsStagedLineByLineAsItsExactBytes() async throws {
        // 400 Patients in one file: hundreds of kilobytes, many times what one network read hands on,
        // so lines are split across pieces; staged in batches smaller than the file.
        try await SandboxHarness.with(patients: 400, configure: Self.certified()) { harness in
            let store = try SQLiteStore.temporary("bulk")
            let emr = try await harness.fhir()
            let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [], logger: SandboxHarness.silent)
            try await BulkPuller(store: store, source: emr, settings: Self.quick, batchSize: 64).pull(["Patient"], into: recorder, stop: StopSignal())
            let job = try await recorder.finish()
            let resources = harness.sandbox.inspection.fhirResources("Patient")
            #expect(resources.reduce(0) { $0 + $1.serialized().count } > 200_000)
            #expect(job.counts.staged == resources.count)
            let expected = Dictionary(uniqueKeysWithValues: resources.map { ($0["id"]!.stringValue!, $0.serialized()) })
            var matching = 0
            for summary in try await store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: "Patient"), limit: 1_000)) {
                let row = try #require(try await store.row(id: summary.id))
                if expected[row.sourceID] == row.payload { matching += 1 }
            }
            #expect(matching == resources.count, "every line staged as its exact bytes under its id")
            #expect(harness.sandbox.inspection.counts().calls[.fhirExportFile] == 1, "one file, read once")
        }
    }

    @Test func hostileLinesEachStageAloneAsTheirBytesWithoutKeyingARecord() async throws {
        try await SandboxHarness.with(patients: 5, configure: Self.certified()) { harness in
            let notJSON = Array(#"{"resourceType":"Patient","id":"raw-1","name":[{"family":"Sm"#.utf8) + [0xFF] + Array(#"ith"}],"x":tru}"#.utf8)
            let badID = Array(#"{"resourceType":"Patient","id":"../../Contact/003","meta":{"versionId":"1"}}"#.utf8)
            let lineBreak = Array("{\"resourceType\":\"Patient\",\n\"id\":\"split\"}".utf8)
            harness.sandbox.inspection.plantRawFHIRResource("Patient", id: "raw-1", body: notJSON)
            harness.sandbox.inspection.plantRawFHIRResource("Patient", id: "raw-2", body: badID)
            harness.sandbox.inspection.plantRawFHIRResource("Patient", id: "split", body: lineBreak)
            let store = try SQLiteStore.temporary("bulk")
            let job = try await Self.pull(harness, store: store)
            #expect(job.status == .succeeded)
            let ids = try await Self.stagedIDs(store, "Patient")
            #expect(ids.count == 5 + 2)
            #expect(!ids.contains("../../Contact/003"))
            #expect(ids.filter { $0.hasPrefix("unidentified-") }.count == 2)
            var payloads: [[UInt8]] = []
            for summary in try await store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: "Patient"), limit: 100)) {
                payloads.append(try #require(try await store.row(id: summary.id)).payload)
            }
            #expect(payloads.contains(notJSON) && payloads.contains(badID))
            // The resource that cannot be one NDJSON line is reported by the manifest, and kept on the job.
            #expect(job.exportErrors.count == 1)
            #expect(job.exportErrors.first?.contains("Patient/split") == true)
            #expect(try await store.job(id: job.id)?.exportErrors == job.exportErrors)
        }
    }

    @Test func withoutSinceEveryCycleTakesAFullExportAndStagesOnlyWhatChanged() async throws {
        try await SandboxHarness.with(patients: 8, configure: Self.certified(ignoresSince: true)) { harness in
            let store = try SQLiteStore.temporary("bulk")
            var full = Self.quick
            full.incremental = false
            let first = try await Self.pull(harness, store: store, settings: full)
            let patient = try #require(harness.sandbox.inspection.fhirResources("Patient").first)
            var edited = patient.objectValue!
            edited["gender"] = edited["gender"] == "other" ? "unknown" : "other"
            try harness.sandbox.inspection.editFHIRResource("Patient", id: patient["id"]!.stringValue!, resource: .object(edited))
            let second = try await Self.pull(harness, store: store, settings: full)
            #expect(second.counts.pulled == first.counts.pulled)
            #expect(second.counts.staged == 1)
            #expect(second.counts.deduplicated == first.counts.pulled - 1)
        }
    }

    @Test func anExportThatIgnoresSinceIsDetectedAndReportedAsLinesReadAgainstNew() async throws {
        // emr.bulk.since left on: the server's answer shows it ignored _since.
        try await SandboxHarness.with(patients: 8, configure: Self.certified(ignoresSince: true)) { harness in
            let store = try SQLiteStore.temporary("bulk")
            let first = try await Self.pull(harness, store: store)
            let patient = try #require(harness.sandbox.inspection.fhirResources("Patient").first)
            var edited = patient.objectValue!
            edited["gender"] = edited["gender"] == "other" ? "unknown" : "other"
            try harness.sandbox.inspection.editFHIRResource("Patient", id: patient["id"]!.stringValue!, resource: .object(edited))
            let second = try await Self.pull(harness, store: store)
            #expect(second.status == .succeeded)
            #expect(second.counts.pulled == first.counts.pulled, "a full export again")
            #expect(second.counts.staged == 1)
            #expect(second.counts.deduplicated == first.counts.pulled - 1)
            let events = try await store.recentEvents(limit: 100).filter { $0.jobID == second.id }.map(\.message)
            #expect(events.contains { $0.contains("ignored _since") && $0.contains("of \(first.counts.pulled) lines") })
            #expect(events.contains { $0.contains("\(first.counts.pulled) lines read, 1 new, \(first.counts.pulled - 1) already staged") })
            let firstEvents = try await store.recentEvents(limit: 100).filter { $0.jobID == first.id }.map(\.message)
            #expect(!firstEvents.contains { $0.contains("ignored _since") }, "a first, full export asked nothing to ignore")
        }
    }

    @Test func aCycleWithPullBulkConvergesAgainstTheCertifiedProfile() async throws {
        var sync = try await SyncHarness.start(patients: 30, badShare: 0.1, configure: Self.certified())
        let sandbox = sync.sandbox
        defer { Task { await sandbox.stop() } }
        sync.settings.emrPull = .bulk
        sync.settings.bulk = BulkPullSettings(group: "all-patients", defaultPollInterval: .milliseconds(100))
        let report = try await sync.sync()
        #expect(report.jobs.first?.status == .succeeded)
        for record in sync.inspection.truth() where record.system == .fhir {
            let rows = try await sync.rows(.emr, record.type, record.id)
            #expect(rows.count == 1, "\(record.type)/\(record.id) staged once")
            if let fault = record.fault {
                #expect(rows.first?.status == .failed && rows.first?.error?.fields.contains(fault.field) == true)
            } else if record.withheldBy != nil {
                #expect(rows.first?.status == .withheld, "\(record.type)/\(record.id) carries a blocking security label")
            } else {
                #expect(rows.first?.status == .linked, "\(record.type)/\(record.id): \(rows.first?.error?.description ?? "")")
            }
        }
    }

    @Test func aSearchPullAgainstTheCertifiedProfileFailsNamingTheFix() async throws {
        let sync = try await SyncHarness.start(patients: 5, badShare: 0, configure: Self.certified())
        defer { Task { await sync.stop() } }
        let report = try await sync.cycle.run([.inbound], actor: .system, stop: StopSignal())
        let pull = try #require(report.jobs.first)
        #expect(pull.status == .failed)
        #expect(pull.message?.contains("SEARCH_REFUSED") == true)
        #expect(pull.message?.contains("emr.pull: bulk") == true)
        #expect(pull.message?.contains("must name a patient") == true, "quotes the server's OperationOutcome")
    }
}
