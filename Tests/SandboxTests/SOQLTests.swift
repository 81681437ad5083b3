import Testing

@testable import Sandbox

/// The SOQL subset, run straight against an org: answers it can give, and refusals for everything else.
struct SOQLTests {
    let world: SandboxWorld = {
        var configuration = TestSandbox.configuration(patients: 8, badShare: 0.5)
        configuration.referralCount = 6
        return TestSandbox.world(configuration)
    }()

    private func query(_ soql: String) throws(SalesforceAPIError) -> WireJSON {
        try world.salesforce.query(soql, apiVersion: "v60.0", pageSize: nil)
    }

    private func errorCode(_ soql: String) -> String? {
        do {
            _ = try query(soql)
            return nil
        } catch {
            return error.body[0]?["errorCode"]?.stringValue
        }
    }

    @Test func parentRelationshipFieldsAreNestedUnderTheRelationshipName() throws {
        let result = try query(
            "SELECT Id, Stage__c, Contact__r.LastName, Contact__r.Email FROM Admission__c WHERE Contact__c != null LIMIT 1")
        let record = try #require(result["records"]?[0])
        #expect(record["attributes"]?["type"] == "Admission__c")
        #expect(record["attributes"]?["url"]?.stringValue?.hasPrefix("/services/data/v60.0/sobjects/Admission__c/a0B") == true)
        #expect(record["Contact__r"]?["attributes"]?["type"] == "Contact")
        #expect(record["Contact__r"]?["LastName"]?.stringValue?.isEmpty == false)
        #expect(record["Contact__r"]?.objectValue?.keys == ["attributes", "LastName", "Email"])
    }

    @Test func anAdmissionWithoutContactHasANullRelationship() throws {
        let result = try query("SELECT Id, Contact__r.LastName FROM Admission__c WHERE Contact__c = null")
        #expect(result["totalSize"]?.intValue ?? 0 >= 1)
        #expect(result["records"]?[0]?["Contact__r"] == .null)
    }

    @Test func whereOperatorsAndDatetimeLiteralsFilterAsAnOrgWould() throws {
        let all = try query("SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp ASC")
        let stamps = all["records"]!.arrayValue!.map { $0["SystemModstamp"]!.stringValue! }
        #expect(stamps == stamps.sorted())
        let middle = try #require(SandboxInstant(iso8601: stamps[stamps.count / 2]))
        let later = try query("SELECT Id FROM Contact WHERE SystemModstamp > \(middle.fhirInstant)")
        #expect(later["totalSize"]?.intValue == stamps.count - stamps.count / 2 - 1)
        let atOrLater = try query("SELECT COUNT() FROM Contact WHERE SystemModstamp >= \(middle.fhirInstant)")
        #expect(atOrLater["totalSize"]?.intValue == stamps.count - stamps.count / 2)
        let staged = try query(
            "SELECT Id FROM Admission__c WHERE Stage__c IN ('New', 'Screening') OR Stage__c = 'Ready for Intake'")
        let notStaged = try query("SELECT Id FROM Admission__c WHERE Stage__c NOT IN ('New', 'Screening', 'Ready for Intake')")
        let total = try query("SELECT COUNT() FROM Admission__c")
        #expect(staged["totalSize"]!.intValue! + notStaged["totalSize"]!.intValue! == total["totalSize"]!.intValue!)
    }

