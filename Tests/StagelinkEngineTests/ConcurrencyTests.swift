import Foundation
import Synchronization
import Testing
@testable import StagelinkEngine
import StagelinkStore
import StagelinkFakes

/// Concurrent linking (issue 22): calls in flight at once, a record's rows still written in row
/// order, a child never before its parent, nothing lost or duplicated, and a window that narrows
/// on throttling answers and widens again on success.
struct ConcurrencyTests {
    // MARK: - The window

    @Test func aThrottleHalvesTheWindowOnceForTheCallsInFlightTogetherAndSuccessGrowsItBack() {
        let meter = APIMeter()
        let window = ConcurrencyWindow(maximum: 4, meter: meter)
        #expect(window.limit == 4)
        let together = (0..<4).map { _ in window.begin() }
        meter.recordThrottle()
        #expect(window.end(together[0]) == 2, "a call that met a 429 halves the window")
        for ticket in together.dropFirst() { window.end(ticket) }
        #expect(window.limit == 2, "the calls in flight with it met the same congestion: no second halving")
        for _ in 0..<2 { window.end(window.begin()) }
        #expect(window.limit == 3, "as many successes in a row as the window is wide grow it by one")
        for _ in 0..<3 { window.end(window.begin()) }
        #expect(window.limit == 4)
        for _ in 0..<10 { window.end(window.begin()) }
        #expect(window.limit == 4, "never past the configured concurrency")
        #expect(window.history == [2, 3, 4])

        // A new congestion after the halving halves again, down to one call at a time.
        let later = window.begin()
        meter.recordThrottle()
        window.end(later)
        let again = window.begin()
        meter.recordThrottle()
        window.end(again)
        let third = window.begin()
        meter.recordThrottle()
        window.end(third)
        #expect(window.limit == 1, "never below one call")
    }

    @Test func aCallThatFailedOnAThrottleHalvesTheWindowOfAClientWithoutAMeter() {
        let window = ConcurrencyWindow(maximum: 8, meter: nil)
        window.end(window.begin(), throttled: true)
        #expect(window.limit == 4)
        window.end(window.begin(), throttled: true)
        #expect(window.limit == 2)
        #expect(LinkError.throttleCodes.isSuperset(of: ["HTTP_429", "REQUEST_LIMIT_EXCEEDED", "throttled"]))
    }

    // MARK: - Inbound

    @Test func aRecordsRowsAreWrittenInRowOrderWhileBatchesAreInFlightTogether() async throws {
        var harness = try await Harness.make()
        let target = PacedTarget(maxBatchSize: 5)
        harness.target = target.inner
        // Three versions of twenty patients, each version a row of its own, staged version after version.
        for version in 1...3 {
            try await harness.stage((1...20).map { Fixtures.record(Fixtures.patient(id: "p\($0)", family: "V\(version)", version: version)) })
        }
        try await link(harness, target: target, concurrency: 4)

        #expect(target.peakInFlight >= 2, "batches of different records were in flight together")
        for patient in 1...20 {
            let written = target.writes(of: "p\(patient)")
            #expect(written == ["V1", "V2", "V3"], "p\(patient) was written \(written)")
            #expect(!target.overlapped("p\(patient)"), "two writes of p\(patient) were never in flight together")
            #expect(target.inner.record("Contact", externalID: "p\(patient)")?["LastName"] == .text("V3"), "the newest version is the one that stays")
        }
        #expect(try await harness.store.countRows(RowFilter(statuses: [.linked])) == 60)
    }

    @Test func anAssessmentIsNeverWrittenBeforeItsPatientWhenBothAreLinkedTogether() async throws {
        var harness = try await Harness.make()
        let target = PacedTarget(maxBatchSize: 3)
        harness.target = target.inner
        // Patients and their assessments interleaved in row order, linked in one claim (a retry of everything).
        for index in 1...12 {
            try await harness.stage([
                Fixtures.record(Fixtures.patient(id: "p\(index)")),
                Fixtures.record(Self.assessment(id: "qr\(index)", patient: "p\(index)")),
            ])
        }
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: harness.store, meters: [], logger: .init(label: "test"))
        var linker = harness.linker
        linker.target = target
        linker.concurrency = 4
        try await linker.link(ClaimRequest(system: .emr, statuses: [.staged]), recorder: recorder, stop: StopSignal())
        _ = try await recorder.finish()

