import FHIRClient
import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing

/// Admissions written to an EHR that offers FHIR `batch` (the generic profile), over real HTTP:
/// Patients and ServiceRequests in `batch` Bundles, each entry's answer on its own row, a Bundle lost
/// whole retried without a second Patient, a record's rows in order; the certified profile, which
/// offers no batch, gets one request at a time.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct FHIRBatchWritesTests {
    static let contactSystem = CertifiedWritesTests.contactSystem
    static let admissionSystem = CertifiedWritesTests.admissionSystem

    /// A generic sandbox with `count` admissions (each with a Contact) moved to the ready stage.
    static func start(ready count: Int, attempts: Int = 4) async throws -> (SyncHarness, [String]) {
        var sync = try await SyncHarness.start(patients: 40, badShare: 0)
        let configuration = sync.harness.fhirConfiguration(http: SandboxHarness.quickHTTP(attempts: attempts))
        sync.endpoints.emrWriter = try await FHIRClient(configuration: configuration, logger: SandboxHarness.silent)
        var ids: [String] = []
        for admission in sync.inspection.salesforceRecords("Admission__c").filter({ $0["Contact__c"]?.stringValue != nil }).prefix(count) {
            let id = admission["Id"]!.stringValue!
            try sync.inspection.editSalesforceRecord("Admission__c", id: id, fields: ["Stage__c": "Ready for Intake"])
            ids.append(id)
        }
        return (sync, ids)
    }

    /// Every ready admission linked, with one Patient for its Contact and one ServiceRequest naming
    /// it, and both ids written back onto the right Salesforce records.
    static func expectLinkedOnce(_ sync: SyncHarness, _ admissionIDs: [String]) async throws {
        let patients = sync.fhir("Patient", identifiedBy: contactSystem)
        let requests = sync.fhir("ServiceRequest", identifiedBy: admissionSystem)
        for id in admissionIDs {
            let row = try #require(try await sync.rows(.salesforce, "Admission__c", id).last)
            #expect(row.status == .linked, "Admission__c/\(id): \(row.error?.description ?? "")")
            let admission = try #require(sync.inspection.salesforceRecords("Admission__c").first { $0["Id"]?.stringValue == id })
            let contactID = try #require(admission["Contact__c"]?.stringValue)
            let patient = try #require(patients[contactID]?.first)
            #expect(patients[contactID]?.count == 1, "one Patient for Contact/\(contactID)")
            let request = try #require(requests[id]?.first)
            #expect(requests[id]?.count == 1, "one ServiceRequest for Admission__c/\(id)")
            #expect(request["subject"]?["reference"]?.stringValue == "Patient/\(patient["id"]!.stringValue!)")
            #expect(admission["EMR_ServiceRequest_Id__c"]?.stringValue == request["id"]?.stringValue, "the admission holds its own ServiceRequest's id")
            let contact = try #require(sync.inspection.salesforceRecords("Contact").first { $0["Id"]?.stringValue == contactID })
            #expect(contact["EMR_Patient_Id__c"]?.stringValue == patient["id"]?.stringValue, "the Contact holds its own Patient's id")
        }
    }

    @Test func admissionsGoInBatchBundlesAndAnEntryRefusedFailsOnlyItsOwnRow() async throws {
        let (sync, ids) = try await Self.start(ready: 8)
        defer { Task { await sync.stop() } }
        // The first Patient entry meets a 503: that entry alone fails.
        try sync.sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .fhirCreate, trigger: .nextCalls(1)))
        try await sync.sync()
        // Any ready admission's row may have been the first entry (the seed has ready admissions of its own).
        var failed: [StagedRow] = []
        for summary in try await sync.store.rows(
            RowQuery(filter: RowFilter(statuses: [.failed], system: .salesforce, resourceType: "Admission__c"), limit: 100))
        {
            if let row = try await sync.store.row(id: summary.id) { failed.append(row) }
        }
        #expect(failed.count == 1, "one entry refused, one row failed")
        let refused = try #require(failed.first)
        #expect(refused.error?.code == "HTTP_503")
        #expect(refused.error?.isTransient == true)
        let refusedContact = try #require(try JSONValue(parsing: refused.payload)["Contact__c"]?.stringValue)
        #expect(sync.fhir("Patient", identifiedBy: Self.contactSystem)[refusedContact] == nil, "no Patient for the refused entry")
        try await Self.expectLinkedOnce(sync, ids.filter { $0 != refused.sourceID })

        let first = sync.inspection.counts()
        #expect(first.calls[.fhirCreate, default: 0] == 0, "no create went on its own")
        #expect(first.calls[.fhirBatch, default: 0] > 0)
        #expect(first.calls[.fhirBatch, default: 0] < first.writes[.fhirCreate, default: 0], "fewer requests than resources made")

        // The next cycle retries it, in a batch Bundle too (the automatic retries claim every type at once).
        try await sync.sync()
        try await Self.expectLinkedOnce(sync, ids + [refused.sourceID])
        #expect(sync.inspection.counts().calls[.fhirCreate, default: 0] == 0, "the retry went in a batch Bundle, not on its own")
    }

    @Test func aBatchLostToATimeoutIsRetriedWithoutADuplicatePatient() async throws {
        // One attempt per call: the lost Bundle fails its rows, and the next cycle sends them again.
        let (sync, ids) = try await Self.start(ready: 4, attempts: 1)
        defer { Task { await sync.stop() } }
        // The EHR makes the Patients; the connection drops before the answer arrives.
        try sync.sandbox.faults.inject(FaultRule(.droppedConnection, on: .fhirBatch, trigger: .nextCalls(1)))
        try await sync.sync()
        let madeUnseen = sync.fhir("Patient", identifiedBy: Self.contactSystem)
        var lost = 0
        for id in ids {
            let row = try #require(try await sync.rows(.salesforce, "Admission__c", id).last)
            guard row.status == .failed else { continue }
            lost += 1
            #expect(row.error?.isTransient == true, "\(row.error?.code ?? "")")
            let contactID = try #require(try JSONValue(parsing: row.payload)["Contact__c"]?.stringValue)
            #expect(madeUnseen[contactID]?.count == 1, "the lost Bundle made its Patient")
        }
        #expect(lost > 0, "the rows of the lost Bundle failed for now")
        try await sync.sync()
        try await Self.expectLinkedOnce(sync, ids)
        // The automatic retry sent them again in batch Bundles, never a create of its own.
        #expect(sync.inspection.counts().calls[.fhirCreate, default: 0] == 0, "no create on its own")
        #expect(sync.fhir("Patient", identifiedBy: Self.contactSystem).values.allSatisfy { $0.count == 1 }, "the retry found them: no second Patient")
    }

    @Test func twoAdmissionsOfOneContactGoInOrderInSeparateBatches() async throws {
        let (sync, ids) = try await Self.start(ready: 3)
        defer { Task { await sync.stop() } }
        // A second admission for the first one's Contact, also ready.
        let first = try #require(sync.inspection.salesforceRecords("Admission__c").first { $0["Id"]?.stringValue == ids[0] })
        let contactID = try #require(first["Contact__c"]?.stringValue)
        let other = try #require(
            sync.inspection.salesforceRecords("Admission__c").first { !ids.contains($0["Id"]!.stringValue!) && $0["Contact__c"]?.stringValue != contactID })
        let secondID = other["Id"]!.stringValue!
        try sync.inspection.editSalesforceRecord("Admission__c", id: secondID, fields: ["Stage__c": "Ready for Intake", "Contact__c": .string(contactID)])
        try await sync.sync()
        try await Self.expectLinkedOnce(sync, ids + [secondID])
        let requests = sync.fhir("ServiceRequest", identifiedBy: Self.admissionSystem)
        #expect(requests[ids[0]]?.first?["subject"] == requests[secondID]?.first?["subject"], "both name the one Patient")
        // The two rows of one Contact never share a Bundle: the second waits for the first.
        #expect(sync.inspection.counts().calls[.fhirBatch, default: 0] >= 4)
    }

    @Test func aCertifiedEHRWithoutBatchGetsOneRequestAtATime() async throws {
        let sync = try await CertifiedWritesTests.start(patients: 20)
        defer { Task { await sync.stop() } }
        let (admissionID, _) = try sync.readyAdmission()
        try await sync.sync()
        try await Self.expectLinkedOnce(sync, [admissionID])
        let counts = sync.inspection.counts()
        #expect(counts.calls[.fhirBatch, default: 0] == 0)
        #expect(counts.calls[.fhirCreate, default: 0] >= 2, "a Patient and a ServiceRequest, each on its own")
    }
}
