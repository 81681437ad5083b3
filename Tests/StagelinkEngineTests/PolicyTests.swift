import Foundation
import Testing
@testable import StagelinkEngine
import StagelinkStore

struct PolicyTests {
    @Test func theFilesOwnersAreLoadedIntoTheStoreWithAnAuditEntryEach() async throws {
        let store = try SQLiteStore.temporary()
        let mapping = try Fixtures.mapping()
        let entries = try await mapping.loadPolicy(into: store)
        let rules = try await store.policyRules()
        #expect(rules.count == mapping.declaredPolicy.count)
        #expect(entries.count == rules.count)
        #expect(rules.first { $0.qualifiedField == "Contact.Birthdate" }?.rule == .emr)
        #expect(rules.first { $0.qualifiedField == "Contact.Phone" }?.rule == .salesforce)
        #expect(rules.first { $0.qualifiedField == "Admission__c.Referral_Source__c" }?.rule == .salesforce)
        #expect(entries.allSatisfy { $0.oldRule == nil && $0.actor == .file(Fixtures.mappingPath) })
    }

    @Test func aPolicyChangeIsAuditedWithWhoWhenOldNewAndReason() async throws {
        let harness = try await Harness.make()
        let before = Date()
        let entry = try #require(try await harness.operations.setPolicy("Contact.Phone", to: .emrUnlessBlank, reason: "EMR front desk owns phones now", by: "dana"))
        #expect(entry.actor == .operator("dana"))
        #expect(entry.oldRule == .salesforce)
        #expect(entry.newRule == .emrUnlessBlank)
        #expect(entry.reason == "EMR front desk owns phones now")
        #expect(entry.at >= before.addingTimeInterval(-1))
        let audit = try await harness.store.policyAudit(object: "Contact", field: "Phone", limit: 10)
        #expect(audit.map(\.newRule) == [.emrUnlessBlank, .salesforce])
        let rule = try await harness.store.policyRules().first { $0.qualifiedField == "Contact.Phone" }
        #expect(rule?.rule == .emrUnlessBlank)
        #expect(rule?.changedBy == .operator("dana"))
        #expect(try await harness.operations.setPolicy("Contact.Phone", to: .emrUnlessBlank, reason: "again", by: "dana") == nil)
    }

