import Foundation
import Sandbox
import StagelinkEngine
import StagelinkHTTP
import StagelinkTestSupport
import Testing

@testable import SalesforceClient

/// Upserts through Bulk API 2.0 against the simulator over real HTTP: a few calls a job, every
/// result line matched back to its record by external id.
@Suite(.timeLimit(.minutes(2)))
struct SalesforceBulkIngestTests {
    static func client(_ harness: SandboxHarness) async throws -> SalesforceClient {
        var configuration = harness.salesforceConfiguration()
        configuration.bulkPollInterval = .milliseconds(1)
        return try await SalesforceClient(configuration: configuration, logger: SandboxHarness.silent)
    }

    @Test func aBulkUpsertTakesEightCallsAndRefusedRowsLandOnTheirOwnRecords() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            var records = (0..<1_000).map { SalesforceSandboxTests.contact($0) }
            records[17] = SalesforceSandboxTests.contact(17, lastName: String(repeating: "x", count: 81))
            records[503].fields[3] = MappedField(name: "Gender__c", value: .text("Robot"))
            records[998] = TargetRecord(fields: [MappedField(name: "EMR_Patient_Id__c", value: .text("emr-998")), MappedField(name: "FirstName", value: .text("NoLast"))])
            let before = harness.sandbox.inspection.counts().calls
            let results = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
            let calls = harness.sandbox.inspection.counts().calls
            #expect(calls[.salesforceBulkIngest, default: 0] - before[.salesforceBulkIngest, default: 0] == 8, "the list of earlier jobs, then create, upload, close, two polls, successful and failed results")
            #expect(calls[.salesforceCollections, default: 0] == before[.salesforceCollections, default: 0])
            #expect(results.count == 1_000)
            let failures = results.enumerated().compactMap { index, result -> (Int, LinkError)? in
                if case .failure(let error) = result { return (index, error) } else { return nil }
            }
            #expect(failures.map(\.0) == [17, 503, 998])
            #expect(failures.map(\.1.code) == [ErrorCode.stringTooLong.rawValue, ErrorCode.invalidOrNullForRestrictedPicklist.rawValue, ErrorCode.requiredFieldMissing.rawValue])
            #expect(failures[0].1.fields == ["LastName"])
            #expect(failures[2].1.remoteBody?.contains("emr-998") == true, "the failed result line is kept as the remote body")
            // Every success carries the id of the record with that row's external id.
            for (index, result) in results.enumerated() {
                guard case .success(let id, let created) = result else { continue }
                #expect(created)
                #expect(harness.sandbox.inspection.salesforceRecord("Contact", id: id)?["EMR_Patient_Id__c"] == .string("emr-\(index)"))
            }
        }
    }

    @Test func sendingAJobsRowsAgainAfterACrashUpdatesTheSameRecordsAndDuplicatesNothing() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            let records = (0..<300).map { SalesforceSandboxTests.contact($0) }
            let seeded = harness.sandbox.inspection.salesforceRecords("Contact").count
            // The crashed process's job ran to its end; the rows were never recorded as linked.
            let first = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
            // The next cycle sends them again, in a new job.
            let second = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
            #expect(second.allSatisfy { if case .success(_, false) = $0 { true } else { false } })
            #expect(zip(first, second).allSatisfy { pair in
                if case .success(let a, _) = pair.0, case .success(let b, _) = pair.1 { return a == b }
                return false
            })
            #expect(harness.sandbox.inspection.salesforceRecords("Contact").count == seeded + 300)
        }
    }

    @Test func aRestartedClientWaitsForTheJobACrashLeftRunningAndAbortsOneLeftOpenBeforeSendingTheRowsAgain() async throws {
        try await SandboxHarness.with { harness in
            // The crashed process: one job closed (queued in the org), one uploaded and never closed.
            let crashed = try await Self.client(harness)
            let closed = try await crashed.rawJob(csv: "EMR_Patient_Id__c,LastName\nemr-0,First\nemr-1,First\n", close: true)
            let open = try await crashed.rawJob(csv: "EMR_Patient_Id__c,LastName\nemr-2,First\n", close: false)

            let restarted = try await Self.client(harness)
            let results = try await restarted.bulkUpsert(
                object: "Contact", externalIDField: "EMR_Patient_Id__c", records: (0..<3).map { SalesforceSandboxTests.contact($0) })
            #expect(try await restarted.rawJobState(closed) == "JobComplete", "the closed job ran to its end first")
            #expect(try await restarted.rawJobState(open) == "Aborted")
            // The closed job created emr-0 and emr-1; the new job updated them.
            let created: [Bool?] = results.map { result in
                if case .success(_, let created) = result { return created }
                return nil
            }
            #expect(created == [false, false, true])
            let contacts = harness.sandbox.inspection.salesforceRecords("Contact").filter { ["emr-0", "emr-1", "emr-2"].contains($0["EMR_Patient_Id__c"]?.stringValue ?? "") }
            #expect(contacts.count == 3)
        }
    }

    @Test func aJobThatFailsBeforeItIsClosedIsSentAgainInANewJobAndWritesEachRecordOnce() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            // A first job settles the user's earlier jobs, so that the next call is a job's creation.
            _ = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [SalesforceSandboxTests.contact(0)])
            let seeded = harness.sandbox.inspection.salesforceRecords("Contact").count
            // The creation answers 500: its outcome is unknown, and a POST is not sent again as it is.
            try harness.sandbox.faults.inject(FaultRule(.internalServerError, on: .salesforceBulkIngest, trigger: .nextCalls(1)))
            let records = (1...300).map { SalesforceSandboxTests.contact($0) }
            let results = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
            #expect(results.count == 300)
            #expect(results.allSatisfy { if case .success(_, true) = $0 { true } else { false } }, "every row created, by the second job")
            #expect(harness.sandbox.inspection.salesforceRecords("Contact").count == seeded + 300)
        }
    }

    @Test func settlingEarlierJobsLeavesTheJobsTheClientIsRunningAlone() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            // A job of this client in flight (the linker keeps several), uploaded, not closed yet.
            let running = try await salesforce.rawJob(csv: "EMR_Patient_Id__c,LastName\nemr-900,Running\n", close: false)
            salesforce.bulkJobsRunning.withLock { _ = $0.insert(running) }
            // A job left open by a crashed process of the same user.
            let crashed = try await Self.client(harness)
            let leftOpen = try await crashed.rawJob(csv: "EMR_Patient_Id__c,LastName\nemr-901,Left\n", close: false)
            // Another batch's job settles the user's earlier jobs first.
            let results = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [SalesforceSandboxTests.contact(1)])
            #expect(results.count == 1)
            #expect(try await salesforce.rawJobState(leftOpen) == "Aborted")
            #expect(try await salesforce.rawJobState(running) == "Open", "the running job is not aborted under its own client")
        }
    }

    @Test func settlingLeavesAnOpenJobAloneWhileOneOfTheClientsOwnCreationsIsUnanswered() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            // Another batch's job, created by the org for this client, whose answer has not reached
            // it yet: the org lists it Open, and the client does not know its id.
            let beingCreated = try await salesforce.rawJob(csv: "EMR_Patient_Id__c,LastName\nemr-900,Created\n", close: false)
            salesforce.bulkJobCreations.withLock {
                $0.sent += 1
                $0.unanswered += 1
            }
            let results = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [SalesforceSandboxTests.contact(1)])
            #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            #expect(try await salesforce.rawJobState(beingCreated) == "Open", "a job that may be this client's own, being created, is not aborted")

            // Its creation answered with an error after all: the job is abandoned, and the next settling aborts it.
            salesforce.bulkJobCreations.withLock { $0.unanswered -= 1 }
            salesforce.bulkJobsMayRun.withLock { $0 = true }
            _ = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [SalesforceSandboxTests.contact(2)])
            #expect(try await salesforce.rawJobState(beingCreated) == "Aborted")
            #expect(salesforce.bulkJobCreations.withLock { $0.unanswered } == 0, "every creation of the client's own was answered")
        }
    }

    @Test func valuesThatAreCSVSyntaxAreDataAndNullIsNA() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            let hostile = "O\"Brien, \"Jr\"\nline two,\r\n\"\""
            let record = TargetRecord(fields: [
                MappedField(name: "EMR_Patient_Id__c", value: .text("emr-q")), MappedField(name: "LastName", value: .text(hostile)),
                MappedField(name: "FirstName", value: .null),
            ])
            let results = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [record])
            guard case .success(let id, _) = try #require(results.first) else {
                Issue.record("the hostile row failed: \(results)")
                return
            }
            let stored = harness.sandbox.inspection.salesforceRecord("Contact", id: id)
            #expect(stored?["LastName"] == .string(hostile))
            #expect(stored?["FirstName"] == .null)
        }
    }

    /// The ids of `count` Contacts made through a first job (which also settles the user's earlier jobs).
    static func contactIDs(_ salesforce: SalesforceClient, count: Int) async throws -> [String] {
        let results = try await salesforce.bulkUpsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: (0..<count).map { SalesforceSandboxTests.contact($0) })
        return try results.map { result in
            guard case .success(let id, _) = result else { throw LinkError(.unknownFailure, message: "seeding failed: \(result)") }
            return id
        }
    }

    @Test func aBulkUpdateIsOneUpdateJobThatWritesTheRecordsItsIdsName() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            let ids = try await Self.contactIDs(salesforce, count: 300)
            let contacts = harness.sandbox.inspection.salesforceRecords("Contact").count
            let before = harness.sandbox.inspection.counts().calls
            // Sent in the reverse order of their creation: matched by Id, not by position.
            let records = ids.enumerated().reversed().map { index, id in
                TargetRecordUpdate(id: id, fields: [MappedField(name: "LastName", value: .text("Updated \(index)"))])
            }
            let results = try await salesforce.bulkUpdate(object: "Contact", records: records)
            let calls = harness.sandbox.inspection.counts().calls
            #expect(calls[.salesforceBulkIngest, default: 0] - before[.salesforceBulkIngest, default: 0] == 6, "create, upload, close, two polls, successful results")
            #expect(calls[.salesforceCollections, default: 0] == before[.salesforceCollections, default: 0], "no collections call")
            #expect(results == records.map { RecordResult.success(id: $0.id, created: false) })
            for (index, id) in ids.enumerated() {
                #expect(harness.sandbox.inspection.salesforceRecord("Contact", id: id)?["LastName"] == .string("Updated \(index)"))
                #expect(harness.sandbox.inspection.salesforceRecord("Contact", id: id)?["EMR_Patient_Id__c"] == .string("emr-\(index)"), "what the row leaves out stays")
            }
            #expect(harness.sandbox.inspection.salesforceRecords("Contact").count == contacts, "an update creates nothing")
        }
    }

    @Test func aBulkUpdatesRefusedRowsLandOnTheirOwnRecordsAndAnIdThatIsNoIdIsNeverSent() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await Self.client(harness)
            let ids = try await Self.contactIDs(salesforce, count: 4)
            let unknown = "003" + String(repeating: "0", count: 11) + "9"
            let hostile = "003\",\"x\"\n" + ids[1]
            let records = [
                TargetRecordUpdate(id: ids[0], fields: [MappedField(name: "LastName", value: .text("Kept 0"))]),
                TargetRecordUpdate(id: unknown, fields: [MappedField(name: "LastName", value: .text("Nobody"))]),
                TargetRecordUpdate(id: ids[2], fields: [MappedField(name: "LastName", value: .text("Refused 2")), MappedField(name: "Gender__c", value: .text("Robot"))]),
                TargetRecordUpdate(id: hostile, fields: [MappedField(name: "LastName", value: .text("Hostile"))]),
                TargetRecordUpdate(id: ids[3], fields: [MappedField(name: "LastName", value: .text("Kept 3"))]),
            ]
            let contacts = harness.sandbox.inspection.salesforceRecords("Contact").count
            let results = try await salesforce.bulkUpdate(object: "Contact", records: records)
            #expect(results.count == 5)
            #expect(results[0] == .success(id: ids[0], created: false))
            #expect(results[4] == .success(id: ids[3], created: false))

            guard case .failure(let missing) = results[1], case .failure(let invalid) = results[2], case .failure(let refused) = results[3] else {
                Issue.record("rows 1, 2 and 3 should fail: \(results)")
                return
            }
            // The sandbox's sf__Error, as the record's error.
            #expect(missing.code == "INVALID_CROSS_REFERENCE_KEY")
            #expect(missing.message == "invalid cross reference id")
            #expect(missing.fields == ["Id"])
            #expect(missing.remoteBody?.contains(unknown) == true, "the failed result line is kept as the remote body")
            #expect(invalid.code == ErrorCode.invalidOrNullForRestrictedPicklist.rawValue)
            #expect(invalid.fields == ["Gender__c"])
            #expect(invalid.remoteBody?.contains(ids[2]) == true)
            // Refused by the client before anything was sent: the CSV never carried it.
            #expect(refused.code == ErrorCode.invalidIdentifier.rawValue)
            #expect(refused.fields == ["Id"])
            #expect(refused.message.contains(hostile) == false, "the value is not quoted back")

            let inspection = harness.sandbox.inspection
            #expect(inspection.salesforceRecord("Contact", id: ids[0])?["LastName"] == "Kept 0")
            #expect(inspection.salesforceRecord("Contact", id: ids[1])?["LastName"] == "Person 1", "the record the hostile id ends with is untouched")
            #expect(inspection.salesforceRecord("Contact", id: ids[2])?["LastName"] == "Person 2", "a refused row writes nothing")
            #expect(inspection.salesforceRecord("Contact", id: ids[3])?["LastName"] == "Kept 3")
            #expect(inspection.salesforceRecords("Contact").count == contacts)
        }
    }

    @Test func sfErrorBecomesTheRowsCodeMessageAndFields() {
        let error = BulkCSV.linkError(sfError: "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --", remoteBody: "line")
        #expect(error.code == "REQUIRED_FIELD_MISSING")
        #expect(error.message == "Required fields are missing: [LastName]")
        #expect(error.fields == ["LastName"])
        #expect(error.remoteBody == "line")
        let plain = BulkCSV.linkError(sfError: "something odd", remoteBody: "line")
        #expect(plain.code == ErrorCode.unknownFailure.rawValue)
        #expect(plain.message == "something odd")
    }

    @Test func csvLinesQuoteEveryValueAndReadBack() throws {
        let line = BulkCSV.line(["a,b", "say \"hi\"", "two\nlines", ""])
        #expect(String(decoding: line, as: UTF8.self) == "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"\"\n")
        #expect(try BulkCSV.parse(line + Array("x,y\r\n".utf8)) == [["a,b", "say \"hi\"", "two\nlines", ""], ["x", "y"]])
        #expect(BulkCSV.text(.null) == "#N/A")
        #expect(BulkCSV.text(.number("4.50")) == "4.50")
        #expect(BulkCSV.text(.bool(false)) == "false")
    }
}

