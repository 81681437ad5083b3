import Foundation
import StagelinkFakes
import StagelinkStore
import Testing
@testable import StagelinkEngine

struct LinkerTests {
    @Test func aDamagedCopyOfTheVersionAlreadyLinkedIsSupersededByItsSecondLookNotLeftFailed() async throws {
        let harness = try await Harness.make()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1"))
        let current = try #require(try await harness.emr.read(resourceType: "Patient", id: "p1"))
        let good = try await harness.stage([current])
        try await harness.link()
        // The same version through a page broken in transit: its meta unreadable, a wrong type.
        let damaged = try await harness.stage([
            IncomingRecord(
                system: .emr, resourceType: "Patient", sourceID: "p1", version: nil, lastUpdated: nil,
                payload: Array(#"{"resourceType":"Patient","id":"p1","meta":"not-a-Meta","name":[{"family":"Müller"}],"gender":5}"#.utf8))
        ])
        try await harness.link()
        #expect(try await harness.row(damaged.rowIDs[0]).status == .failed)

        let operations = Operations(store: harness.store, mapping: harness.mapping, inbound: harness.linker, emrWriter: harness.emr)
        _ = try await operations.retry(.rows([damaged.rowIDs[0]]), by: "support")
        let row = try await harness.row(damaged.rowIDs[0])
        #expect(row.status == .superseded, "the record is linked at its current version: nothing is failing")
        #expect(row.note?.contains("row \(good.rowIDs[0])") == true)
        #expect(row.error?.code == "MAPPING_WRONG_TYPE", "the damaged copy keeps its evidence")
        #expect(try await harness.row(good.rowIDs[0]).status == .linked)
    }

    @Test func aDamagedReadOnRetryDoesNotReplaceTheRowWhenTheSecondReadAgreesWithIt() async throws {
        let harness = try await Harness.make()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1", gender: "nonbinary-x"))
        let truth = try #require(try await harness.emr.read(resourceType: "Patient", id: "p1"))
        let row = try await harness.stage([truth]).rowIDs[0]
        try await harness.link()
        #expect(try await harness.row(row).error?.code == "MAPPING_UNKNOWN_CODE")

        // The EMR answers the retry's read once with a broken copy of the same version.
        let reader = ScriptedReader(base: harness.emr, first: [Self.damagedCopy(of: truth)])
        let operations = Operations(store: harness.store, mapping: harness.mapping, inbound: harness.linker, emrWriter: reader)
        _ = try await operations.retry(.rows([row]), by: "support")
        let after = try await harness.row(row)
        #expect(after.status == .failed, "the row still holds the source's content: the broken read does not replace it")
        #expect(after.error?.code == "MAPPING_UNKNOWN_CODE", "the error is still the record's own")
        #expect(reader.reads == 2, "a read at the same version that differs from the row is read again")
        #expect(try await harness.store.countRows(RowFilter(resourceType: "Patient")) == 1, "nothing staged from the broken read")
    }

    @Test func aDamagedCopyOfAFailedVersionIsSupersededByTheRowThatHoldsTheSourceContent() async throws {
        let harness = try await Harness.make()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1", gender: "nonbinary-x"))
        let truth = try #require(try await harness.emr.read(resourceType: "Patient", id: "p1"))
        let original = try await harness.stage([truth]).rowIDs[0]
        try await harness.link()
        // The same version again through a page broken in transit: a newer row, failing for another reason.
        let damaged = try await harness.stage([Self.damagedCopy(of: truth)]).rowIDs[0]
        try await harness.link()
        #expect(try await harness.row(damaged).error?.code != "MAPPING_UNKNOWN_CODE")

        let operations = Operations(store: harness.store, mapping: harness.mapping, inbound: harness.linker, emrWriter: harness.emr)
        _ = try await operations.retry(.rows([damaged]), by: "support")
        let copy = try await harness.row(damaged)
        #expect(copy.status == .superseded)
        #expect(copy.note?.contains("row \(original)") == true)
        let kept = try await harness.row(original)
        #expect(kept.status == .failed)
        #expect(kept.error?.code == "MAPPING_UNKNOWN_CODE", "the record fails with its own error, which names the field at fault")
    }

    @Test func aDamagedCopyIsReplacedWhenTheSourceAnswersTheSameTwice() async throws {
        let harness = try await Harness.make()
        harness.emr.seed("Patient", id: "p1", resource: Fixtures.patient(id: "p1"))
        let truth = try #require(try await harness.emr.read(resourceType: "Patient", id: "p1"))
        // The first copy ever seen was broken in transit; the good one was never staged.
        let damaged = try await harness.stage([Self.damagedCopy(of: truth)]).rowIDs[0]
        try await harness.link()
        #expect(try await harness.row(damaged).status == .failed)

        let operations = Operations(store: harness.store, mapping: harness.mapping, inbound: harness.linker, emrWriter: harness.emr)
        let report = try await operations.retry(.rows([damaged]), by: "support")
        #expect(try await harness.row(damaged).status == .superseded)
        let linked = try #require(report.rows.first { $0.id != damaged })
        #expect(linked.status == .linked)
        #expect(harness.target.records(of: "Contact").count == 1)
    }

    /// The same version of `record` with elements of the wrong JSON types, as a broken EMR sends it.
    static func damagedCopy(of record: IncomingRecord) -> IncomingRecord {
        let stamp = Timestamp.format(record.lastUpdated!)
        let payload = #"{"resourceType":"Patient","id":"\#(record.sourceID)","meta":{"versionId":"\#(record.version ?? "")","lastUpdated":"\#(stamp)"},"name":"not-a-HumanName","gender":"female","birthDate":19850101}"#
        return IncomingRecord(
            system: record.system, resourceType: record.resourceType, sourceID: record.sourceID, version: record.version,
            lastUpdated: record.lastUpdated, payload: Array(payload.utf8))
    }

    @Test func anOlderVersionInALaterClaimSeesTheNewerOneLinkedButNotYetRecorded() async throws {
        let harness = try await Harness.make()
        // v2 of p0 is in the first claim; v1, older, arrives last, in the second claim, while the
        // first claim's outcomes still wait to be recorded together.
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p0", family: "Newer", version: 2))])
        try await harness.stage((1...300).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        let older = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p0", family: "Older", version: 1))]).rowIDs[0]

        let linker = InboundLinker(store: harness.store, target: harness.target, mapping: harness.mapping, claimSize: 250)
        let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: harness.store, meters: [], logger: .init(label: "test"))
        try await linker.linkPending(recorder: recorder, stop: StopSignal())
        _ = try await recorder.finish()

        #expect(try await harness.row(older).status == .superseded, "the older version is never applied over the newer one")
        #expect(harness.target.record("Contact", externalID: "p0")?["LastName"] == .text("Newer"))
        #expect(try await harness.store.countRows(RowFilter(statuses: [.linked])) == 301)
    }

    @Test func anOlderVersionWaitsForEveryTransactionStillInFlight() async throws {
        let harness = try await Harness.make()
        // 2,300 rows in claims of 1,000: the first two claims' outcomes are recorded in two
        // transactions that may both be in flight when v1 of p0, older, arrives in the third.
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p0", family: "Newer", version: 2))])
        try await harness.stage((1...2_298).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        let older = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p0", family: "Older", version: 1))]).rowIDs[0]

        let job = try await harness.link()

        #expect(try await harness.row(older).status == .superseded, "the older version is never applied over the newer one")
        #expect(harness.target.record("Contact", externalID: "p0")?["LastName"] == .text("Newer"))
        #expect(job.counts.linked == 2_299)
        #expect(job.counts.superseded == 1)
        #expect(try await harness.store.countRows(RowFilter(statuses: [.linked])) == 2_299)
        #expect(try await harness.store.countRows(RowFilter(statuses: [.staged])) == 0, "no row is left claimed and unlinked")
    }

    @Test func linksStagedRowsInBatchesOfAtMost200() async throws {
        let harness = try await Harness.make()
        try await harness.stage((1...450).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        let job = try await harness.link()
        // Batches in flight together (salesforce.concurrency) may reach Salesforce in any order.
        #expect(harness.target.batchSizes.sorted(by: >) == [200, 200, 50])
        #expect(job.counts.linked == 450)
        #expect(job.status == .succeeded)
        #expect(try await harness.store.countRows(RowFilter(statuses: [.linked])) == 450)
        let contact = try #require(harness.target.record("Contact", externalID: "p7"))
        #expect(contact["LastName"] == .text("Müller"))
        #expect(contact["FirstName"] == .text("Zoë"))
        #expect(contact["Birthdate"] == .text("1984-02-29"))
        #expect(contact["Gender__c"] == .text("Female"))
        #expect(contact["Phone"] == .text("+1 555 0100"))
    }

    @Test func aRecordTheTargetRejectsFailsAloneWithTheRemoteEvidence() async throws {
        let harness = try await Harness.make()
        let body = #"{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}"#
        harness.target.failRecords { _, fields in
            fields["EMR_Patient_Id__c"] == .text("p3")
                ? LinkError(code: "UNABLE_TO_LOCK_ROW", message: "unable to obtain exclusive access to this record", fields: ["LastName"], remoteBody: body)
                : nil
        }
        let staged = try await harness.stage((1...5).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        let job = try await harness.link()
        #expect(job.status == .partial)
        #expect(job.counts.linked == 4)
        #expect(job.counts.failed == 1)
        let failed = try await harness.row(staged.rowIDs[2])
        #expect(failed.status == .failed)
        #expect(failed.error == LinkError(code: "UNABLE_TO_LOCK_ROW", message: "unable to obtain exclusive access to this record", fields: ["LastName"], remoteBody: body))
        #expect(harness.target.batchSizes == [5])
        #expect(try await harness.row(staged.rowIDs[3]).status == .linked)
    }

    @Test(arguments: [
        ("{\"resourceType\":\"Patient\",\"id\":\"bad\",", "MAPPING_INVALID_JSON", [String]()),
        (#"{"resourceType":"Patient","name":[{"family":"Doe"}]}"#, "MAPPING_MISSING_FIELD", ["EMR_Patient_Id__c"]),
        (#"{"resourceType":"Patient","id":"bad","name":[{"family":"Doe"}],"gender":5}"#, "MAPPING_WRONG_TYPE", ["Gender__c"]),
        (#"{"resourceType":"Patient","id":"bad","name":[{"family":"Doe"}],"birthDate":"1985-13-45"}"#, "MAPPING_INVALID_DATE", ["Birthdate"]),
        (#"{"resourceType":"Patient","id":"bad","name":[{"family":"Doe"}],"gender":"x"}"#, "MAPPING_UNKNOWN_CODE", ["Gender__c"]),
        (#"{"resourceType":"Patient","id":"bad","name":[{"given":["No family"]}]}"#, "MAPPING_MISSING_FIELD", ["LastName"]),
        (#"{"resourceType":"Observation","id":"bad"}"#, "MAPPING_WRONG_RESOURCE", ["resourceType"]),
    ])
    func anUnreadablePayloadFailsAloneNamingTheField(payload: String, code: String, fields: [String]) async throws {
        let harness = try await Harness.make()
        let good = try await harness.stage([Fixtures.record(Fixtures.patient(id: "good1"))])
        let bad = try await harness.stage([Fixtures.rawRecord(payload, id: "bad")])
        let good2 = try await harness.stage([Fixtures.record(Fixtures.patient(id: "good2"))])
        try await harness.link()
        let row = try await harness.row(bad.rowIDs[0])
        #expect(row.status == .failed)
        #expect(row.error?.code == code)
        #expect(row.error?.fields == fields)
        #expect(try await harness.row(good.rowIDs[0]).status == .linked)
        #expect(try await harness.row(good2.rowIDs[0]).status == .linked)
        #expect(harness.target.record("Contact", externalID: "bad") == nil)
        #expect(harness.target.batchSizes == [2])
    }

    @Test func aSuccessfulLinkStoresTheReturnedID() async throws {
        let harness = try await Harness.make()
        try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1"))])
        try await harness.link()
        let key = SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1")
        let link = try #require(try await harness.store.links(for: [key])[key])
        #expect(link.targetType == "Contact")
        #expect(link.targetID == harness.target.records(of: "Contact").keys.first)
        #expect(link.recordKey == "p1")
        #expect(link.linkedVersion.version == "1")
    }

    @Test func aRetryAddsAnAttemptAndKeepsTheEarlierOnes() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords { _, _ in LinkError(code: "INVALID_FIELD", message: "No such column 'Gender__c'", fields: ["Gender__c"]) }
        let staged = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1"))])
        try await harness.link()
        #expect(try await harness.row(staged.rowIDs[0]).status == .failed)

        harness.target.failRecords(nil)
        let report = try await harness.operations.retry(.rows(staged.rowIDs), by: "alice")
        #expect(report.rows.map(\.status) == [.linked])
        #expect(report.job.kind == .retry)
        #expect(report.job.actor == .operator("alice"))

        let attempts = try await harness.store.attempts(ofRow: staged.rowIDs[0])
        #expect(attempts.map(\.number) == [1, 2])
        #expect(attempts.map(\.outcome) == [.failed, .linked])
        #expect(attempts[0].error?.code == "INVALID_FIELD")
        #expect(attempts[1].actor == .job(report.job.id))
        let history = try await harness.store.history(ofRow: staged.rowIDs[0])
        #expect(history.map(\.to) == [.staged, .failed, .linked])
        #expect(history[2].actor == .job(report.job.id))
        #expect(try await harness.row(staged.rowIDs[0]).error == nil)
    }

    @Test func retryByErrorCodeTakesOnlyThatCode() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords { _, fields in
            switch fields["EMR_Patient_Id__c"] {
            case .text("p1"), .text("p2"): LinkError(code: "UNABLE_TO_LOCK_ROW", message: "locked")
            case .text("p3"): LinkError(code: "STRING_TOO_LONG", message: "too long", fields: ["LastName"])
            default: nil
            }
        }
        try await harness.stage((1...4).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        try await harness.link()
        harness.target.failRecords(nil)
        let report = try await harness.operations.retry(.errorCode("UNABLE_TO_LOCK_ROW"), by: "bob")
        #expect(Set(report.rows.map(\.sourceID)) == ["p1", "p2"])
        #expect(try await harness.store.countRows(RowFilter(statuses: [.failed])) == 1)
        #expect(try await harness.store.countRows(RowFilter(errorCode: "STRING_TOO_LONG")) == 1)
    }

    @Test func aRetryThatFailsAgainTriesEachRowOnce() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords { _, _ in LinkError(code: "UNABLE_TO_LOCK_ROW", message: "locked") }
        let rows = try await harness.stage((1...3).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        try await harness.link()
        let report = try await harness.operations.retry(.errorCode("UNABLE_TO_LOCK_ROW"), by: "alice")
        #expect(report.rows.count == 3)
        for id in rows.rowIDs { #expect(try await harness.row(id).attemptCount == 2) }
        _ = try await harness.operations.retry(.rows(rows.rowIDs), by: "alice")
        for id in rows.rowIDs { #expect(try await harness.row(id).attemptCount == 3) }
    }

    @Test func aRetryOfAnOlderVersionThanTheLinkedOneIsSupersededNotApplied() async throws {
        let harness = try await Harness.make()
        harness.target.failRecords { _, fields in fields["LastName"] == .text("Old") ? LinkError(code: "UNABLE_TO_LOCK_ROW", message: "locked") : nil }
        let old = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "Old", version: 1))])
        try await harness.link()
        let new = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1", family: "New", version: 2))])
        try await harness.link()
        #expect(try await harness.row(new.rowIDs[0]).status == .linked)

        harness.target.failRecords(nil)
        let callsBefore = harness.target.batchSizes.count
        _ = try await harness.operations.retry(.rows(old.rowIDs), by: "alice")
        let row = try await harness.row(old.rowIDs[0])
        #expect(row.status == .superseded)
        #expect(row.note?.contains("row \(new.rowIDs[0])") == true)
        #expect(harness.target.batchSizes.count == callsBefore)
        #expect(harness.target.record("Contact", externalID: "p1")?["LastName"] == .text("New"))
    }

    @Test func twoVersionsInOneBatchApplyOnlyTheNewer() async throws {
        let harness = try await Harness.make()
        let rows = try await harness.stage([
            Fixtures.record(Fixtures.patient(id: "p1", family: "Second", version: 2)), Fixtures.record(Fixtures.patient(id: "p1", family: "First", version: 1)),
        ])
        try await harness.link()
        #expect(try await harness.row(rows.rowIDs[0]).status == .linked)
        #expect(try await harness.row(rows.rowIDs[1]).status == .superseded)
        #expect(harness.target.record("Contact", externalID: "p1")?["LastName"] == .text("Second"))
    }

    @Test func ignoreSetsAFailedRowAsideWithItsReasonAndKeepsItVisible() async throws {
        let harness = try await Harness.make()
        let bad = try await harness.stage([Fixtures.rawRecord(#"{"resourceType":"Patient","id":"x","birthDate":"1985-13-45","name":[{"family":"D"}]}"#, id: "x")])
        try await harness.link()
        let ignored = try await harness.operations.ignore(rows: bad.rowIDs, reason: "test patient, deleted in the EMR", by: "carol")
        #expect(ignored == bad.rowIDs)
        let row = try await harness.row(bad.rowIDs[0])
        #expect(row.status == .ignored)
        #expect(row.note == "test patient, deleted in the EMR")
        #expect(row.error?.code == "MAPPING_INVALID_DATE")
        #expect(try await harness.store.history(ofRow: bad.rowIDs[0]).last?.actor == .operator("carol"))
        #expect(try await harness.store.countRows(RowFilter(statuses: [.ignored])) == 1)
        await #expect(throws: OperationError.reasonRequired) { try await harness.operations.ignore(rows: bad.rowIDs, reason: " ", by: "carol") }
    }

    @Test func aLinkJobKnowsHowManyRowsWaitSoItsProgressHasATotal() async throws {
        let harness = try await Harness.make()
        try await harness.stage((1...4).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        let job = try await harness.link()
        #expect(job.progress.total == 4)
        #expect(job.progress.done == 4)
    }

    @Test func unignorePutsAnIgnoredRowBackAmongTheFailuresWithItsErrorAndIsAudited() async throws {
        let harness = try await Harness.make()
        let bad = try await harness.stage([Fixtures.rawRecord(#"{"resourceType":"Patient","id":"x","birthDate":"1985-13-45","name":[{"family":"D"}]}"#, id: "x")])
        let good = try await harness.stage([Fixtures.record(Fixtures.patient(id: "p1"))])
        try await harness.link()
        _ = try await harness.operations.ignore(rows: bad.rowIDs, reason: "test patient", by: "carol")
        let back = try await harness.operations.unignore(rows: bad.rowIDs + good.rowIDs, reason: "a real patient after all", by: "dave")
        #expect(back == bad.rowIDs, "a linked row is not ignored, so it is left as it is")
        let row = try await harness.row(bad.rowIDs[0])
        #expect(row.status == .failed && row.note == "a real patient after all")
        #expect(row.error?.code == "MAPPING_INVALID_DATE", "the error stays, to fix")
        let last = try #require(try await harness.store.history(ofRow: bad.rowIDs[0]).last)
        #expect(last.actor == .operator("dave") && last.from == .ignored && last.to == .failed && last.note == "a real patient after all")
        #expect(try await harness.row(good.rowIDs[0]).status == .linked)
        await #expect(throws: OperationError.reasonRequired) { try await harness.operations.unignore(rows: bad.rowIDs, reason: "", by: "dave") }
    }

    @Test func aWholeCallFailureFailsItsRowsWithATransientErrorThatAutoRetryTakes() async throws {
        let harness = try await Harness.make()
        harness.target.failCalls(with: RemoteCallError(.transient, LinkError(code: "HTTP_503", message: "service unavailable after 4 tries")))
        let rows = try await harness.stage((1...3).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        try await harness.link()
        for id in rows.rowIDs { #expect(try await harness.row(id).error?.isTransient == true) }
        harness.target.failCalls(with: nil)
        _ = try await harness.operations.retry(.errorCode("HTTP_503"), by: "system")
        for id in rows.rowIDs { #expect(try await harness.row(id).status == .linked) }
    }

    @Test func aLimitStopsTheJobAndLeavesTheRowsStaged() async throws {
        let harness = try await Harness.make()
        harness.target.failCalls(with: RemoteCallError(.limitReached, LinkError(code: "REQUEST_LIMIT_EXCEEDED", message: "80% of the daily API limit is used")))
        let rows = try await harness.stage((1...3).map { Fixtures.record(Fixtures.patient(id: "p\($0)")) })
        await #expect(throws: RemoteCallError.self) { try await harness.link() }
        for id in rows.rowIDs {
            let row = try await harness.row(id)
            #expect(row.status == .staged)
            #expect(row.attemptCount == 0)
        }
        harness.target.failCalls(with: nil)
        try await harness.link()
        for id in rows.rowIDs { #expect(try await harness.row(id).status == .linked) }
    }
}

/// An EMR whose reads give scripted answers first, then the real ones; writes go to the real one.
final class ScriptedReader: ResourceWriter, @unchecked Sendable {
    private let base: InMemoryResourceWriter
    private let lock = NSLock()
    private var answers: [IncomingRecord]
    private var count = 0

    init(base: InMemoryResourceWriter, first answers: [IncomingRecord]) {
        self.base = base
        self.answers = answers
    }

    var reads: Int { lock.withLock { count } }
    var meter: APIMeter { base.meter }

    func createIfNoneExist(resourceType: String, identifier: ResourceIdentifier, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await base.createIfNoneExist(resourceType: resourceType, identifier: identifier, resource: resource)
    }

    func update(resourceType: String, id: String, resource: [UInt8], ifMatch: String?) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await base.update(resourceType: resourceType, id: id, resource: resource, ifMatch: ifMatch)
    }

    func writeModes(for resourceType: String) async throws(RemoteCallError) -> EMRWriteModes { base.modes }

    func create(resourceType: String, resource: [UInt8]) async throws(RemoteCallError) -> Result<WrittenResource, LinkError> {
        try await base.create(resourceType: resourceType, resource: resource)
    }

    func search(resourceType: String, identifier: ResourceIdentifier) async throws(RemoteCallError) -> [String] {
        try await base.search(resourceType: resourceType, identifier: identifier)
    }

    func patch(resourceType: String, id: String, operations: [JSONPatchOperation], ifMatch: String) async throws(RemoteCallError)
        -> Result<WrittenResource, LinkError>
    {
        try await base.patch(resourceType: resourceType, id: id, operations: operations, ifMatch: ifMatch)
    }

    func read(resourceType: String, id: String) async throws(RemoteCallError) -> IncomingRecord? {
        let scripted: IncomingRecord? = lock.withLock {
            count += 1
            return answers.isEmpty ? nil : answers.removeFirst()
        }
        if let scripted { return scripted }
        return try await base.read(resourceType: resourceType, id: id)
    }
}
