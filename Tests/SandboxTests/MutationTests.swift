import Testing

@testable import Sandbox

/// The mutation driver edits both sides as people would, distinguishable from the integration user.
struct MutationTests {
    @Test func salesforceEditsAreMadeByAHumanUserNotTheIntegrationUser() throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 20))
        let made = world.mutations.step(count: 60)
        let salesforceEdits = made.filter { $0.system == .salesforce }
        #expect(!salesforceEdits.isEmpty)
        let integration = world.salesforce.user(named: TestSandbox.credentials.salesforceUser.username, displayName: "")
        for edit in salesforceEdits {
            let record = try #require(world.salesforce.store.records[edit.id])
            #expect(record["LastModifiedById"] != .string(integration))
            #expect(world.ledger.history(.salesforce, edit.type, edit.id).last?.endpoint == nil)
        }
    }

    @Test func patientEditsMakeNewVersionsAndAdmissionsMoveToReadyForIntake() {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 20))
        let made = world.mutations.step(count: 80)
        let kinds = Set(made.map(\.kind))
        #expect(kinds.isSuperset(of: [.patientEdited, .responseAdded, .contactEdited, .admissionReady]))
        for edit in made where edit.kind == .patientEdited {
            #expect((world.emr.entry("Patient", edit.id)?.versionID ?? 0) >= 2)
        }
        for edit in made where edit.kind == .admissionReady {
            #expect(world.salesforce.store.records[edit.id]?["Stage__c"] == "Ready for Intake")
        }
        #expect(SandboxInspection(world: world).counts().mutationWrites >= made.count)
    }

    @Test func linkedPatientsGetTheSameFieldEditedOnBothSides() throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 5))
        let patient = try #require(world.emr.entries("Patient").first?.resource["id"]?.stringValue)
        let contact = try #require(world.salesforce.store.records(of: "Contact").first)
        try world.salesforce.update("Contact", id: contact.id, body: ["EMR_Patient_Id__c": .string(patient)], actor: "005", endpoint: nil)
        let made = world.mutations.step(count: 200)
        #expect(made.contains { $0.kind == .bothSidesEdited && $0.id == contact.id })
    }
}