        let log = target.log
        for (index, entry) in log.enumerated() where entry.started && entry.object == "Assessment__c" {
            for patient in entry.parents {
                let written = log[..<index].contains { !$0.started && $0.object == "Contact" && $0.keys.contains(patient) }
                #expect(written, "the assessment naming \(patient) started before its patient's write ended")
            }
            let before = log[..<index]
            let contactsInFlight = before.filter { start in
                start.started && start.object == "Contact" && !before.contains { end in !end.started && end.call == start.call }
            }
            #expect(contactsInFlight.isEmpty, "no Contact call is in flight when an Assessment call starts")
        }
        #expect(log.filter { $0.started && $0.object == "Assessment__c" }.count >= 4)
        #expect(try await harness.store.countRows(RowFilter(statuses: [.linked])) == 24)
    }

    @Test func nothingIsLostOrDuplicatedWhenManyBatchesAreInFlight() async throws {
        var harness = try await Harness.make()
        let target = PacedTarget(maxBatchSize: 7, gate: false)
        harness.target = target.inner
        var staged = 0
        // 500 patients, a fifth of them with a second version in a later claim.
        try await harness.stage((1...500).map { Fixtures.record(Fixtures.patient(id: "p\($0)", family: "First")) })
        staged += 500
        try await harness.stage((1...100).map { Fixtures.record(Fixtures.patient(id: "p\($0 * 5)", family: "Second", version: 2)) })
        staged += 100
        let job = try await link(harness, target: target, concurrency: 4, claimSize: 64)

        #expect(target.inner.records(of: "Contact").count == 500, "one Contact per patient: none lost, none twice")
        #expect(job.counts.linked + job.counts.superseded == staged, "every row has its outcome")
        #expect(job.counts.failed == 0)
        #expect(target.recordsSent == job.counts.linked, "each linked row was sent once")
        #expect(try await harness.store.countRows(RowFilter(statuses: [.staged])) == 0, "no row left claimed or waiting")
        for id in stride(from: 5, through: 500, by: 5) {
            #expect(target.inner.record("Contact", externalID: "p\(id)")?["LastName"] == .text("Second"), "p\(id) holds its newest version")
        }
        #expect(target.inner.record("Contact", externalID: "p1")?["LastName"] == .text("First"))
    }

    @Test func throttlingAnswersNarrowTheWindowAndSuccessesWidenItAgainWhileEveryRowLinks() async throws {
        var harness = try await Harness.make()
        let target = PacedTarget(maxBatchSize: 2, gate: false, throttledCalls: [1])
        harness.target = target.inner
        try await harness.stage((1...40).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        let job = try await link(harness, target: target, concurrency: 4)

        #expect(job.counts.linked == 40, "a throttled call that was retried loses nothing")
        let messages = try await harness.store.recentEvents(limit: 100).filter { $0.jobID == job.id }.map(\.message)
        let window = messages.filter { $0.hasPrefix("Salesforce:") && $0.contains("in flight at most") }
        #expect(window.contains("Salesforce: 2 upsert calls in flight at most now (of 4)"), "\(window)")
        #expect(window.contains("Salesforce: 4 upsert calls in flight at most now (of 4)"), "grown back: \(window)")
    }

    // MARK: - Outbound

    @Test func admissionsAreWrittenToTheEHRTogetherAndAContactsAdmissionsOneAtATime() async throws {
        var harness = try await Harness.make()
        let emr = PacedWriter()
        harness.emr = emr.inner
        var records: [IncomingRecord] = []
        for index in 1...12 {
            let contact = String(format: "003000000000%03dAAA", index)
            harness.target.seed("Contact", id: contact)
            let admission = String(format: "a0A000000000%03dAAA", index)
            harness.target.seed("Admission__c", id: admission)
            records.append(Self.admission(admission, contact: contact))
        }
        // Two more admissions of the first Contact: its Patient is created once, never raced.
        for index in 13...14 {
            let admission = String(format: "a0A000000000%03dAAA", index)
            harness.target.seed("Admission__c", id: admission)
            records.append(Self.admission(admission, contact: "003000000000001AAA"))
        }
        try await harness.stage(records)
        var outbound = harness.outbound
        outbound.emr = emr
        outbound.concurrency = 4
        let recorder = try await JobRecorder.start(.push, direction: .outbound, actor: .system, store: harness.store, meters: [], logger: .init(label: "test"))
        try await outbound.linkPending(recorder: recorder, stop: StopSignal())
        let job = try await recorder.finish()

        #expect(job.counts.linked == 14)
        #expect(emr.peakInFlight >= 2, "admissions of different Contacts were written together")
        #expect(emr.inner.resources("Patient").count == 12, "one Patient per Contact")
        #expect(emr.inner.resources("ServiceRequest").count == 14, "one ServiceRequest per admission")
        #expect(!emr.overlapped("003000000000001AAA"), "the admissions of one Contact never wrote at the same time")
    }

    // MARK: - Support

    @discardableResult
    func link(_ harness: Harness, target: PacedTarget, concurrency: Int, claimSize: Int = 1_000) async throws -> Job {
        var linker = InboundLinker(store: harness.store, target: target, mapping: harness.mapping, claimSize: claimSize, concurrency: concurrency)
        linker.concurrency = concurrency
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: harness.store, meters: [target.meter], logger: .init(label: "test"))
        try await linker.linkPending(recorder: recorder, stop: StopSignal())
        return try await recorder.finish()
    }

    static func assessment(id: String, patient: String) -> JSONValue {
        let items: [JSONValue] = (1...9).map { ["linkId": .string("q\($0)"), "answer": [["valueInteger": 1]]] }
        return [
            "resourceType": "QuestionnaireResponse", "id": .string(id), "questionnaire": "http://loinc.org/44249-1", "status": "completed",
            "meta": ["versionId": "1", "lastUpdated": .string(Timestamp.format(Fixtures.lastUpdated(1)))],
            "subject": ["reference": .string("Patient/\(patient)")], "authored": "2026-11-20T09:30:00+01:00", "item": .array(items),
        ]
    }

    static func admission(_ id: String, contact: String) -> IncomingRecord {
        let record: JSONValue = [
            "attributes": ["type": "Admission__c"], "Id": .string(id), "SystemModstamp": .string(Timestamp.format(Date())),
            "LastModifiedById": "005HUMAN", "Stage__c": "Ready for Intake", "Contact__c": .string(contact), "EMR_ServiceRequest_Id__c": .null,
            "Referral_Source__c": "Dr. Hale",
            "Contact__r": [
                "FirstName": "Zoë", "LastName": "Müller", "Birthdate": "1984-02-29", "Gender__c": "Female", "Phone": "+1 555 0100",
                "Email": .null, "MailingStreet": .null, "MailingCity": .null, "MailingState": .null, "MailingPostalCode": .null,
            ],
        ]
        return IncomingRecord(system: .salesforce, resourceType: "Admission__c", sourceID: id, version: nil, lastUpdated: Date(), payload: JSONWriter.compact(record))
    }
}