    @Test func aPolicyChangeNeedsAReasonAndAMappedField() async throws {
        let harness = try await Harness.make()
        await #expect(throws: OperationError.reasonRequired) { try await harness.operations.setPolicy("Contact.Phone", to: .hold, reason: "", by: "dana") }
        await #expect(throws: OperationError.unknownField("Contact.Shoe_Size__c")) {
            try await harness.operations.setPolicy("Contact.Shoe_Size__c", to: .hold, reason: "why not", by: "dana")
        }
    }

    @Test func reloadingTheFileKeepsAPersonsChangeUntilTheFileChangesThatField() async throws {
        let harness = try await Harness.make()
        try await harness.operations.setPolicy("Contact.Phone", to: .hold, reason: "review phones for a week", by: "dana")
        #expect(try await harness.mapping.loadPolicy(into: harness.store).isEmpty)
        #expect(try await harness.store.policyRules().first { $0.qualifiedField == "Contact.Phone" }?.rule == .hold)

        let edited = try String(contentsOfFile: Fixtures.mappingPath, encoding: .utf8).replacingOccurrences(
            of: #"{ field: Phone, path: "telecom[system=phone].value", maxLength: 40, owner: salesforce }"#,
            with: #"{ field: Phone, path: "telecom[system=phone].value", maxLength: 40, owner: emr }"#)
        let changed = try MappingDocument(yaml: edited, file: "edited.yaml")
        let entries = try await changed.loadPolicy(into: harness.store)
        #expect(entries.map { "\($0.object).\($0.field)" } == ["Contact.Phone"])
        #expect(entries.first?.oldRule == .hold)
        #expect(entries.first?.newRule == .emr)
        #expect(entries.first?.actor == .file("edited.yaml"))
    }

    // MARK: - Who wins

    /// Links p1 (phone +1 555 0100) and returns the Salesforce id it got.
    private func linkedPatient(_ harness: Harness) async throws -> String {
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1"))])
        try await harness.link()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1"))
        return try #require(harness.target.records(of: "Contact").keys.first)
    }

    @Test func aChangeOnOneSideFlowsToTheOther() async throws {
        let harness = try await Harness.make()
        _ = try await linkedPatient(harness)
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", phone: "+1 555 0111", version: 2))])
        try await harness.linkBothWays()
        #expect(harness.target.record("Contact", externalID: "p1")?["Phone"] == .text("+1 555 0111"))
        #expect(try await harness.store.countConflicts(status: nil) == 0)
    }

    @Test func whenBothChangedAFieldTheEMROwnedValueWinsAndTheOverriddenValueIsKept() async throws {
        let harness = try await Harness.make()
        let contactID = try await linkedPatient(harness)
        try await harness.stage([
            Fixtures.salesforceContact(id: contactID, patientID: "p1", changes: ["LastName": "Smith"], modified: Fixtures.lastUpdated(2)),
            Fixtures.record(Fixtures.patient(id: "p1", family: "Schmidt", version: 2)),
        ])
        try await harness.linkBothWays()
        #expect(harness.target.record("Contact", externalID: "p1")?["LastName"] == .text("Schmidt"))
        let conflicts = try await harness.store.conflicts(ConflictQuery())
        #expect(conflicts.count == 1)
        let conflict = try #require(conflicts.first)
        #expect(conflict.field == "LastName")
        #expect(conflict.emrValue == .text("Schmidt"))
        #expect(conflict.salesforceValue == .text("Smith"))
        #expect(conflict.rule == .emr)
        #expect(conflict.status == .decided)
        #expect(conflict.winner == .emr)
        // The EMR never receives Salesforce's losing value.
        #expect(harness.emr.writeCount == 0)
    }

    @Test func whenBothChangedASalesforceOwnedFieldSalesforcesValueStandsAndReachesTheEMR() async throws {
        let harness = try await Harness.make()
        let contactID = try await linkedPatient(harness)
        try await harness.stage([
            Fixtures.salesforceContact(id: contactID, patientID: "p1", changes: ["Phone": "+1 555 0199"], modified: Fixtures.lastUpdated(2)),
            Fixtures.record(Fixtures.patient(id: "p1", phone: "+1 555 0122", version: 2)),
        ])
        try await harness.linkBothWays()
        #expect(harness.target.record("Contact", externalID: "p1")?["Phone"] == .text("+1 555 0100"))
        let patient = try #require(harness.emr.resource("Patient", id: "p1"))
        #expect(FieldPath.phone.value(in: patient) == "+1 555 0199")
        let conflicts = try await harness.store.conflicts(ConflictQuery())
        #expect(conflicts.map(\.winner) == [.salesforce])
        #expect(conflicts.first?.emrValue == .text("+1 555 0122"))
        #expect(conflicts.first?.salesforceValue == .text("+1 555 0199"))
    }

    @Test func ownerWinsUnlessItsValueIsBlank() async throws {
        let harness = try await Harness.make()
        try await harness.operations.setPolicy("Contact.Phone", to: .emrUnlessBlank, reason: "test", by: "dana")
        let contactID = try await linkedPatient(harness)
        try await harness.stage([
            Fixtures.salesforceContact(id: contactID, patientID: "p1", changes: ["Phone": "+1 555 0199"], modified: Fixtures.lastUpdated(2)),
            Fixtures.record(Fixtures.patient(id: "p1", phone: nil, version: 2)),
        ])
        try await harness.linkBothWays()
        #expect(harness.target.record("Contact", externalID: "p1")?["Phone"] == .text("+1 555 0100"))
        let conflict = try #require(try await harness.store.conflicts(ConflictQuery()).first)
        #expect(conflict.emrValue == .null)
        #expect(conflict.winner == .salesforce)
        #expect(conflict.rule == .emrUnlessBlank)
    }

    @Test func underHoldTheFieldWaitsAsAnOpenConflictAndTheRestIsWritten() async throws {
        let harness = try await Harness.make()
        try await harness.operations.setPolicy("Contact.LastName", to: .hold, reason: "name changes need review", by: "dana")
        let contactID = try await linkedPatient(harness)
        let rows = try await harness.stage([
            Fixtures.salesforceContact(id: contactID, patientID: "p1", changes: ["LastName": "Smith"], modified: Fixtures.lastUpdated(2)),
            Fixtures.record(Fixtures.patient(id: "p1", family: "Schmidt", given: "Zoe", version: 2)),
        ])
        try await harness.linkBothWays()
        let contact = try #require(harness.target.record("Contact", externalID: "p1"))
        #expect(contact["LastName"] == .text("Müller"))
        #expect(contact["FirstName"] == .text("Zoe"))
        let emrRow = try await harness.row(rows.rowIDs[1])
        #expect(emrRow.status == .held)
        #expect(emrRow.note == "waiting for review: LastName")
        let open = try await harness.store.conflicts(ConflictQuery(statuses: [.open]))
        #expect(open.count == 1)
        #expect(open.first?.winner == nil)
        #expect(open.first?.emrValue == .text("Schmidt"))
        #expect(open.first?.salesforceValue == .text("Smith"))
        let events = try await harness.store.recentEvents(limit: 50).map(\.message)
        #expect(events.contains("Contact: 1 conflict found, 1 row held for review"), "a held conflict is an event, not only a row")
        #expect(events.contains("dana changed the policy of Contact.LastName: emr → hold"), "so is the policy change")
    }

    @Test func lineageAnswersWhichRowJobAndRuleWroteAField() async throws {
        let harness = try await Harness.make()
        let rows = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1"))])
        let job = try await harness.link()
        let contactID = try #require(harness.target.records(of: "Contact").keys.first)
        let answer = try await harness.operations.why(object: "Contact", id: contactID, field: "Birthdate")
        #expect(answer.write.value == .text("1984-02-29"))
        #expect(answer.write.rowID == rows.rowIDs[0])
        #expect(answer.write.jobID == job.id)
        #expect(answer.write.rule == .emr)
        #expect(answer.write.actor == .job(job.id))
        #expect(answer.write.writtenTo == .salesforce)
        #expect(answer.row?.sourceID == "p1")
        #expect(answer.state?.synced == .text("1984-02-29"))
        let byKey = try await harness.operations.why(object: "Contact", id: "p1", field: "Birthdate")
        #expect(byKey.write == answer.write)
        await #expect(throws: OperationError.self) { try await harness.operations.why(object: "Contact", id: contactID, field: "Shoe_Size__c") }
    }

    @Test func anEchoOfOurOwnWriteWritesNothing() async throws {
        let harness = try await Harness.make()
        let contactID = try await linkedPatient(harness)
        let calls = harness.target.batchSizes.count
        let echo = try await harness.stage([Fixtures.salesforceContact(id: contactID, patientID: "p1", modified: Fixtures.lastUpdated(3), by: "005STAGELINK")])
        try await harness.linkBothWays()
        #expect(harness.emr.writeCount == 0)
        #expect(harness.target.batchSizes.count == calls)
        let row = try await harness.row(echo.rowIDs[0])
        #expect(row.status == .linked)
        #expect(row.note == "echo of Stagelink's own write: nothing to send")
    }
}

extension FieldPath {
    static let phone = try! FieldPath("telecom[system=phone].value")
}

extension Optional where Wrapped == JSONValue {
    static func == (lhs: JSONValue?, rhs: String) -> Bool { lhs?.stringValue == rhs }
}
