import Testing

@testable import Sandbox

/// sObject REST and collections: paging, describe, create/update/upsert, validation, per-record errors.
struct SalesforceRESTTests {
    @Test func queryPagesAtTwoThousandWithANextRecordsUrl() async throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 0))
        for index in 0..<2300 {
            _ = world.salesforce.seedInsert("Contact", values: ["LastName": .string("P\(index)")], actor: "", at: world.clock.now())
        }
        let (first, second) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let first = try await client.call(.get, "/services/data/v60.0/query?q=SELECT+Id+FROM+Contact", bearer: token)
            let next = try #require(first.json["nextRecordsUrl"]?.stringValue)
            return (first, try await client.call(.get, next, bearer: token))
        }
        let total = try #require(first.json["totalSize"]?.intValue)
        #expect(total >= 2300)
        #expect(first.json["done"] == false)
        #expect(first.json["records"]?.arrayValue?.count == 2000)
        #expect(first.json["nextRecordsUrl"]?.stringValue?.wholeMatch(of: /\/services\/data\/v60\.0\/query\/01g\w{12}-2000/) != nil)
        #expect(second.json["done"] == true)
        #expect(second.json["records"]?.arrayValue?.count == total - 2000)
        #expect(second.json["nextRecordsUrl"] == nil)
    }

    @Test func describeReportsTypesPicklistsLengthsAndExternalIDs() async throws {
        let world = TestSandbox.world()
        let reply = try await TestSandbox.salesforce(world) { client in
            try await client.call(.get, "/services/data/v60.0/sobjects/Admission__c/describe", bearer: try await client.salesforceToken())
        }
        let fields = Dictionary(uniqueKeysWithValues: reply.json["fields"]!.arrayValue!.map { ($0["name"]!.stringValue!, $0) })
        #expect(fields["Stage__c"]?["type"] == "picklist")
        #expect(fields["Stage__c"]?["restrictedPicklist"] == true)
        #expect(fields["Stage__c"]?["picklistValues"]?.arrayValue?.map { $0["value"]! }.contains("Ready for Intake") == true)
        #expect(fields["Referral_Source__c"]?["length"] == 120)
        #expect(fields["EMR_ServiceRequest_Id__c"]?["externalId"] == true)
        #expect(fields["Contact__c"]?["relationshipName"] == "Contact__r")
    }

    @Test func fieldLevelSecurityMakesAFieldReadOnlyForTheIntegrationUserInDescribeAndInWrites() async throws {
        let world = TestSandbox.world()
        let (describe, refused, permissions, allowed) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let set = try await client.call(.post, "/_sandbox/permissions", json: ["object": "contact", "field": "phone", "access": "read"])
            #expect(set.json["readOnlyFields"] == ["Contact.Phone"])
            let describe = try await client.call(.get, "/services/data/v60.0/sobjects/Contact/describe", bearer: token)
            let refused = try await client.call(.post, "/services/data/v60.0/sobjects/Contact", bearer: token, json: ["LastName": "Ito", "Phone": "555"])
            let permissions = try await client.call(.get, "/_sandbox/permissions")
            _ = try await client.call(.post, "/_sandbox/permissions", json: ["object": "Contact", "field": "Phone", "access": "edit"])
            let allowed = try await client.call(.post, "/services/data/v60.0/sobjects/Contact", bearer: token, json: ["LastName": "Ito", "Phone": "555"])
            return (describe, refused, permissions, allowed)
        }
        let phone = describe.json["fields"]?.arrayValue?.first { $0["name"] == "Phone" }
        #expect(phone?["createable"] == false)
        #expect(phone?["updateable"] == false)
        let email = describe.json["fields"]?.arrayValue?.first { $0["name"] == "Email" }
        #expect(email?["createable"] == true)
        #expect(refused.status == 400)
        #expect(refused.json[0]?["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE")
        #expect(refused.json[0]?["fields"] == ["Phone"])
        #expect(permissions.json["readOnlyFields"] == ["Contact.Phone"])
        #expect(allowed.status == 201)
        #expect(phone?["defaultedOnCreate"] == false)
    }

    @Test func createGetAndPatchStampTheIntegrationUser() async throws {
        let world = TestSandbox.world()
        let (created, patched, fetched) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let created = try await client.call(
                .post, "/services/data/v60.0/sobjects/Contact", bearer: token,
                json: ["LastName": "Peña", "FirstName": "José", "Email": "jose@example.org"])
            let id = try #require(created.json["id"]?.stringValue)
            let patched = try await client.call(
                .patch, "/services/data/v60.0/sobjects/Contact/\(id)", bearer: token, json: ["Phone": "+1-555-000-1111"])
            let fetched = try await client.call(.get, "/services/data/v60.0/sobjects/Contact/\(id)", bearer: token)
            return (created, patched, fetched)
        }
        #expect(created.status == 201)
        #expect(created.json["id"]?.stringValue?.wholeMatch(of: /003\w{15}/) != nil)
        #expect(patched.status == 204)
        #expect(fetched.json["Name"] == "José Peña")
        #expect(fetched.json["Phone"] == "+1-555-000-1111")
        let integration = try #require(world.salesforce.state.withLock { $0.userIDs[TestSandbox.credentials.salesforceUser.username] })
        #expect(fetched.json["LastModifiedById"] == .string(integration))
        #expect(fetched.json["SystemModstamp"]?.stringValue?.hasSuffix("+0000") == true)
    }

    @Test func upsertByExternalIDCreatesThenUpdatesAndRefusesUnknownFields() async throws {
        let world = TestSandbox.world()
        let statuses = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let path = "/services/data/v60.0/sobjects/Contact/EMR_Patient_Id__c/p-42"
            let first = try await client.call(.patch, path, bearer: token, json: ["LastName": "Müller"])
            let second = try await client.call(.patch, path, bearer: token, json: ["LastName": "Müller-Lang"])
            let unknown = try await client.call(
                .patch, "/services/data/v60.0/sobjects/Contact/Shoe__c/p-42", bearer: token, json: ["LastName": "X"])
            return [first.status, second.status, unknown.status]
        }
        #expect(statuses == [201, 200, 404])
    }

    @Test func upsertAnswers300WhenSeveralRecordsHoldTheExternalID() async throws {
        let world = TestSandbox.world()
        for _ in 0..<2 {
            _ = world.salesforce.seedInsert(
                "Admission__c", values: ["Stage__c": "New", "EMR_ServiceRequest_Id__c": "sr-1"], actor: "", at: world.clock.now())
        }
        let reply = try await TestSandbox.salesforce(world) { client in
            try await client.call(
                .patch, "/services/data/v60.0/sobjects/Admission__c/EMR_ServiceRequest_Id__c/sr-1",
                bearer: try await client.salesforceToken(), json: ["Stage__c": "Admitted"])
        }
        #expect(reply.status == 300)
        #expect(reply.json.arrayValue?.count == 2)
    }

    private func upsert(_ world: SandboxWorld, _ records: [WireJSON], allOrNone: Bool = false, object: String = "Contact", field: String = "EMR_Patient_Id__c") async throws -> Reply {
        try await TestSandbox.salesforce(world) { client in
            try await client.call(
                .patch, "/services/data/v60.0/composite/sobjects/\(object)/\(field)", bearer: try await client.salesforceToken(),
                json: ["allOrNone": .bool(allOrNone), "records": .array(records)])
        }
    }

    @Test func collectionsUpsertValidatesEachRecordOnItsOwn() async throws {
        let world = TestSandbox.world()
        let reply = try await upsert(world, [
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "ok-1", "LastName": "Kowalski", "Gender__c": "Male"],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "long", "LastName": .string(String(repeating: "x", count: 81))],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "gender", "LastName": "A", "Gender__c": "Robot"],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "field", "LastName": "A", "Shoe__c": "9"],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "nolast", "FirstName": "A"],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "date", "LastName": "A", "Birthdate": "1985-13-45"],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "twice", "LastName": "A"],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "twice", "LastName": "B"],
        ])
        let codes = reply.json.arrayValue!.map { $0["errors"]?[0]?["statusCode"]?.stringValue }
        #expect(codes == [nil, "STRING_TOO_LONG", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "INVALID_FIELD",
            "REQUIRED_FIELD_MISSING", "INVALID_TYPE_ON_FIELD_IN_RECORD", "DUPLICATE_EXTERNAL_ID", "DUPLICATE_EXTERNAL_ID"])
        #expect(reply.json[0]?["success"] == true)
        #expect(reply.json[0]?["created"] == true)
        #expect(reply.json[1]?["errors"]?[0]?["fields"] == ["LastName"])
    }

    @Test func aReferenceThroughAnExternalIDMustExist() async throws {
        let world = TestSandbox.world()
        _ = try await upsert(world, [["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "p-1", "LastName": "Ok"]])
        let reply = try await upsert(world, [
            ["attributes": ["type": "Assessment__c"], "EMR_Assessment_Id__c": "a-1", "Contact__r": ["EMR_Patient_Id__c": "p-1"],
             "Instrument__c": "PHQ-9", "Score__c": 12, "Severity__c": "Moderate", "Completed_At__c": "2024-03-01T10:00:00Z"],
            ["attributes": ["type": "Assessment__c"], "EMR_Assessment_Id__c": "a-2", "Contact__r": ["EMR_Patient_Id__c": "nobody"],
             "Instrument__c": "PHQ-9", "Score__c": 3, "Completed_At__c": "2024-03-01T10:00:00Z"],
        ], object: "Assessment__c", field: "EMR_Assessment_Id__c")
        #expect(reply.json[0]?["success"] == true)
        #expect(reply.json[1]?["errors"]?[0]?["statusCode"] == "INVALID_FIELD")
        #expect(reply.json[1]?["errors"]?[0]?["message"]?.stringValue?.contains("Foreign key external ID") == true)
    }

    @Test func allOrNoneRollsBackEveryRecordWhenOneFails() async throws {
        let world = TestSandbox.world()
        let before = world.salesforce.recordCounts["Contact"]
        let reply = try await upsert(world, [
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "r-1", "LastName": "Fine"],
            ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": "r-2"],
        ], allOrNone: true)
        #expect(reply.json[0]?["errors"]?[0]?["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK")
        #expect(reply.json[1]?["errors"]?[0]?["statusCode"] == "REQUIRED_FIELD_MISSING")
        #expect(world.salesforce.recordCounts["Contact"] == before)
    }

    @Test func moreThanTwoHundredRecordsAreRejectedWhole() async throws {
        let world = TestSandbox.world()
        let records: [WireJSON] = (0..<201).map { ["attributes": ["type": "Contact"], "EMR_Patient_Id__c": .string("x\($0)"), "LastName": "A"] }
        let reply = try await upsert(world, records)
        #expect(reply.status == 400)
        #expect(reply.json[0]?["errorCode"] == "EXCEEDED_ID_LIMIT")
    }

    @Test func collectionsUpdateWritesExternalIDsBackBySalesforceID() async throws {
        let world = TestSandbox.world()
        let contact = try #require(world.salesforce.store.records(of: "Contact").first)
        let reply = try await TestSandbox.salesforce(world) { client in
            try await client.call(
                .patch, "/services/data/v60.0/composite/sobjects", bearer: try await client.salesforceToken(),
                json: ["allOrNone": false, "records": [
                    ["attributes": ["type": "Contact"], "Id": .string(contact.id), "EMR_Patient_Id__c": "emr-77"],
                    ["attributes": ["type": "Contact"], "Id": "003000000000000AAA", "EMR_Patient_Id__c": "emr-78"],
                ]])
        }
        #expect(reply.json[0]?["success"] == true)
        #expect(reply.json[1]?["success"] == false)
        #expect(world.salesforce.store.records[contact.id]?["EMR_Patient_Id__c"] == "emr-77")
        #expect(world.ledger.history(.salesforce, "Contact", contact.id).last?.endpoint == .salesforceCollections)
    }
}
