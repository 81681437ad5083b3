import Foundation
import Sandbox
import StagelinkEngine
import StagelinkHTTP
import StagelinkStore
import StagelinkTestSupport
import Testing

/// Records an EHR labels 42 CFR Part 2 / substance use never reach Salesforce, as the sandbox's
/// own inspection API (`GET /_sandbox/records/salesforce/Contact`) shows them.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SensitivityEndToEndTests {
    @Test func labelledEpisodesAreStagedWithheldAndNeverReachTheSimulatedSalesforce() async throws {
        let sync = try await SyncHarness.start(patients: 40, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()

        let labelled = sync.inspection.truth().filter { $0.withheldBy != nil }
        #expect(labelled.count >= 3, "the sandbox seeds labelled records")
        #expect(labelled.allSatisfy { $0.type == "EpisodeOfCare" && $0.withheldBy == "42CFRPart2" })

        let episodes = Dictionary(uniqueKeysWithValues: sync.inspection.fhirResources("EpisodeOfCare").map { ($0["id"]!.stringValue!, $0) })
        let contacts = try await Self.sandboxRecords(sync, "/_sandbox/records/salesforce/Contact")
        let contactsByPatient = Dictionary(grouping: contacts, by: { $0["EMR_Patient_Id__c"]?.stringValue ?? "" })
        for record in labelled {
            let rows = try await sync.rows(.emr, "EpisodeOfCare", record.id)
            #expect(rows.count == 1 && rows[0].status == .withheld, "EpisodeOfCare/\(record.id) is staged and withheld")
            #expect(rows.first?.error?.code == ErrorCode.withheldByLabel.rawValue)
            #expect(rows.first?.error?.message.contains("42CFRPart2") == true, "the row names its label")
            let patient = try #require(episodes[record.id]?["patient"]?["reference"]?.stringValue?.split(separator: "/").last.map(String.init))
            let contact = try #require(contactsByPatient[patient]?.first, "the patient itself is not labelled: its Contact arrives")
            #expect(contact["Level_of_Care__c"] == nil || contact["Level_of_Care__c"]?.isNull == true, "no level of care from a withheld episode")
            #expect(contact["Clinical_Status__c"] == nil || contact["Clinical_Status__c"]?.isNull == true)
        }
        #expect(!contacts.contains { $0["Level_of_Care__c"]?.stringValue == "Detox" }, "only labelled episodes carry detox: none arrived")
        #expect(contacts.contains { $0["Level_of_Care__c"]?.stringValue != nil }, "unlabelled episodes flow")
        #expect(try await sync.store.countRows(RowFilter(statuses: [.withheld])) == labelled.count)
        #expect(try await sync.store.countRows(RowFilter(statuses: [.failed])) == 0, "withheld is not a failure")

        // A second cycle (the overlap re-reads) changes nothing: still withheld, still not sent.
        try await sync.sync()
        #expect(try await sync.store.countRows(RowFilter(statuses: [.withheld])) == labelled.count)
        #expect(!(try await Self.sandboxRecords(sync, "/_sandbox/records/salesforce/Contact")).contains { $0["Level_of_Care__c"]?.stringValue == "Detox" })
    }

    static func sandboxRecords(_ sync: SyncHarness, _ path: String) async throws -> [SandboxJSON] {
        let http = HTTPClient(configuration: SandboxHarness.quickHTTP(), meter: APIMeter(), logger: .init(label: "test"))
        let response = try await http.send(HTTPRequest(.get, url: URL(string: sync.sandbox.salesforceURL + path)!, retry: .idempotent))
        #expect(response.status == 200)
        return try #require(try WireJSON.parse(response.body).arrayValue)
    }
}