/// Waits, inside a call, until another call is in flight too (or a second has passed): a linker
/// that keeps several calls in flight shows it in `peakInFlight` whatever the machine's load.
final class InFlightGate: Sendable {
    private let state = Mutex<(inFlight: Int, peak: Int)>((0, 0))

    var peak: Int { state.withLock { $0.peak } }

    func enter(waitForCompany: Bool) async {
        state.withLock {
            $0.inFlight += 1
            $0.peak = max($0.peak, $0.inFlight)
        }
        guard waitForCompany else { return }
        for _ in 0..<100 where state.withLock({ $0.inFlight < 2 }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    func leave() { state.withLock { $0.inFlight -= 1 } }
}

/// An in-memory Salesforce that logs when each call starts and ends, with the external ids it
/// carries, and can answer some calls as if they had met a 429 first (counted as a throttle).
final class PacedTarget: UpsertTarget {
    struct Entry: Sendable {
        var call: Int
        var started: Bool
        var object: String
        var keys: [String]
        /// The patients an assessment names (`Contact__r.EMR_Patient_Id__c`).
        var parents: [String]
        var lastNames: [String]
    }

    let inner: InMemoryUpsertTarget
    private let gate = InFlightGate()
    private let waits: Bool
    private let throttledCalls: Set<Int>
    private let state = Mutex<(calls: Int, log: [Entry])>((0, []))

    init(maxBatchSize: Int, gate: Bool = true, throttledCalls: Set<Int> = []) {
        inner = InMemoryUpsertTarget(maxBatchSize: maxBatchSize)
        waits = gate
        self.throttledCalls = throttledCalls
    }

    var meter: APIMeter { inner.meter }
    var maxBatchSize: Int { inner.maxBatchSize }
    var peakInFlight: Int { gate.peak }
    var log: [Entry] { state.withLock { $0.log } }
    var recordsSent: Int { log.filter { $0.started && $0.object == "Contact" }.reduce(0) { $0 + $1.keys.count } }

    /// The last names written into the Contact of this patient, call after call.
    func writes(of patient: String) -> [String] {
        log.filter { $0.started }.flatMap { entry in zip(entry.keys, entry.lastNames).filter { $0.0 == patient }.map(\.1) }
    }

    /// Whether two calls carrying this external id were in flight at the same time.
    func overlapped(_ key: String) -> Bool {
        var open = 0
        for entry in log where entry.keys.contains(key) {
            open += entry.started ? 1 : -1
            if open > 1 { return true }
        }
        return false
    }

    func upsert(object: String, externalIDField: String, records: [TargetRecord]) async throws(RemoteCallError) -> [RecordResult] {
        func text(_ record: TargetRecord, _ name: String) -> String? {
            if case .text(let value)? = record.fields.first(where: { $0.name == name })?.value { return value }
            return nil
        }
        let entry = Entry(
            call: 0, started: true, object: object, keys: records.compactMap { text($0, externalIDField) },
            parents: records.compactMap { text($0, "Contact__r.EMR_Patient_Id__c") }, lastNames: records.compactMap { text($0, "LastName") })
        let call = state.withLock { state -> Int in
            state.calls += 1
            var started = entry
            started.call = state.calls
            state.log.append(started)
            return state.calls
        }
        if throttledCalls.contains(call) { meter.recordThrottle() }
        await gate.enter(waitForCompany: waits)
        defer {
            gate.leave()
            state.withLock {
                var ended = entry
                ended.call = call
                ended.started = false
                $0.log.append(ended)
            }
        }
        return try await inner.upsert(object: object, externalIDField: externalIDField, records: records)
    }

    func recordTypeID(object: String, developerName: String) async throws(RemoteCallError) -> String {
        try await inner.recordTypeID(object: object, developerName: developerName)
    }

    func update(object: String, records: [TargetRecordUpdate]) async throws(RemoteCallError) -> [RecordResult] {
        try await inner.update(object: object, records: records)
    }

    func recordIDs(object: String, externalIDField: String, value: String) async throws(RemoteCallError) -> [String] {
        try await inner.recordIDs(object: object, externalIDField: externalIDField, value: value)
    }

    func delete(object: String, id: String) async throws(RemoteCallError) {
        try await inner.delete(object: object, id: id)
    }
}

/// An in-memory EHR that notes which Contacts' resources are being created at once.
final class PacedWriter: ResourceWriter {
    let inner = InMemoryResourceWriter()
    private let gate = InFlightGate()
    private let state = Mutex<(writing: [String: Int], overlapped: Set<String>)>(([:], []))

    var meter: APIMeter { inner.meter }
    var peakInFlight: Int { gate.peak }

    /// Whether two writes for this Salesforce Contact (its Patient, its admissions' ServiceRequests) ran together.
    func overlapped(_ contact: String) -> Bool { state.withLock { $0.overlapped.contains(contact) } }

    private func around<T>(_ contact: String?, _ work: () async throws(RemoteCallError) -> T) async throws(RemoteCallError) -> T {
        if let contact {
            state.withLock { state in
                state.writing[contact, default: 0] += 1
                if state.writing[contact]! > 1 { state.overlapped.insert(contact) }
            }
        }
        await gate.enter(waitForCompany: true)
        defer {
            gate.leave()
            if let contact { state.withLock { $0.writing[contact]! -= 1 } }
        }
        return try await work()
    }

    /// The Contact a resource belongs to: the Patient's Salesforce identifier, or the admission's
    /// ServiceRequest subject's Patient's.
    private func contact(of resource: [UInt8]) -> String? {
        guard let value = try? JSONValue(parsing: resource) else { return nil }
        if let identifiers = value["identifier"]?.arrayValue,
            let contact = identifiers.first(where: { $0["system"]?.stringValue?.contains("salesforce-contact") == true })?["value"]?.stringValue
        {
            return contact
        }
        guard let subject = value["subject"]?["reference"]?.stringValue?.split(separator: "/").last,
            let patient = inner.resources("Patient")[String(subject)]
        else { return nil }
        return patient["identifier"]?.arrayValue?.first { $0["system"]?.stringValue?.contains("salesforce-contact") == true }?["value"]?.stringValue
    }

    func writeModes(for resourceType: String) async throws(RemoteCallError) -> EMRWriteModes { try await inner.writeModes(for: resourceType) }

    func create(resourceType: String, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await around(contact(of: resource)) { () throws(RemoteCallError) in try await inner.create(resourceType: resourceType, resource: resource) }
    }

    func search(resourceType: String, identifier: ResourceIdentifier) async throws(RemoteCallError) -> [String] {
        try await inner.search(resourceType: resourceType, identifier: identifier)
    }

    func patch(resourceType: String, id: String, operations: [JSONPatchOperation], ifMatch: String) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await inner.patch(resourceType: resourceType, id: id, operations: operations, ifMatch: ifMatch)
    }

    func createIfNoneExist(resourceType: String, identifier: ResourceIdentifier, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await around(contact(of: resource)) { () throws(RemoteCallError) in
            try await inner.createIfNoneExist(resourceType: resourceType, identifier: identifier, resource: resource)
        }
    }

    func update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await inner.update(resourceType: resourceType, id: id, resource: resource, ifMatch: ifMatch)
    }

    func read(resourceType: String, id: String) async throws(RemoteCallError) -> IncomingRecord? {
        try await inner.read(resourceType: resourceType, id: id)
    }
}
