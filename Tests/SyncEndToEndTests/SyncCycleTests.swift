import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

@Suite(.serialized, .timeLimit(.minutes(3)))
struct SyncCycleTests {
    @Test func aDuplicatePatientInTheEMRFailsTheAdmissionWithMultipleMatchesNotAnEndlessRetry() async throws {
        let sync = try await SyncHarness.start(patients: 40, badShare: 0)
        defer { Task { await sync.stop() } }
        // Two Patients in the EMR already carry the Contact's Salesforce id of a ready admission.
        let (admissionID, contactID) = try sync.readyAdmission()
        let emr = try await sync.harness.fhir()
        for other in ["dup-a", "dup-b"] {
            let body = #"{"resourceType":"Patient","identifier":[{"system":"https://stagelink.dev/sid/salesforce-contact","value":"\#(contactID)"},{"system":"https://example.org/mrn","value":"\#(other)"}],"name":[{"family":"Duplicate"}],"gender":"unknown"}"#
            _ = try await emr.createIfNoneExist(
                resourceType: "Patient", identifier: ResourceIdentifier(system: "https://example.org/mrn", value: other), resource: Array(body.utf8)
            ).get()
        }
        _ = try await sync.sync()
        _ = try await sync.sync()
        let row = try #require(try await sync.rows(.salesforce, "Admission__c", admissionID).last)
        #expect(row.status == .failed)
        #expect(row.error?.code == "MULTIPLE_MATCHES")
        #expect(row.error?.isTransient == false)
        #expect(row.error?.message.hasPrefix("2 Patient resources in the EMR carry the identifier https://stagelink.dev/sid/salesforce-contact|\(contactID) (") == true)
        // Lasting: the second cycle's automatic retries leave it alone, and no third Patient was made.
        #expect(row.attemptCount == 1)
        #expect(sync.fhir("Patient", identifiedBy: "https://stagelink.dev/sid/salesforce-contact")[contactID]?.count == 2)
    }

    @Test func seededDataArrivesBothWaysAndEveryBadRecordFailsNamingItsField() async throws {
        let sync = try await SyncHarness.start(patients: 40, badShare: 0.1)
        defer { Task { await sync.stop() } }
        let report = try await sync.sync()
        #expect(report.jobs.map(\.kind) == [.pull, .pull, .link, .push])

        let truth = sync.inspection.truth()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let assessments = sync.salesforce("Assessment__c", by: "EMR_Assessment_Id__c")
        for record in truth where record.system == .fhir {
            let rows = try await sync.rows(.emr, record.type, record.id)
            #expect(rows.count == 1, "\(record.type)/\(record.id) staged once")
            if let fault = record.fault {
                #expect(rows.first?.status == .failed, "\(record.type)/\(record.id) (\(fault.kind)) fails")
                #expect(rows.first?.error?.fields.contains(fault.field) == true, "\(record.type)/\(record.id): \(rows.first?.error?.description ?? "no error") names \(fault.field)")
                continue
            }
            if record.withheldBy != nil {
                #expect(rows.first?.status == .withheld, "\(record.type)/\(record.id) is labelled: withheld")
                continue
            }
            #expect(rows.first?.status == .linked, "\(record.type)/\(record.id) links: \(rows.first?.error?.description ?? "")")
            switch record.type {
            case "Patient": #expect(contacts[record.id]?.count == 1, "Patient/\(record.id) arrives once as a Contact")
            case "QuestionnaireResponse": #expect(assessments[record.id]?.count == 1, "QuestionnaireResponse/\(record.id) arrives once")
            default: break
            }
        }

        let patients = sync.fhir("Patient", identifiedBy: "https://stagelink.dev/sid/salesforce-contact")
        let requests = sync.fhir("ServiceRequest", identifiedBy: "https://stagelink.dev/sid/salesforce-admission")
        let admissions = Dictionary(uniqueKeysWithValues: sync.inspection.salesforceRecords("Admission__c").map { ($0["Id"]!.stringValue!, $0) })
        var pushed = 0
        for record in truth where record.system == .salesforce && record.type == "Admission__c" {
            let admission = try #require(admissions[record.id])
            let rows = try await sync.rows(.salesforce, "Admission__c", record.id)
            if let fault = record.fault {
                #expect(rows.last?.status == .failed)
                #expect(rows.last?.error?.fields == [fault.field])
                continue
            }
            guard admission["Stage__c"]?.stringValue == "Ready for Intake" else {
                #expect(requests[record.id] == nil, "an admission not ready is not sent")
                continue
            }
            pushed += 1
            let contactID = try #require(admission["Contact__c"]?.stringValue)
            #expect(patients[contactID]?.count == 1, "one Patient for Contact \(contactID)")
            #expect(requests[record.id]?.count == 1, "one ServiceRequest for Admission \(record.id)")
            let patientID = patients[contactID]?.first?["id"]?.stringValue
            #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["EMR_Patient_Id__c"]?.stringValue == patientID)
            #expect(admission["EMR_ServiceRequest_Id__c"]?.stringValue == requests[record.id]?.first?["id"]?.stringValue)
        }
        #expect(pushed > 0)
    }

