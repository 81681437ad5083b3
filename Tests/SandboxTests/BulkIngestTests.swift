import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Sandbox

/// Bulk API 2.0 ingest as a third-party client drives it: create a job, upload CSV once, close it,
/// poll it, read its successful, failed and unprocessed records.
struct BulkIngestTests {
    private static let jobs = "/services/data/v60.0/jobs/ingest"

    private static let upsertJob: WireJSON = [
        "object": "Contact", "externalIdFieldName": "EMR_Patient_Id__c", "contentType": "CSV", "operation": "upsert", "lineEnding": "LF",
    ]

    @Test func anUpsertJobGoesOpenUploadCompleteInProgressJobCompleteAndReportsEveryRow() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 0))
        let existing = world.salesforce.seedInsert(
            "Contact", values: ["LastName": "Old", "EMR_Patient_Id__c": "p-2", "Phone": "555-0100"], actor: "", at: world.clock.now())
        let csv = """
            EMR_Patient_Id__c,LastName,FirstName,Birthdate,Phone,Gender__c
            p-1,"Kowalski, Jr.","Anna ""Ania""\nsecond line",1980-02-29Z,,Female
            p-2,Nowak,Jan,1975-01-01,#N/A,Male
            p-3,,Nobody,,,
            p-4,Ito,Kei,,,Robot

            """
        let replies = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let created = try await client.call(.post, Self.jobs, bearer: token, json: Self.upsertJob)
            let id = try #require(created.json["id"]?.stringValue)
            let upload = try await client.upload(csv, to: "\(Self.jobs)/\(id)/batches", bearer: token)
            let closed = try await client.call(.patch, "\(Self.jobs)/\(id)", bearer: token, json: ["state": "UploadComplete"])
            let first = try await client.call(.get, "\(Self.jobs)/\(id)", bearer: token)
            let second = try await client.call(.get, "\(Self.jobs)/\(id)", bearer: token)
            let successful = try await client.call(.get, "\(Self.jobs)/\(id)/successfulResults", bearer: token)
            let failed = try await client.call(.get, "\(Self.jobs)/\(id)/failedResults", bearer: token)
            let unprocessed = try await client.call(.get, "\(Self.jobs)/\(id)/unprocessedrecords", bearer: token)
            return [created, upload, closed, first, second, successful, failed, unprocessed]
        }
        let (created, upload, closed, first, second) = (replies[0], replies[1], replies[2], replies[3], replies[4])
        #expect(created.status == 200)
        #expect(created.json["state"] == "Open")
        #expect(created.json["id"]?.stringValue?.hasPrefix("750") == true)
        #expect(created.json["contentUrl"]?.stringValue?.hasSuffix("/batches") == true)
        #expect(upload.status == 201)
        #expect(closed.json["state"] == "UploadComplete")
        #expect(first.json["state"] == "InProgress")
        #expect(second.json["state"] == "JobComplete")
        #expect(second.json["numberRecordsProcessed"] == 4)
        #expect(second.json["numberRecordsFailed"] == 2)

        let successful = try BulkCSV.parse(replies[5].body, delimiter: 0x2C, lineEnding: .lf)
        #expect(successful.header == ["sf__Id", "sf__Created", "EMR_Patient_Id__c", "LastName", "FirstName", "Birthdate", "Phone", "Gender__c"])
        #expect(successful.rows.map { [$0[1], $0[2]] } == [["true", "p-1"], ["false", "p-2"]])
        #expect(successful.rows[1][0] == existing)
        let anna = try #require(world.salesforce.state.withLock { $0.store.records[successful.rows[0][0]] })
        #expect(anna["LastName"] == "Kowalski, Jr.")
        #expect(anna["FirstName"] == "Anna \"Ania\"\nsecond line")
        #expect(anna["Birthdate"] == "1980-02-29")
        let jan = try #require(world.salesforce.state.withLock { $0.store.records[existing] })
        #expect(jan["Phone"] == .null, "#N/A sets a field to null")
        #expect(jan["LastName"] == "Nowak")

        let failed = try BulkCSV.parse(replies[6].body, delimiter: 0x2C, lineEnding: .lf)
        #expect(failed.header.prefix(3) == ["sf__Id", "sf__Error", "EMR_Patient_Id__c"])
        let errors = Dictionary(uniqueKeysWithValues: failed.rows.map { ($0[2], $0[1]) })
        #expect(errors["p-3"]?.hasPrefix("REQUIRED_FIELD_MISSING:") == true)
        #expect(errors["p-3"]?.hasSuffix(":LastName --") == true)
        #expect(errors["p-4"]?.hasPrefix("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:") == true)
        #expect(try BulkCSV.parse(replies[7].body, delimiter: 0x2C, lineEnding: .lf).rows.isEmpty)
        #expect(world.ledger.history(.salesforce, "Contact", existing).last?.endpoint == .salesforceBulkIngest)
    }

    @Test func anUpdateJobWritesTheRecordsItsIdColumnNamesAndFailsEachBadIdAsSalesforceDoes() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 0))
        let now = world.clock.now()
        let anna = world.salesforce.seedInsert("Contact", values: ["LastName": "Kowalski", "EMR_Patient_Id__c": "p-1"], actor: "", at: now)
        let jan = world.salesforce.seedInsert("Contact", values: ["LastName": "Nowak", "Gender__c": "Male"], actor: "", at: now)
        let gone = world.salesforce.seedInsert("Contact", values: ["LastName": "Gone"], actor: "", at: now)
        try world.salesforce.delete("Contact", id: gone, actor: "")
        let never = SalesforceID.make(prefix: "003", sequence: 9_999)
        let account = SalesforceID.make(prefix: "001", sequence: 1)
        let contacts = world.salesforce.state.withLock { $0.store.records.count }
        let csv = """
            Id,LastName,Gender__c
            \(anna),Kowalska,Female
            \(jan),Nowakowski,Robot
            ,Blank,
            \(never),Never,
            \(account),Account,
            \(gone),Gone again,
            \(Self.quoted("003,\"x\"")),Hostile,

            """
        let replies = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let created = try await client.call(.post, Self.jobs, bearer: token, json: ["object": "Contact", "contentType": "CSV", "operation": "update", "lineEnding": "LF"])
            let id = try #require(created.json["id"]?.stringValue)
            _ = try await client.upload(csv, to: "\(Self.jobs)/\(id)/batches", bearer: token)
            _ = try await client.call(.patch, "\(Self.jobs)/\(id)", bearer: token, json: ["state": "UploadComplete"])
            _ = try await client.call(.get, "\(Self.jobs)/\(id)", bearer: token)
            let info = try await client.call(.get, "\(Self.jobs)/\(id)", bearer: token)
            let successful = try await client.call(.get, "\(Self.jobs)/\(id)/successfulResults", bearer: token)
            let failed = try await client.call(.get, "\(Self.jobs)/\(id)/failedResults", bearer: token)
            return [created, info, successful, failed]
        }
        #expect(replies[0].json["operation"] == "update")
        #expect(replies[0].json["externalIdFieldName"] == .null, "an update names no external id field")
        #expect(replies[1].json["state"] == "JobComplete")
        #expect(replies[1].json["numberRecordsProcessed"] == 7)
        #expect(replies[1].json["numberRecordsFailed"] == 6)

        let successful = try BulkCSV.parse(replies[2].body, delimiter: 0x2C, lineEnding: .lf)
        #expect(successful.header == ["sf__Id", "sf__Created", "Id", "LastName", "Gender__c"])
        #expect(successful.rows == [[anna, "false", anna, "Kowalska", "Female"]])
        let updated = try #require(world.salesforce.state.withLock { $0.store.records[anna] })
        #expect(updated["LastName"] == "Kowalska")
        #expect(updated["Gender__c"] == "Female")
        #expect(updated["EMR_Patient_Id__c"] == "p-1", "a field the row leaves out stays as it was")
        #expect(world.ledger.history(.salesforce, "Contact", anna).last?.endpoint == .salesforceBulkIngest)

        let failed = try BulkCSV.parse(replies[3].body, delimiter: 0x2C, lineEnding: .lf)
        let byName = Dictionary(uniqueKeysWithValues: failed.rows.map { ($0[3], (id: $0[0], error: $0[1])) })
        #expect(byName["Nowakowski"]?.id == jan, "a failed update names the record it failed")
        #expect(byName["Nowakowski"]?.error.hasPrefix("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:") == true)
        #expect(byName["Blank"]?.error == "MISSING_ARGUMENT:Id not specified in an update call:Id --")
        #expect(byName["Never"]?.error == "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:Id --")
        #expect(byName["Never"]?.id == never)
        #expect(byName["Account"]?.error == "MALFORMED_ID:Contact ID: id value of incorrect type: \(account):Id --")
        #expect(byName["Gone again"]?.error == "ENTITY_IS_DELETED:entity is deleted: --")
        #expect(byName["Hostile"]?.error == "MALFORMED_ID:Contact ID: id value of incorrect type: 003,\"x\":Id --")
        #expect(byName["Hostile"]?.id == "")
        let refused = try #require(world.salesforce.state.withLock { $0.store.records[jan] })
        #expect(refused["LastName"] == "Nowak", "a refused row writes nothing of itself")
        #expect(world.salesforce.state.withLock { $0.store.records.count } == contacts, "an update creates nothing")
    }

    /// A CSV field holding `value`: quoted, a quote doubled.
    private static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    @Test func aJobTakesOneUploadAndRefusesASecond() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 0))
        let (first, second) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let id = try #require(try await client.call(.post, Self.jobs, bearer: token, json: Self.upsertJob).json["id"]?.stringValue)
            let first = try await client.upload("EMR_Patient_Id__c,LastName\np-1,A\n", to: "\(Self.jobs)/\(id)/batches", bearer: token)
            let second = try await client.upload("EMR_Patient_Id__c,LastName\np-2,B\n", to: "\(Self.jobs)/\(id)/batches", bearer: token)
            return (first, second)
        }
        #expect(first.status == 201)
        #expect(second.status == 400)
        #expect(second.json[0]?["message"]?.stringValue?.contains("Found multiple contents for job") == true)
    }

    @Test func dataWithTheOtherLineEndingFailsTheJobAndAnAbortedJobLeavesItsRowsUnprocessed() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 0))
        let (failedInfo, aborted, unprocessed) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let crlf = try #require(try await client.call(.post, Self.jobs, bearer: token, json: Self.upsertJob).json["id"]?.stringValue)
            _ = try await client.upload("EMR_Patient_Id__c,LastName\r\np-1,A\r\n", to: "\(Self.jobs)/\(crlf)/batches", bearer: token)
            _ = try await client.call(.patch, "\(Self.jobs)/\(crlf)", bearer: token, json: ["state": "UploadComplete"])
            _ = try await client.call(.get, "\(Self.jobs)/\(crlf)", bearer: token)
            let failedInfo = try await client.call(.get, "\(Self.jobs)/\(crlf)", bearer: token)

            let abort = try #require(try await client.call(.post, Self.jobs, bearer: token, json: Self.upsertJob).json["id"]?.stringValue)
            _ = try await client.upload("EMR_Patient_Id__c,LastName\np-7,G\np-8,H\n", to: "\(Self.jobs)/\(abort)/batches", bearer: token)
            let aborted = try await client.call(.patch, "\(Self.jobs)/\(abort)", bearer: token, json: ["state": "Aborted"])
            let unprocessed = try await client.call(.get, "\(Self.jobs)/\(abort)/unprocessedrecords", bearer: token)
            return (failedInfo, aborted, unprocessed)
        }
        #expect(failedInfo.json["state"] == "Failed")
        #expect(failedInfo.json["errorMessage"]?.stringValue?.contains("LineEnding is invalid on user data") == true)
        #expect(aborted.json["state"] == "Aborted")
        #expect(try BulkCSV.parse(unprocessed.body, delimiter: 0x2C, lineEnding: .lf).rows == [["p-7", "G"], ["p-8", "H"]])
        #expect(world.salesforce.state.withLock { $0.store.records(of: "Contact").isEmpty })
    }

    @Test func aColumnThatIsNoFieldFailsTheJobAndAnUpsertNeedsAnExternalIDField() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 0))
        let (info, refused) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let id = try #require(try await client.call(.post, Self.jobs, bearer: token, json: Self.upsertJob).json["id"]?.stringValue)
            _ = try await client.upload("EMR_Patient_Id__c,Shoe__c\np-1,9\n", to: "\(Self.jobs)/\(id)/batches", bearer: token)
            _ = try await client.call(.patch, "\(Self.jobs)/\(id)", bearer: token, json: ["state": "UploadComplete"])
            _ = try await client.call(.get, "\(Self.jobs)/\(id)", bearer: token)
            let info = try await client.call(.get, "\(Self.jobs)/\(id)", bearer: token)
            let refused = try await client.call(.post, Self.jobs, bearer: token, json: ["object": "Contact", "operation": "upsert"])
            return (info, refused)
        }
        #expect(info.json["state"] == "Failed")
        #expect(info.json["errorMessage"] == "InvalidBatch : Field name not found : Shoe__c")
        #expect(refused.status == 400)
        #expect(refused.json[0]?["errorCode"] == "INVALIDJOB")
    }

    @Test func csvFollowsRFC4180QuotingAndRefusesAnUnterminatedQuote() throws {
        let table = try BulkCSV.parse(Array("a,b\n\"x,1\",\"say \"\"hi\"\"\"\n,\n".utf8), delimiter: 0x2C, lineEnding: .lf)
        #expect(table.header == ["a", "b"])
        #expect(table.rows == [["x,1", "say \"hi\""], ["", ""]])
        #expect(throws: BulkCSV.Malformed.self) { try BulkCSV.parse(Array("a\n\"open\n".utf8), delimiter: 0x2C, lineEnding: .lf) }
        let written = BulkCSV.write(header: ["a"], rows: [["q\"uote"]], delimiter: 0x2C, lineEnding: .lf)
        #expect(String(decoding: written, as: UTF8.self) == "\"a\"\n\"q\"\"uote\"\n")
    }
}

extension TestClientProtocol {
    /// `PUT` of CSV data, as Upload Job Data takes it.
    func upload(_ csv: String, to uri: String, bearer: String) async throws -> Reply {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(bearer)"
        headers[.contentType] = "text/csv"
        return try await execute(uri: uri, method: .put, headers: headers, body: ByteBuffer(string: csv)) { response in
            Reply(status: Int(response.status.code), headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }
}