extension SalesforceClient {
    /// A job made by hand, as a crashed process leaves it: created, uploaded, closed or not.
    func rawJob(csv: String, close: Bool) async throws -> String {
        let create = JSONWriter.compact(["object": "Contact", "externalIdFieldName": "EMR_Patient_Id__c", "operation": "upsert", "contentType": "CSV"])
        let id = try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.post, url: try dataURL(session, ["jobs", "ingest"]), headers: Self.jsonHeaders, body: create, retry: .nonIdempotent)
        } decode: { (response) throws(RemoteCallError) -> String in (try? JSONValue(parsing: response.body))?["id"]?.stringValue ?? "" }
        try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.put, url: try dataURL(session, ["jobs", "ingest", id, "batches"]), headers: ["Content-Type": "text/csv"], body: Array(csv.utf8), retry: .nonIdempotent)
        } decode: { (_) throws(RemoteCallError) in () }
        if close {
            try await call { (session) throws(RemoteCallError) -> HTTPRequest in
                HTTPRequest(.patch, url: try dataURL(session, ["jobs", "ingest", id]), headers: Self.jsonHeaders, body: JSONWriter.compact(["state": "UploadComplete"]), retry: .idempotent)
            } decode: { (_) throws(RemoteCallError) in () }
        }
        return id
    }

    func rawJobState(_ id: String) async throws -> String {
        try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.get, url: try dataURL(session, ["jobs", "ingest", id]), headers: Self.jsonHeaders, retry: .idempotent)
        } decode: { (response) throws(RemoteCallError) -> String in (try? JSONValue(parsing: response.body))?["state"]?.stringValue ?? "" }
    }
}