    /// A delta query (`WHERE SystemModstamp >= …`) reads the org's `SystemModstamp` index, not
    /// every record: the answer must be the one a full scan gives.
    @Test func aDeltaQueryReturnsExactlyTheRecordsChangedSinceItsBoundInStampOrderAcrossPages() throws {
        var configuration = TestSandbox.configuration(patients: 1)
        configuration.referralCount = 500
        let world = TestSandbox.world(configuration)
        let contacts = world.salesforce.store.records(of: "Contact").map(\.id)
        try #require(contacts.count >= 500)
        world.clock.advance(by: .seconds(1))
        let since = world.clock.now()
        // Every other Contact changes, newest first (not in creation order); one of them twice.
        var changed = contacts.reversed().enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let user = world.salesforce.user(named: "ops@example.com", displayName: "Ops")
        for id in changed + [changed[3]] {
            world.clock.advance(by: .milliseconds(1))
            try world.salesforce.update("Contact", id: id, body: ["Phone": "555-0100"], actor: user, endpoint: nil)
        }
        let twice = changed.remove(at: 3)
        changed.append(twice)

        func allPages(_ soql: String) throws -> (total: Int?, ids: [String]) {
            var page = try world.salesforce.query(soql, apiVersion: "v60.0", pageSize: 200)
            let total = page["totalSize"]?.intValue
            var ids = page["records"]?.arrayValue?.compactMap { $0["Id"]?.stringValue } ?? []
            while let next = page["nextRecordsUrl"]?.stringValue {
                page = try world.salesforce.queryMore(String(next.split(separator: "/").last!), apiVersion: "v60.0")
                ids += page["records"]?.arrayValue?.compactMap { $0["Id"]?.stringValue } ?? []
            }
            return (total, ids)
        }
        let delta = try allPages("SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp >= \(since.fhirInstant) ORDER BY SystemModstamp ASC")
        #expect(delta.total == changed.count)
        #expect(delta.ids == changed)
        // Without ORDER BY, creation order, as a scan of every Contact (`NOT … <` reads them all) answers.
        let unordered = try allPages("SELECT Id FROM Contact WHERE SystemModstamp >= \(since.fhirInstant) AND Phone = '555-0100'")
        let scanned = try allPages("SELECT Id FROM Contact WHERE NOT SystemModstamp < \(since.fhirInstant)")
        #expect(unordered.ids == contacts.filter(Set(changed).contains))
        #expect(scanned.ids == unordered.ids)
        // `>` leaves out a record stamped exactly at the bound.
        let stamp = world.salesforce.store.records(of: "Contact").first { $0.id == changed[0] }?["SystemModstamp"].stringValue
        let first = try #require(stamp.flatMap(SandboxInstant.init(iso8601:)))
        #expect(try allPages("SELECT Id FROM Contact WHERE SystemModstamp > \(first.fhirInstant) ORDER BY SystemModstamp").ids == Array(changed.dropFirst()))
        // A window (`>= … AND < …`, or `<=`) reads the index between its bounds only: the records
        // stamped there, as a scan of every Contact finds them.
        let hundredth = world.salesforce.store.records(of: "Contact").first { $0.id == changed[100] }?["SystemModstamp"].stringValue
        let bound = try #require(hundredth.flatMap(SandboxInstant.init(iso8601:)))
        let window = "SystemModstamp >= \(since.fhirInstant) AND SystemModstamp"
        #expect(try allPages("SELECT Id FROM Contact WHERE \(window) < \(bound.fhirInstant) ORDER BY SystemModstamp").ids == Array(changed.prefix(100)))
        #expect(try allPages("SELECT Id FROM Contact WHERE \(window) <= \(bound.fhirInstant) ORDER BY SystemModstamp").ids == Array(changed.prefix(101)))
        #expect(
            try allPages("SELECT Id FROM Contact WHERE NOT SystemModstamp < \(since.fhirInstant) AND NOT SystemModstamp >= \(bound.fhirInstant)").ids
                == contacts.filter(Set(changed.prefix(100)).contains))
    }

    @Test func stringComparisonIgnoresCaseAsSOQLDoes() throws {
        let name = try #require(try query("SELECT LastName FROM Contact LIMIT 1")["records"]?[0]?["LastName"]?.stringValue)
        let result = try query("SELECT Id FROM Contact WHERE LastName = '\(name.uppercased())'")
        #expect(result["totalSize"]?.intValue ?? 0 >= 1)
    }

    @Test func orderByDescendingWithLimit() throws {
        let result = try query("SELECT Name FROM Admission__c ORDER BY Name DESC LIMIT 3")
        let names = result["records"]!.arrayValue!.map { $0["Name"]!.stringValue! }
        #expect(names.count == 3)
        #expect(names == names.sorted(by: >))
    }

    /// Nulls go where `NULLS FIRST` / `LAST` says, text sorts without regard to case, and a second
    /// ordering breaks the first's ties (each record's keys are read once, then sorted).
    @Test(arguments: [true, false])
    func orderByPlacesNullsAsAskedAndSortsTextWithoutCase(nullsFirst: Bool) throws {
        let soql = "SELECT Name, Contact__c FROM Admission__c ORDER BY Contact__c NULLS \(nullsFirst ? "FIRST" : "LAST"), Name DESC"
        let records = try #require(try query(soql)["records"]?.arrayValue)
        let rows = records.map { (contact: $0["Contact__c"]?.stringValue, name: $0["Name"]?.stringValue?.lowercased() ?? "") }
        #expect(rows.contains { $0.contact == nil } && rows.contains { $0.contact != nil }, "\(rows)")
        let nulls = rows.indices.filter { rows[$0].contact == nil }
        #expect(nulls == (nullsFirst ? Array(0..<nulls.count) : Array((rows.count - nulls.count)..<rows.count)))
        let valued = rows.filter { $0.contact != nil }
        #expect(valued.map(\.contact!) == valued.map(\.contact!).sorted())
        for (earlier, later) in zip(rows, rows.dropFirst()) where earlier.contact == later.contact {
            #expect(earlier.name >= later.name, "ties broken by Name DESC, without regard to case")
        }
    }

    @Test(arguments: [
        "SELECT FROM Contact",
        "SELECT Id FROM Contact WHERE",
        "SELECT Id FROM Contact WHERE LastName = 'a' AND Phone = 'b' OR Email = 'c'",
        "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS:30",
        "SELECT Id FROM Contact GROUP BY LastName",
        "SELECT COUNT(Id) FROM Contact",
        "SELECT Id, (SELECT Id FROM Admissions__r) FROM Contact",
        "SELECT Id FROM Contact LIMIT ten",
        "SELECT Contact__r.Account.Name FROM Admission__c",
    ])
    func whatTheSubsetCannotReadIsAMalformedQuery(_ soql: String) {
        #expect(errorCode(soql) == "MALFORMED_QUERY")
    }

    @Test func unknownNamesAndMistypedLiteralsAreRefusedNotAnsweredWrongly() {
        #expect(errorCode("SELECT Shoe_Size__c FROM Contact") == "INVALID_FIELD")
        #expect(errorCode("SELECT Id FROM Patient__c") == "INVALID_TYPE")
        #expect(errorCode("SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01'") == "INVALID_FIELD")
        #expect(errorCode("SELECT Id FROM Contact WHERE Birthdate > 2024-01-01T00:00:00Z") == "INVALID_FIELD")
        #expect(errorCode("SELECT Foo__r.Name FROM Admission__c") == "INVALID_FIELD")
    }
}
