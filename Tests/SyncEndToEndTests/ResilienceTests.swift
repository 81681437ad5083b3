import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// Writes through to the EMR, then "crashes" right after the first Patient is created, before
/// Stagelink can store the id the EMR returned.
final class CrashAfterPatientCreate: ResourceWriter {
    let inner: any ResourceWriter
    var meter: APIMeter { inner.meter }
    private let crashed = Crashed()

    final class Crashed: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func once() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            defer { value = true }
            return !value
        }
    }

    struct SimulatedCrash: Error {}

    init(_ inner: any ResourceWriter) { self.inner = inner }

    func createIfNoneExist(resourceType: String, identifier: ResourceIdentifier, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        let result = try await inner.createIfNoneExist(resourceType: resourceType, identifier: identifier, resource: resource)
        if resourceType == "Patient", case .success = result, crashed.once() {
            // A typed-throws function cannot throw this: stand for the process dying by halting
            // the task the way a crash halts the process, with an error nobody handles.
            return .failure(LinkError(code: "SIMULATED_CRASH", message: "the process died after the EMR created the Patient"))
        }
        return result
    }

    func update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await inner.update(resourceType: resourceType, id: id, resource: resource, ifMatch: ifMatch)
    }

    func read(resourceType: String, id: String) async throws(RemoteCallError) -> IncomingRecord? {
        try await inner.read(resourceType: resourceType, id: id)
    }

    func writeModes(for resourceType: String) async throws(RemoteCallError) -> EMRWriteModes { try await inner.writeModes(for: resourceType) }

    func create(resourceType: String, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await inner.create(resourceType: resourceType, resource: resource)
    }

    func search(resourceType: String, identifier: ResourceIdentifier) async throws(RemoteCallError) -> [String] {
        try await inner.search(resourceType: resourceType, identifier: identifier)
    }

    func patch(resourceType: String, id: String, operations: [JSONPatchOperation], ifMatch: String) async throws(RemoteCallError)
        -> Result<WrittenResource, LinkError>
    {
        try await inner.patch(resourceType: resourceType, id: id, operations: operations, ifMatch: ifMatch)
    }
}

@Suite(.serialized, .timeLimit(.minutes(3)))
struct ResilienceTests {
    @Test func aFailureBetweenTheEMRCreateAndStoringItsIDNeverMakesASecondPatient() async throws {
        var sync = try await SyncHarness.start(patients: 40, badShare: 0)
        let sandbox = sync.sandbox
        defer { Task { await sandbox.stop() } }
        let real = try #require(sync.endpoints.emrWriter)
        sync.endpoints.emrWriter = CrashAfterPatientCreate(real)
        try await sync.sync()
        let crashed = try await sync.store.rows(RowQuery(filter: RowFilter(errorCode: "SIMULATED_CRASH"), limit: 10))
        try #require(crashed.count == 1, "the admission whose Patient was created but not recorded")
        let patientsBefore = sync.inspection.fhirResources("Patient").count

        sync.endpoints.emrWriter = real
        _ = try await sync.operations.retry(.rows(crashed.map(\.id)), by: "alice")
        try await sync.sync()
        let byContact = sync.fhir("Patient", identifiedBy: "https://stagelink.dev/sid/salesforce-contact")
        #expect(byContact.values.allSatisfy { $0.count == 1 }, "no Contact has two Patients")
        #expect(sync.inspection.fhirResources("Patient").count == patientsBefore, "the retry found the Patient the crash left behind")
        let row = try #require(try await sync.store.row(id: crashed[0].id))
        #expect(row.status == .linked)
        #expect(row.note?.contains("found (already created)") == true)
    }

    @Test func underTenPercentFaultsTheCycleCompletesAndThenEverythingArrivesOnce() async throws {
        let sync = try await SyncHarness.start(patients: 40, badShare: 0)
        defer { Task { await sync.stop() } }
        let kinds: [(FaultKind, SandboxEndpoint)] = [
            (.internalServerError, .salesforceCollections), (.serviceUnavailable, .fhirSearch), (.tooManyRequests, .salesforceQuery),
            (.droppedConnection, .salesforceCollections), (.malformedJSON, .fhirSearch), (.rowLock, .salesforceCollections),
            (.expiredToken, .salesforceCollections), (.slowResponse, .fhirCreate), (.schemaInvalidResource, .fhirSearch),
            (.internalServerError, .fhirCreate), (.droppedConnection, .fhirUpdate),
        ]
        for (kind, endpoint) in kinds {
            try sync.sandbox.faults.inject(FaultRule(kind, on: endpoint, trigger: .rate(0.1), delay: .seconds(5)))
        }
        let report = try await sync.sync()
        #expect(report.jobs.count == 4, "every step ran")
        sync.sandbox.faults.clear()
        for _ in 0..<3 { try await sync.sync() }

        let truth = sync.inspection.truth()
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let assessments = sync.salesforce("Assessment__c", by: "EMR_Assessment_Id__c")
        for record in truth where record.system == .fhir {
            switch record.type {
            case "Patient": #expect(contacts[record.id]?.count == 1, "Patient/\(record.id) arrived once")
            case "QuestionnaireResponse": #expect(assessments[record.id]?.count == 1, "QuestionnaireResponse/\(record.id) arrived once")
            default: break
            }
        }
        #expect(sync.fhir("Patient", identifiedBy: "https://stagelink.dev/sid/salesforce-contact").values.allSatisfy { $0.count == 1 })
        let stillFailed = try await sync.store.rows(RowQuery(filter: RowFilter(statuses: [.failed]), limit: 100))
        #expect(stillFailed.isEmpty, "after the faults stop, the automatic retries bring every row across: \(stillFailed.map { "\($0.resourceType)/\($0.sourceID) \($0.errorCode ?? "")" })")
    }

    @Test func aSecondServiceIsRefusedWithTheHolderAndACrashedOneIsTakenOver() async throws {
        let sync = try await SyncHarness.start(patients: 2, badShare: 0)
        defer { Task { await sync.stop() } }
        let first = SyncService(cycle: sync.cycle, every: .seconds(60), holder: LeaseHolder(name: "run", host: "a", pid: 1), leaseDuration: .milliseconds(300))
        let second = SyncService(cycle: sync.cycle, every: .seconds(60), holder: LeaseHolder(name: "run", host: "b", pid: 2), leaseDuration: .milliseconds(300))
        _ = try await first.acquire()
        let crashedJob = try await sync.store.startJob(kind: .link, direction: .inbound, actor: .system)
        await #expect {
            _ = try await second.acquire()
        } throws: { error in
            (error as? LeaseHeld)?.lease.holder == LeaseHolder(name: "run", host: "a", pid: 1)
        }
        try await Task.sleep(for: .milliseconds(400))
        _ = try await second.acquire()
        #expect(try await sync.store.job(id: crashedJob.id)?.status == .interrupted)
        #expect(try await sync.store.currentLease()?.holder.pid == 2)
    }

    @Test func aStopRequestFinishesTheBatchAndRecordsTheJobAsInterrupted() async throws {
        let sync = try await SyncHarness.start(patients: 30, badShare: 0)
        defer { Task { await sync.stop() } }
        let stop = StopSignal()
        stop.request()
        let report = try await sync.cycle.run(actor: .system, stop: stop)
        #expect(report.stopped)
        #expect(report.jobs.first?.status == .interrupted)
        #expect(try await sync.store.rows(RowQuery(filter: RowFilter(statuses: [.staged]), limit: 1)).isEmpty)
        let rerun = try await sync.sync()
        #expect(rerun.worstStatus == .succeeded)
    }
}
