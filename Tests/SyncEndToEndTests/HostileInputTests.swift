import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// One payload of the corpus in `Tests/HostileInputs/<ResourceType>/<fails|links|withheld>/<name>.json`.
struct HostilePayload: CustomStringConvertible, Sendable {
    var resourceType: String
    /// `fails`: staged verbatim, then failed with an error; `links`: hostile-looking but valid,
    /// arrives exactly as sent; `withheld`: a blocked security label keeps it from Salesforce.
    var expectation: String
    var name: String
    var bytes: [UInt8]

    var description: String { "\(resourceType)/\(expectation)/\(name).json" }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("HostileInputs")

    static func corpus() throws -> [HostilePayload] {
        var payloads: [HostilePayload] = []
        let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "json" else { continue }
            let parts = url.pathComponents.suffix(3)
            payloads.append(
                HostilePayload(
                    resourceType: parts.first!, expectation: parts.dropFirst().first!, name: url.deletingPathExtension().lastPathComponent,
                    bytes: Array(try Data(contentsOf: url))))
        }
        return payloads.sorted { $0.description < $1.description }
    }
}

/// Hostile payloads fed through the FHIR simulator into the engine, among good records: nothing
/// crashes, each bad payload is staged verbatim and fails alone with a clear error, the valid but
/// hostile-looking ones arrive exactly as sent, and every good record around them arrives.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct HostileInputTests {
    @Test func everyHostilePayloadFailsAloneWithAClearErrorAndTheGoodRecordsAroundItArrive() async throws {
        let corpus = try HostilePayload.corpus()
        #expect(corpus.count >= 50, "the corpus has \(corpus.count) payloads")
        let sync = try await SyncHarness.start(patients: 24, badShare: 0)
        defer { Task { await sync.stop() } }

        // Good records before, between and after the hostile ones, on the same search pages.
        let half = corpus.count / 2
        for payload in corpus[..<half] { sync.inspection.plantRawFHIRResource(payload.resourceType, id: payload.name, body: payload.bytes) }
        _ = sync.sandbox.mutations.step(count: 10)
        for payload in corpus[half...] { sync.inspection.plantRawFHIRResource(payload.resourceType, id: payload.name, body: payload.bytes) }
        _ = sync.sandbox.mutations.step(count: 10)
        let first = try await sync.sync()
        #expect(first.jobs.filter { $0.kind == .pull }.allSatisfy { $0.status == .succeeded }, "\(first.jobs.map { "\($0.kind) \($0.status): \($0.message ?? "")" })")

        // A change made after a payload stamped in year 9999 still arrives.
        let patient = try #require(sync.inspection.truth().first { $0.type == "Patient" && $0.isGood })
        var edited = try #require(sync.inspection.fhirResource("Patient", id: patient.id)?.objectValue)
        edited["name"] = [["family": "Aftermath", "given": ["Late"]]]
        try sync.inspection.editFHIRResource("Patient", id: patient.id, resource: .object(edited))
        let second = try await sync.sync()
        #expect(second.jobs.allSatisfy { $0.status != .failed }, "\(second.jobs.map { "\($0.kind) \($0.status): \($0.message ?? "")" })")
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        #expect(contacts[patient.id]?.first?["LastName"]?.stringValue == "Aftermath", "a change after the 9999 payload arrives")

        let rows = try await emrRows(sync.store)
        for payload in corpus {
            let staged = rows.filter { $0.payload == payload.bytes || $0.payload.firstRange(of: payload.bytes) != nil }
            guard let latest = staged.last else {
                Issue.record("\(payload) was not staged verbatim")
                continue
            }
            switch payload.expectation {
            case "fails":
                #expect(latest.status == .failed, "\(payload) is \(latest.status.rawValue): \(latest.note ?? "")")
                guard let error = latest.error else { continue }
                #expect(!error.code.isEmpty && !error.message.isEmpty, "\(payload) has an error code and message")
                #expect(error.message.utf8.count <= 1_000, "\(payload): the message is short, not the payload: \(error.message.prefix(200))")
            case "withheld":
                #expect(latest.status == .withheld, "\(payload) is \(latest.status.rawValue): \(latest.error?.description ?? "")")
                #expect(latest.error?.code == ErrorCode.withheldByLabel.rawValue, "\(payload) names the label that withheld it")
                let id = try #require(try JSONValue(parsing: payload.bytes)["id"]?.stringValue)
                #expect(contacts[id] == nil, "\(payload) never reaches Salesforce")
            default:
                #expect(latest.status == .linked, "\(payload) links: \(latest.error?.description ?? latest.status.rawValue)")
                let resource = try JSONValue(parsing: payload.bytes)
                let id = try #require(resource["id"]?.stringValue)
                let copies = contacts[id] ?? []
                #expect(copies.count == 1, "\(payload) arrives once")
                #expect(copies.first?["LastName"]?.stringValue == resource["name"]?[0]?["family"]?.stringValue, "\(payload) arrives as sent")
            }
        }

        // Every seeded record around them arrived exactly once.
        let assessments = sync.salesforce("Assessment__c", by: "EMR_Assessment_Id__c")
        for record in sync.inspection.truth() where record.system == .fhir {
            switch record.type {
            case "Patient": #expect(contacts[record.id]?.count == 1, "Patient/\(record.id) arrives once as a Contact")
            case "QuestionnaireResponse": #expect(assessments[record.id]?.count == 1, "QuestionnaireResponse/\(record.id) arrives once")
            default: break
            }
        }
        #expect(try await sync.store.integrityCheck() == "ok")
    }

    /// Every EMR row with its payload, oldest first.
    private func emrRows(_ store: SQLiteStore) async throws -> [StagedRow] {
        var rows: [StagedRow] = []
        var cursor: RowCursor?
        while true {
            let page = try await store.rows(RowQuery(filter: RowFilter(system: .emr), after: cursor, limit: 500))
            guard let last = page.last else { break }
            for summary in page { if let row = try await store.row(id: summary.id) { rows.append(row) } }
            cursor = last.cursor(for: RowSort())
        }
        return rows.sorted { $0.id < $1.id }
    }
}