    @Test func twoQuietCyclesWriteNothingOnEitherSide() async throws {
        let sync = try await SyncHarness.start(patients: 20, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        try await sync.sync()
        let before = sync.writes
        let report = try await sync.sync()
        #expect(sync.writes == before, "a quiet cycle writes nothing")
        #expect(report.counts(.inbound).failed == 0)
        let again = sync.writes
        try await sync.sync()
        #expect(sync.writes == again)
    }

    @Test func aRecordFixedAtItsSourceLinksWhenRetried() async throws {
        let sync = try await SyncHarness.start(patients: 30, badShare: 0.1)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        let bad = try #require(sync.inspection.truth().first { $0.fault?.kind == .invalidBirthDate })
        let failed = try #require(try await sync.rows(.emr, "Patient", bad.id).first)
        #expect(failed.status == .failed)
        #expect(failed.error?.code == "MAPPING_INVALID_DATE")

        var resource = try #require(sync.inspection.fhirResource("Patient", id: bad.id)?.objectValue)
        resource["birthDate"] = "1985-12-15"
        try sync.inspection.editFHIRResource("Patient", id: bad.id, resource: SandboxJSON.object(resource))

        let report = try await sync.operations.retry(.rows([failed.id]), by: "alice")
        #expect(try await sync.store.row(id: failed.id)?.status == .superseded)
        let newer = try #require(report.rows.first { $0.id != failed.id })
        #expect(newer.status == .linked)
        #expect(sync.salesforce("Contact", by: "EMR_Patient_Id__c")[bad.id]?.first?["Birthdate"]?.stringValue == "1985-12-15")
    }

    @Test func bothSidesChangedFieldsFollowThePolicyAndHoldWaitsForAPerson() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        try await sync.sync()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let patientID = try #require(contacts.keys.sorted().first)
        let contactID = try #require(contacts[patientID]?.first?["Id"]?.stringValue)

        // Phone belongs to Salesforce: its value stands on both sides.
        var patient = try #require(sync.inspection.fhirResource("Patient", id: patientID)?.objectValue)
        var telecom = patient["telecom"]?.arrayValue ?? []
        let phoneIndex = try #require(telecom.firstIndex { $0["system"] == "phone" })
        var phoneEntry = try #require(telecom[phoneIndex].objectValue)
        phoneEntry["value"] = "+1-555-201-0001"
        telecom[phoneIndex] = SandboxJSON.object(phoneEntry)
        patient["telecom"] = SandboxJSON.array(telecom)
        try sync.inspection.editFHIRResource("Patient", id: patientID, resource: SandboxJSON.object(patient))
        try sync.inspection.editSalesforceRecord("Contact", id: contactID, fields: ["Phone": "+1-555-301-0002"])
        try await sync.sync()
        #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["Phone"]?.stringValue == "+1-555-301-0002")
        let phone = sync.inspection.fhirResource("Patient", id: patientID)?["telecom"]?.arrayValue?.first { $0["system"] == "phone" }
        #expect(phone?["value"]?.stringValue == "+1-555-301-0002")
        let decided = try await sync.store.conflicts(ConflictQuery(statuses: [.decided]))
        #expect(decided.count == 1)
        #expect(decided.first?.field == "Phone")
        #expect(decided.first?.winner == .salesforce)
        #expect(decided.first?.emrValue == FieldValue.text("+1-555-201-0001"))

        // LastName on hold: nothing moves until a person decides.
        _ = try await sync.operations.setPolicy("Contact.LastName", to: .hold, reason: "name changes need review", by: "dana")
        patient = try #require(sync.inspection.fhirResource("Patient", id: patientID)?.objectValue)
        var name = try #require(patient["name"]?[0]?.objectValue)
        name["family"] = "Lindqvist"
        patient["name"] = SandboxJSON.array([SandboxJSON.object(name)])
        try sync.inspection.editFHIRResource("Patient", id: patientID, resource: SandboxJSON.object(patient))
        try sync.inspection.editSalesforceRecord("Contact", id: contactID, fields: ["LastName": "Lindquist"])
        try await sync.sync()
        let open = try await sync.store.conflicts(ConflictQuery(statuses: [.open]))
        #expect(open.count == 1)
        #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["LastName"]?.stringValue == "Lindquist")
        #expect(sync.inspection.fhirResource("Patient", id: patientID)?["name"]?[0]?["family"]?.stringValue == "Lindqvist")

        let conflict = try #require(open.first)
        try await sync.operations.resolve(conflict: conflict.id, take: .emr, reason: "EMR checked against the ID card", by: "dana")
        #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["LastName"]?.stringValue == "Lindqvist")
        #expect(try await sync.store.conflict(id: conflict.id)?.status == .resolved)
        let why = try await sync.operations.why(object: "Contact", id: contactID, field: "LastName")
        #expect(why.write.value == FieldValue.text("Lindqvist"))
        #expect(why.write.actor == Actor.operator("dana"))
        #expect(why.write.reason.contains("EMR checked against the ID card"))
        let held = try await sync.store.rows(RowQuery(filter: RowFilter(statuses: [.held]), limit: 10))
        #expect(held.isEmpty, "the held row is linked once its conflict is resolved")
    }
}

extension Optional where Wrapped == SandboxJSON {
    static func == (lhs: SandboxJSON?, rhs: String) -> Bool { lhs?.stringValue == rhs }
}
