import Foundation
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import Testing

/// `stagelink show` lists every problem of a failed record, each with its field, in text and JSON.
struct ShowEveryProblemTests {
    @Test func showListsEveryProblemOfTheRecordWithItsField() async throws {
        let temporary = try TemporaryFolder("show-problems")
        let folder = temporary.url
        let store = try SQLiteStore(path: folder.appendingPathComponent("store.sqlite").path)
        let mappingPath = HostileOutputTests.root.appendingPathComponent("config/mapping.yaml").path
        let mapping = try MappingDocument.load(contentsOf: mappingPath)
        let patient = #"{"resourceType":"Patient","id":"p1","name":[{"family":"Zed","given":["Zo\u001b[2Jë"]}],"birthDate":"1985-13-45","gender":"female"}"#
        let staged = try await store.stage(
            [IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: Date(), payload: Array(patient.utf8))],
            job: nil, advancing: nil)
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: store, meters: [], logger: .init(label: "test"))
        try await InboundLinker(store: store, target: InMemoryUpsertTarget(), mapping: mapping).linkPending(recorder: recorder, stop: StopSignal())
        _ = try await recorder.finish()
        let options = ["--store", store.path, "--mapping", mappingPath]

        let shown = try await HostileOutputTests.run(["show", String(staged.rowIDs[0])] + options, in: folder)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("Error  MAPPING_CONTROL_CHARACTER [FirstName]"), "\(shown.stdout)")
        #expect(shown.stdout.contains("Also in this record (1 more; fix all before retrying)"))
        #expect(shown.stdout.contains("  MAPPING_INVALID_DATE [Birthdate]\n    Birthdate (birthDate) is not a valid full date (YYYY-MM-DD)"))
        #expect(shown.stdout.contains(#"▶   "birthDate": "1985-13-45""#), "both fields are marked in the payload")
        #expect(HostileOutputTests.unsafeCharacters(in: shown.stdout).isEmpty)

        let json = try await HostileOutputTests.run(["show", String(staged.rowIDs[0]), "--json"] + options, in: folder)
        let error = try #require(try JSONValue(parsing: Array(json.stdout.utf8))["error"])
        #expect(error["code"]?.stringValue == ErrorCode.mappingControlCharacter.rawValue)
        #expect(error["further"]?[0]?["code"]?.stringValue == ErrorCode.mappingInvalidDate.rawValue)
        #expect(error["further"]?[0]?["fields"] == ["Birthdate"])
    }
}
