import FHIRClient
import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing

/// The outbound direction against a certified EHR over real HTTP: no conditional create and no PUT
/// on offer, so admissions go out as a search by identifier then a plain create, Contact changes
/// as JSON Patch, and a duplicate Patient stops the admission for a person instead of retrying.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CertifiedWritesTests {
    static let contactSystem = "https://stagelink.dev/sid/salesforce-contact"
    static let admissionSystem = "https://stagelink.dev/sid/salesforce-admission"

    static func start(patients: Int) async throws -> SyncHarness {
        var sync = try await SyncHarness.start(patients: patients, badShare: 0, configure: BulkPullTests.certified())
        sync.settings.emrPull = .bulk
        sync.settings.bulk = BulkPullSettings(group: "all-patients", defaultPollInterval: .milliseconds(100))
        // Intake staff move three admissions with a Contact to the ready stage.
        for admission in sync.inspection.salesforceRecords("Admission__c").filter({ $0["Contact__c"]?.stringValue != nil }).prefix(3) {
            try sync.inspection.editSalesforceRecord("Admission__c", id: admission["Id"]!.stringValue!, fields: ["Stage__c": "Ready for Intake"])
        }
        return sync
    }

    @Test func admissionsAreCreatedOnceWithoutConditionalCreateAndContactChangesGoAsJSONPatch() async throws {
        let sync = try await Self.start(patients: 30)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        let ready = sync.inspection.salesforceRecords("Admission__c").filter {
            $0["Stage__c"]?.stringValue == "Ready for Intake" && $0["Contact__c"]?.stringValue != nil
        }
        #expect(!ready.isEmpty)
        let patients = sync.fhir("Patient", identifiedBy: Self.contactSystem)
        let requests = sync.fhir("ServiceRequest", identifiedBy: Self.admissionSystem)
        for admission in ready {
            let id = admission["Id"]!.stringValue!
            let rows = try await sync.rows(.salesforce, "Admission__c", id)
            #expect(rows.last?.status == .linked, "Admission__c/\(id): \(rows.last?.error?.description ?? "")")
            #expect(requests[id]?.count == 1, "one ServiceRequest for Admission__c/\(id)")
            #expect(patients[admission["Contact__c"]!.stringValue!]?.count == 1, "one Patient for the admission's Contact")
        }
        #expect(try await sync.store.createIntents().isEmpty, "no create left in doubt")

        // A person changes a linked Contact's phone (Salesforce owns it): the next cycle patches the Patient.
        let contact = try #require(
            sync.inspection.salesforceRecords("Contact").first { $0["EMR_Patient_Id__c"]?.stringValue != nil && $0["Phone"]?.stringValue != nil })
        let patientID = try #require(contact["EMR_Patient_Id__c"]?.stringValue)
        let before = try #require(sync.inspection.fhirResource("Patient", id: patientID))
        try sync.inspection.editSalesforceRecord("Contact", id: contact["Id"]!.stringValue!, fields: ["Phone": "+1 555 0142"])
        try await sync.sync()
        let after = try #require(sync.inspection.fhirResource("Patient", id: patientID))
        let phone = after["telecom"]?.arrayValue?.first { $0["system"] == "phone" }?["value"]
        #expect(phone == "+1 555 0142")
        let write = try #require(sync.inspection.history(.fhir, "Patient", patientID).last)
        #expect(write.operation == "patch")
        #expect(write.endpoint == .fhirPatch)
        #expect(Array(write.changes.keys) == ["telecom"], "only the changed element")
        #expect(after["name"] == before["name"])
        let counts = sync.inspection.counts()
        #expect(counts.calls[.fhirUpdate, default: 0] == 0, "no PUT was sent")
        #expect(counts.writes[.fhirPatch, default: 0] >= 1)
    }

    @Test func aDuplicatePatientInACertifiedEHRFailsTheAdmissionWithMultipleMatchesNotAnEndlessRetry() async throws {
        let sync = try await Self.start(patients: 20)
        defer { Task { await sync.stop() } }
        let (admissionID, contactID) = try sync.readyAdmission()
        // Two Patients in the EHR already carry the Contact's Salesforce id (entered twice at intake).
        let emr = try await sync.harness.fhir()
        var ids: [String] = []
        for mrn in ["dup-a", "dup-b"] {
            let body = #"{"resourceType":"Patient","identifier":[{"system":"\#(Self.contactSystem)","value":"\#(contactID)"},{"system":"https://example.org/mrn","value":"\#(mrn)"}],"name":[{"family":"Duplicate"}],"gender":"unknown"}"#
            ids.append(try await emr.create(resourceType: "Patient", resource: Array(body.utf8)).get().id)
        }
        try await sync.sync()
        try await sync.sync()
        let row = try #require(try await sync.rows(.salesforce, "Admission__c", admissionID).last)
        #expect(row.status == .failed)
        #expect(row.error?.code == "MULTIPLE_MATCHES")
        #expect(row.error?.isTransient == false)
        #expect(row.error?.message.hasPrefix("2 Patient resources in the EMR carry the identifier \(Self.contactSystem)|\(contactID) (") == true)
        for id in ids { #expect(row.error?.message.contains("Patient/\(id)") == true) }
        #expect(row.attemptCount == 1, "lasting: the second cycle's automatic retries leave it alone")
        #expect(sync.fhir("Patient", identifiedBy: Self.contactSystem)[contactID]?.count == 2, "no third Patient")
        #expect(sync.fhir("ServiceRequest", identifiedBy: Self.admissionSystem)[admissionID] == nil)
    }
}
