import Foundation
import Logging
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

@testable import stagelink

/// The Health Cloud mapping end to end against the sandbox, both ways: Patients arrive as Person
/// Accounts (upserted by `EMR_Patient_Id__pc` with the person record type), episodes land on them,
/// assessments and admissions look them up through `Account__c`, and a ready admission's Person
/// Account becomes exactly one Patient whose id is written back to it.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct HealthCloudSyncTests {
    static let mapping = DocumentationTests.root.appendingPathComponent("config/mapping-health-cloud.yaml").path

    /// The demo's sandbox, store and configuration with the Health Cloud mapping, and its sync cycle; stopped afterwards.
    static func withDemo(
        patients: Int, badShare: Double, seed: UInt64, _ body: (DemoEnvironment, Context, SyncCycle) async throws -> Void
    ) async throws {
        var logger = Logger(label: "health-cloud-test")
        logger.logLevel = .critical
        let temporary = try TemporaryFolder("health-cloud")
        let folder = temporary.file("demo")
        let demo = try await DemoEnvironment.start(
            .init(folder: folder, patients: patients, badShare: badShare, seed: seed, every: .seconds(60), mapping: mapping, faultRate: 0),
            logger: logger)
        do {
            try await body(demo, demo.context, try demo.context.cycle(try await demo.context.endpoints()))
        } catch {
            await demo.sandbox.stop()
            throw error
        }
        await demo.sandbox.stop()
    }

    @Test func theHealthCloudMappingConvergesBothWaysWithPatientsAsPersonAccounts() async throws {
        try await Self.withDemo(patients: 60, badShare: 0.1, seed: 5) { demo, context, cycle in
            for _ in 0..<2 { _ = try await cycle.run(actor: .system, stop: StopSignal()) }
            let verdict = try await DemoVerdict.judge(sandbox: demo.sandbox, store: context.store, mapping: context.mapping)
            #expect(verdict.problems == [])
            #expect(verdict.checked > 60)

            let inspection = demo.sandbox.inspection
            let accounts = inspection.salesforceRecords("Account")
            let linked = accounts.filter { $0["EMR_Patient_Id__pc"]?.stringValue != nil }
            #expect(linked.count > 40)
            // Every Account Stagelink made or wrote is a person account with its person contact and a name made from its parts.
            for account in linked {
                #expect(account["IsPersonAccount"] == true)
                #expect(account["PersonContactId"]?.stringValue != nil)
                #expect(account["Name"]?.stringValue == [account["FirstName"]?.stringValue, account["LastName"]?.stringValue].compactMap { $0 }.joined(separator: " "))
            }
            // No Contact was written outside a person account, and none carries a patient id of its own.
            #expect(inspection.salesforceRecords("Contact").allSatisfy { $0["IsPersonAccount"] == true })
            // Assessments look their Person Account up.
            let accountIDs = Set(accounts.compactMap { $0["Id"]?.stringValue })
            let assessments = inspection.salesforceRecords("Assessment__c")
            #expect(!assessments.isEmpty)
            #expect(assessments.allSatisfy { accountIDs.contains($0["Account__c"]?.stringValue ?? "") })
            // A ready admission's Person Account got one Patient, identified by the Account's id, whose id came back.
            let ready = inspection.salesforceRecords("Admission__c").filter { $0["Stage__c"] == "Ready for Intake" && $0["Account__c"]?.stringValue != nil }
            #expect(!ready.isEmpty)
            for admission in ready {
                let accountID = try #require(admission["Account__c"]?.stringValue)
                let patients = inspection.fhirResources("Patient").filter { patient in
                    (patient["identifier"]?.arrayValue ?? []).contains {
                        $0["system"] == "https://stagelink.dev/sid/salesforce-account" && $0["value"]?.stringValue == accountID
                    }
                }
                #expect(patients.count == 1, "Account \(accountID) has \(patients.count) Patients")
                let account = try #require(accounts.first { $0["Id"]?.stringValue == accountID })
                #expect(account["EMR_Patient_Id__pc"]?.stringValue == patients.first?["id"]?.stringValue)
            }
        }
    }

    @Test func aPersonAccountDeletedInSalesforceMakesItsPatientInactiveAndOneMergedIsHeld() async throws {
        try await Self.withDemo(patients: 12, badShare: 0, seed: 9) { demo, context, cycle in
            _ = try await cycle.run(actor: .system, stop: StopSignal())
            let inspection = demo.sandbox.inspection
            let linked = inspection.salesforceRecords("Account").filter { $0["EMR_Patient_Id__pc"]?.stringValue != nil }
            try #require(linked.count >= 3)
            let deleted = try #require(linked[0]["Id"]?.stringValue)
            let patient = try #require(linked[0]["EMR_Patient_Id__pc"]?.stringValue)
            let personContact = try #require(linked[0]["PersonContactId"]?.stringValue)
            let master = try #require(linked[1]["Id"]?.stringValue)
            let loser = try #require(linked[2]["Id"]?.stringValue)
            demo.sandbox.clock.advance(by: .seconds(10))
            try inspection.deleteSalesforceRecord("Account", id: deleted)
            try inspection.mergeSalesforceRecords("Account", master: master, losers: [loser])
            _ = try await cycle.run(actor: .system, stop: StopSignal())

            // The person contact went to the Recycle Bin with its Account (inspection reads live records only).
            #expect(inspection.salesforceRecord("Account", id: deleted) == nil)
            #expect(inspection.salesforceRecord("Contact", id: personContact) == nil)
            #expect(inspection.salesforceRecords("Contact").count == inspection.salesforceRecords("Account").count)
            let deletion = try #require(
                try await context.store.rows(RowQuery(filter: RowFilter(system: .salesforce, resourceType: "Account", sourceID: deleted), limit: 10))
                    .first { $0.kind == .deletion })
            #expect(deletion.status == .linked)
            #expect(inspection.fhirResource("Patient", id: patient)?["active"] == false)
            let merge = try #require(
                try await context.store.rows(RowQuery(filter: RowFilter(system: .salesforce, resourceType: "Account", sourceID: loser), limit: 10))
                    .first { $0.kind == .merge })
            #expect(merge.status == .held)
        }
    }

    @Test func theHealthCloudMappingLoadsWithItsRecordTypeAndPcFields() throws {
        let mapping = try MappingDocument.load(contentsOf: Self.mapping)
        let patients = try #require(mapping.inbound(named: "patients"))
        #expect(patients.object == "Account")
        #expect(patients.recordType == "PersonAccount")
        #expect(patients.externalID == "EMR_Patient_Id__pc")
        #expect(patients.onDelete.field == "EMR_Deleted__pc")
        #expect(mapping.inbound(named: "episodes")?.recordType == "PersonAccount")
        #expect(mapping.inbound(named: "assessments")?.recordType == nil)
        #expect(mapping.outbound.admissions?.contactField == "Account__c")
        #expect(mapping.outbound.contacts?.object == "Account")
        #expect(SalesforcePeople.of(mapping) == .personAccounts)
        #expect(SalesforcePeople.of(try MappingDocument.load(contentsOf: DocumentationTests.root.appendingPathComponent("config/mapping.yaml").path)) == .contacts)
    }

    @Test func aRecordTypeThatIsNotAnAPINameIsRefusedAtLoadNamingTheLine() throws {
        let yaml = try String(contentsOfFile: Self.mapping, encoding: .utf8).replacingOccurrences(
            of: "    recordType: PersonAccount\n    externalId: EMR_Patient_Id__pc\n    fields:\n      - { field: EMR_Patient_Id__pc, path: id",
            with: "    recordType: \"Person Account\"\n    externalId: EMR_Patient_Id__pc\n    fields:\n      - { field: EMR_Patient_Id__pc, path: id")
        #expect(yaml.contains("recordType: \"Person Account\""))
        #expect(throws: ConfigurationError.self) { try MappingDocument(yaml: yaml, file: "mapping-health-cloud.yaml") }
        do {
            _ = try MappingDocument(yaml: yaml, file: "mapping-health-cloud.yaml")
        } catch {
            #expect("\(error)".contains("mapping-health-cloud.yaml:"))
            #expect("\(error)".contains("Person Account"))
        }
    }
}
