import Foundation
import StagelinkEngine
import StagelinkFakes
import StagelinkStore
import Testing

/// Writes into an EMR without conditional create or PUT (`emr.writes`): search-then-create with a
/// create intent that survives a lost answer, duplicates that stop for a person, and JSON Patch
/// updates naming only what changed.
struct EMRWriteModeTests {
    static let certified = EMRWriteModes(create: .searchThenCreate, update: .patch)
    static let contactID = "003000000000001AAA"
    static let admissionID = "a0A000000000001AAA"
    static let contactIdentifier = ResourceIdentifier(system: "https://stagelink.dev/sid/salesforce-contact", value: contactID)

    static func harness(_ modes: EMRWriteModes = certified) async throws -> Harness {
        var harness = try await Harness.make()
        harness.emr = InMemoryResourceWriter(modes: modes)
        harness.target.seed("Contact", id: contactID)
        harness.target.seed("Admission__c", id: admissionID)
        return harness
    }

    /// A ready admission as the REST API returns it, with its Contact's values.
    static func admission(_ id: String = admissionID, modified: Date = Date()) -> IncomingRecord {
        let record: JSONValue = [
            "attributes": ["type": "Admission__c"], "Id": .string(id), "SystemModstamp": .string(Timestamp.format(modified)),
            "LastModifiedById": "005HUMAN", "Stage__c": "Ready for Intake", "Contact__c": .string(contactID), "EMR_ServiceRequest_Id__c": .null,
            "Referral_Source__c": "Dr. Hale",
            "Contact__r": [
                "FirstName": "Zoë", "LastName": "Müller", "Birthdate": "1984-02-29", "Gender__c": "Female", "Phone": "+1 555 0100",
                "Email": .null, "MailingStreet": .null, "MailingCity": .null, "MailingState": .null, "MailingPostalCode": .null,
            ],
        ]
        return IncomingRecord(system: .salesforce, resourceType: "Admission__c", sourceID: id, version: nil, lastUpdated: modified, payload: JSONWriter.compact(record))
    }

    static func push(_ harness: Harness, _ rowID: Int64) async throws -> LinkOutcome {
        let recorder = try await JobRecorder.start(.push, direction: .outbound, actor: .system, store: harness.store, meters: [], logger: .init(label: "test"))
        let outcome = try await harness.outbound.push(rowID: rowID, recorder: recorder)
        _ = try await recorder.finish()
        return outcome
    }

    @Test func searchThenCreateMakesThePatientAndServiceRequestOnceWithoutConditionalCreate() async throws {
        let harness = try await Self.harness()
        let staged = try await harness.stage([Self.admission()])
        try await harness.linkOutbound()
        let row = try await harness.row(staged.rowIDs[0])
        #expect(row.status == .linked, "\(row.error?.description ?? "")")
        #expect(harness.emr.resources("Patient").count == 1)
        #expect(harness.emr.resources("ServiceRequest").count == 1)
        #expect(try await harness.store.createIntents().isEmpty, "no create is left in doubt")
        // Pushed again by hand: both are found by their identifiers, nothing new is made.
        let again = try await Self.push(harness, staged.rowIDs[0])
        #expect(again.status == .linked)
        #expect(harness.emr.resources("Patient").count == 1)
        #expect(harness.emr.resources("ServiceRequest").count == 1)
    }

    @Test func aCreateWhoseAnswerIsLostLeavesAnIntentAndTheNextAttemptFindsWhatItMade() async throws {
        let harness = try await Self.harness()
        let staged = try await harness.stage([Self.admission()])
        harness.emr.loseNextCreateAnswer()
        try await harness.linkOutbound()
        let failed = try await harness.row(staged.rowIDs[0])
        #expect(failed.status == .failed)
        #expect(failed.error?.isTransient == true)
        let intents = try await harness.store.createIntents()
        #expect(intents.map(\.identifier) == [Self.contactIdentifier])
        #expect(intents.first?.rowID == staged.rowIDs[0])
        #expect(harness.emr.resources("Patient").count == 1, "the POST landed")

        let retried = try await Self.push(harness, staged.rowIDs[0])
        #expect(retried.status == .linked)
        #expect(harness.emr.resources("Patient").count == 1, "found by the identifier search, not created again")
        #expect(try await harness.store.createIntents().isEmpty)
        let patientID = try #require(harness.emr.resources("Patient").keys.first)
        #expect(retried.links.contains { $0.targetType == "Patient" && $0.targetID == patientID })
    }

