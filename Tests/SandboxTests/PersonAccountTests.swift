import Testing

@testable import Sandbox

/// Health Cloud's Person Accounts in the Salesforce simulator, as Salesforce documents them
/// (``PersonAccounts``): an Account of a person record type with a person contact behind it.
struct PersonAccountTests {
    /// An org whose mapping keeps patients as person accounts (custom fields named `…__pc` on Account).
    static func world(patients: Int = 0) -> SandboxWorld {
        var configuration = TestSandbox.configuration(patients: patients)
        configuration.customFields = [
            CustomFieldSpec(object: "Account", name: "EMR_Patient_Id__pc", maxLength: 64, externalId: true, unique: true),
            CustomFieldSpec(object: "Account", name: "Gender__pc", type: .picklist, values: ["Male", "Female"]),
            CustomFieldSpec(object: "Assessment__c", name: "EMR_Assessment_Id__c", maxLength: 64, externalId: true, unique: true),
            CustomFieldSpec(object: "Assessment__c", name: "Account__c", type: .reference, referenceTo: "Account"),
        ]
        configuration.people = .personAccounts
        return TestSandbox.world(configuration)
    }

    static let api = "/services/data/v60.0"

    @Test func aCustomContactFieldShowsOnAccountAsPcAndDescribeShowsThePersonFields() async throws {
        let world = Self.world()
        let (account, contact) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            return (
                try await client.call(.get, "\(Self.api)/sobjects/Account/describe", bearer: token),
                try await client.call(.get, "\(Self.api)/sobjects/Contact/describe", bearer: token)
            )
        }
        let fields = Dictionary(uniqueKeysWithValues: account.json["fields"]!.arrayValue!.map { ($0["name"]!.stringValue!, $0) })
        #expect(fields["EMR_Patient_Id__pc"]?["externalId"] == true)
        #expect(fields["EMR_Patient_Id__pc"]?["unique"] == true)
        #expect(fields["EMR_Patient_Id__pc"]?["length"] == 64)
        #expect(fields["Gender__pc"]?["type"] == "picklist")
        #expect(fields["PersonBirthdate"]?["type"] == "date")
        #expect(fields["PersonEmail"]?["type"] == "email")
        #expect(fields["PersonMailingStreet"]?["type"] == "textarea")
        #expect(fields["IsPersonAccount"]?["createable"] == false)
        #expect(fields["PersonContactId"]?["referenceTo"] == ["Contact"])
        #expect(fields["PersonContactId"]?["updateable"] == false)
        #expect(fields["RecordTypeId"]?["referenceTo"] == ["RecordType"])
        let contactFields = Set(contact.json["fields"]!.arrayValue!.compactMap { $0["name"]?.stringValue })
        #expect(contactFields.isSuperset(of: ["EMR_Patient_Id__c", "Gender__c", "AccountId", "IsPersonAccount"]))
        #expect(!contactFields.contains("EMR_Patient_Id__pc"))
    }

    @Test func upsertByAPcExternalIDCreatesAPersonAccountWithItsPersonContact() async throws {
        let world = Self.world()
        let (types, created, again, account, contact) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let types = try await client.call(
                .get, "\(Self.api)/query?q=SELECT+Id,IsPersonType+FROM+RecordType+WHERE+SobjectType+=+'Account'+AND+DeveloperName+=+'PersonAccount'",
                bearer: token)
            let recordType = try #require(types.json["records"]?[0]?["Id"]?.stringValue)
            let body: WireJSON = [
                "RecordTypeId": .string(recordType), "FirstName": "Ana", "LastName": "Peña", "PersonBirthdate": "1980-02-03",
                "Gender__pc": "Female",
            ]
            let created = try await client.call(.patch, "\(Self.api)/sobjects/Account/EMR_Patient_Id__pc/p-1", bearer: token, json: body)
            let again = try await client.call(
                .patch, "\(Self.api)/sobjects/Account/EMR_Patient_Id__pc/p-1", bearer: token, json: ["PersonEmail": "ana@example.org"])
            let id = try #require(created.json["id"]?.stringValue)
            let account = try await client.call(.get, "\(Self.api)/sobjects/Account/\(id)", bearer: token)
            let contactID = try #require(account.json["PersonContactId"]?.stringValue)
            let contact = try await client.call(.get, "\(Self.api)/sobjects/Contact/\(contactID)", bearer: token)
            return (types, created, again, account, contact)
        }
        #expect(types.json["records"]?[0]?["IsPersonType"] == true)
        #expect(created.status == 201)
        #expect(again.status == 200)
        #expect(account.json["IsPersonAccount"] == true)
        #expect(account.json["Name"] == "Ana Peña")
        #expect(account.json["EMR_Patient_Id__pc"] == "p-1")
        #expect(account.json["PersonEmail"] == "ana@example.org")
        // The person contact holds the same person under the Contact names.
        #expect(contact.json["IsPersonAccount"] == true)
        #expect(contact.json["AccountId"] == account.json["Id"])
        #expect(contact.json["LastName"] == "Peña")
        #expect(contact.json["Birthdate"] == "1980-02-03")
        #expect(contact.json["EMR_Patient_Id__c"] == "p-1")
        #expect(contact.json["Email"] == "ana@example.org")
        #expect(contact.json["Gender__c"] == "Female")
    }

    @Test func aPersonAccountRefusesNameAndNeedsALastNameAndABusinessAccountRefusesPersonFields() async throws {
        let world = Self.world()
        let recordType = try #require(world.salesforce.store.recordTypeID(developerName: "PersonAccount"))
        let (named, nameless, business, businessOK) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            return (
                try await client.call(
                    .post, "\(Self.api)/sobjects/Account", bearer: token,
                    json: ["RecordTypeId": .string(recordType), "Name": "Ana Peña", "LastName": "Peña"]),
                try await client.call(.post, "\(Self.api)/sobjects/Account", bearer: token, json: ["RecordTypeId": .string(recordType), "FirstName": "Ana"]),
                try await client.call(.post, "\(Self.api)/sobjects/Account", bearer: token, json: ["Name": "Acme Clinic", "PersonBirthdate": "1980-02-03"]),
                try await client.call(.post, "\(Self.api)/sobjects/Account", bearer: token, json: ["Name": "Acme Clinic"])
            )
        }
        #expect(named.status == 400)
        #expect(named.json[0]?["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE")
        #expect(named.json[0]?["message"] == "Account: bad field names on insert/update call: Name")
        #expect(nameless.json[0]?["errorCode"] == "REQUIRED_FIELD_MISSING")
        #expect(nameless.json[0]?["fields"] == ["LastName"])
        #expect(business.json[0]?["fields"] == ["PersonBirthdate"])
        #expect(businessOK.status == 201)
        let businessAccount = try #require(world.salesforce.store.records(of: "Account").first)
        #expect(businessAccount["IsPersonAccount"] == false)
        #expect(businessAccount["PersonContactId"] == .null)
        #expect(world.salesforce.store.records(of: "Contact").isEmpty)
    }

    @Test func thePersonContactIsReadOnlyThroughTheContactAPI() async throws {
        let world = Self.world(patients: 0)
        let recordType = try #require(world.salesforce.store.recordTypeID(developerName: "PersonAccount"))
        let (update, delete) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            let created = try await client.call(
                .post, "\(Self.api)/sobjects/Account", bearer: token, json: ["RecordTypeId": .string(recordType), "LastName": "Ito"])
            let id = try #require(created.json["id"]?.stringValue)
            let contactID = try #require(world.salesforce.store.records[id]?["PersonContactId"].stringValue)
            return (
                try await client.call(.patch, "\(Self.api)/sobjects/Contact/\(contactID)", bearer: token, json: ["LastName": "Sato"]),
                try await client.call(.delete, "\(Self.api)/sobjects/Contact/\(contactID)", bearer: token)
            )
        }
        #expect(update.status == 400)
        #expect(update.json[0]?["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY")
        #expect(delete.json[0]?["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY")
        #expect(world.salesforce.store.records(of: "Contact").first?["LastName"] == "Ito")
    }

    @Test func childRecordsReferenceThePersonAccountByItsPcExternalID() async throws {
        let world = Self.world()
        let recordType = try #require(world.salesforce.store.recordTypeID(developerName: "PersonAccount"))
        let (linked, dangling) = try await TestSandbox.salesforce(world) { client in
            let token = try await client.salesforceToken()
            _ = try await client.call(
                .patch, "\(Self.api)/sobjects/Account/EMR_Patient_Id__pc/p-9", bearer: token,
                json: ["RecordTypeId": .string(recordType), "LastName": "Okafor"])
            let records: WireJSON = [
                "allOrNone": false,
                "records": [
                    ["attributes": ["type": "Assessment__c"], "EMR_Assessment_Id__c": "a-1", "Account__r": ["EMR_Patient_Id__pc": "p-9"]],
                    ["attributes": ["type": "Assessment__c"], "EMR_Assessment_Id__c": "a-2", "Account__r": ["EMR_Patient_Id__pc": "p-404"]],
                ],
            ]
            let reply = try await client.call(.patch, "\(Self.api)/composite/sobjects/Assessment__c/EMR_Assessment_Id__c", bearer: token, json: records)
            return (reply.json[0], reply.json[1])
        }
        #expect(linked?["success"] == true)
        #expect(dangling?["success"] == false)
        let account = try #require(world.salesforce.store.records(of: "Account").first)
        #expect(world.salesforce.store.records(of: "Assessment__c").first?["Account__c"].stringValue == account.id)
    }

    @Test func deletingAPersonAccountDeletesItsPersonContact() throws {
        let world = Self.world(patients: 20)
        let account = try #require(world.salesforce.store.records(of: "Account").first)
        let contactID = try #require(account["PersonContactId"].stringValue)
        try world.salesforce.delete("Account", id: account.id, actor: "tester", endpoint: nil)
        #expect(world.salesforce.store.liveRecord(account.id) == nil)
        #expect(world.salesforce.store.liveRecord(contactID) == nil)
    }

    @Test func theSeedMakesReferralsAsPersonAccountsWithAdmissionsLookingThemUp() throws {
        let world = Self.world(patients: 40)
        let accounts = world.salesforce.store.records(of: "Account")
        #expect(!accounts.isEmpty)
        #expect(accounts.allSatisfy { $0["IsPersonAccount"] == true && $0["PersonContactId"].stringValue != nil && $0["LastName"].stringValue != nil })
        let ids = Set(accounts.map(\.id))
        let admissions = world.salesforce.store.records(of: "Admission__c").compactMap { $0["Account__c"].stringValue }
        #expect(!admissions.isEmpty)
        #expect(admissions.allSatisfy(ids.contains))
        #expect(world.truth.contains { $0.type == "Account" })
    }
}