    @Test func twoPatientsWithTheIdentifierAreALastingMultipleMatchesNamingBoth() async throws {
        let harness = try await Self.harness()
        let twin: JSONValue = [
            "resourceType": "Patient", "identifier": [["system": .string(Self.contactIdentifier.system), "value": .string(Self.contactID)]],
        ]
        let ids = [harness.emr.insert("Patient", resource: twin), harness.emr.insert("Patient", resource: twin)].sorted()
        let staged = try await harness.stage([Self.admission()])
        try await harness.linkOutbound()
        let row = try await harness.row(staged.rowIDs[0])
        #expect(row.status == .failed)
        #expect(row.error?.code == "MULTIPLE_MATCHES")
        #expect(row.error?.isTransient == false)
        #expect(row.error?.message.contains("2 Patient resources in the EMR carry the identifier \(Self.contactIdentifier)") == true)
        #expect(row.error?.message.contains("Patient/\(ids[0]), Patient/\(ids[1])") == true)
        #expect(harness.emr.resources("Patient").count == 2, "no third Patient")
        #expect(harness.emr.resources("ServiceRequest").isEmpty)
    }

    @Test func aContactChangeGoesAsAJSONPatchOfOnlyTheChangedElementWithIfMatch() async throws {
        let harness = try await Self.harness()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1"))
        let linked = Date(timeIntervalSince1970: 1_790_000_000)
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1")), Fixtures.salesforceContact(id: Self.contactID, patientID: "p1", modified: linked)])
        try await harness.linkBothWays()
        let before = try #require(harness.emr.resource("Patient", id: "p1"))
        let changed = Fixtures.salesforceContact(id: Self.contactID, patientID: "p1", changes: ["Phone": "+1 555 0199"], modified: linked.addingTimeInterval(60))
        let staged = try await harness.stage([changed])
        try await harness.linkOutbound()
        let row = try await harness.row(staged.rowIDs[0])
        #expect(row.status == .linked, "\(row.error?.description ?? "")")
        let after = try #require(harness.emr.resource("Patient", id: "p1"))
        #expect(after["telecom"]?[0]?["value"] == "+1 555 0199")
        #expect(after["meta"]?["versionId"] == "2")
        var unchanged = after
        unchanged.setTelecom(before["telecom"]!)
        #expect(JSONPatchOperation.changes(from: before, to: unchanged).isEmpty, "nothing but the phone changed")
    }

    @Test func changesNameOnlyWhatDiffersAndApplyBackToTheTarget() throws {
        let old: JSONValue = [
            "resourceType": "Patient", "id": "p1", "meta": ["versionId": "3"], "gender": "female", "name": [["family": "Okafor", "given": ["Ada"]]],
            "telecom": [["system": "phone", "value": "1"]], "a/b~c": "x",
        ]
        let new: JSONValue = [
            "resourceType": "Patient", "id": "p1", "meta": ["versionId": "4"], "name": [["family": "Okafor-Reyes", "given": ["Ada"]]],
            "telecom": [["system": "phone", "value": "1"], ["system": "email", "value": "e"]], "a/b~c": "y", "birthDate": "1974",
        ]
        let operations = JSONPatchOperation.changes(from: old, to: new)
        #expect(
            operations == [
                JSONPatchOperation(op: "remove", path: "/gender", value: nil),
                JSONPatchOperation(op: "replace", path: "/name/0/family", value: "Okafor-Reyes"),
                JSONPatchOperation(op: "replace", path: "/telecom", value: new["telecom"]),
                JSONPatchOperation(op: "replace", path: "/a~1b~0c", value: "y"),
                JSONPatchOperation(op: "add", path: "/birthDate", value: "1974"),
            ])
        var expected = new.objectValue!
        expected["meta"] = old["meta"]
        #expect(JSONPatchOperation.applying(operations, to: old) == .object(expected))
        #expect(JSONPatchOperation.applying([JSONPatchOperation(op: "replace", path: "/nothing/here", value: "1")], to: old) == nil)
        #expect(JSONWriter.compactString(JSONPatchOperation.document(Array(operations.prefix(2))))
            == #"[{"op":"remove","path":"/gender"},{"op":"replace","path":"/name/0/family","value":"Okafor-Reyes"}]"#)
    }

    @Test func writeModesFollowTheCapabilityStatement() {
        #expect(EMRWriteModes(interactions: ["create", "update", "patch"], conditionalCreate: true) == EMRWriteModes(create: .conditional, update: .put))
        #expect(EMRWriteModes(interactions: ["create", "patch"], conditionalCreate: false) == EMRWriteModes(create: .searchThenCreate, update: .patch))
        #expect(EMRWriteModes(interactions: ["create"], conditionalCreate: false).update == .put, "neither offered: PUT, whose refusal names the problem")
    }
}

extension JSONValue {
    fileprivate mutating func setTelecom(_ telecom: JSONValue) {
        guard var object = objectValue else { return }
        object["telecom"] = telecom
        self = .object(object)
    }
}
