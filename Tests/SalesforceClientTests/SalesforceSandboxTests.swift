import Foundation
import Sandbox
import StagelinkEngine
import StagelinkTestSupport
import Testing

@testable import SalesforceClient

/// The client against the Salesforce simulator over real HTTP on loopback.
@Suite(.timeLimit(.minutes(1)))
struct SalesforceSandboxTests {
    static func contact(_ index: Int, lastName: String? = nil) -> TargetRecord {
        TargetRecord(fields: [
            MappedField(name: "EMR_Patient_Id__c", value: .text("emr-\(index)")),
            MappedField(name: "FirstName", value: .text("Test")),
            MappedField(name: "LastName", value: .text(lastName ?? "Person \(index)")),
            MappedField(name: "Gender__c", value: .text("Unknown")),
        ])
    }

    @Test func theJWTBearerFlowNamesTheIntegrationUser() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce(.jwtBearer)
            let expected = harness.sandbox.inspection.userID(harness.credentials.salesforceUser.username)
            #expect(try await salesforce.integrationUserID() == expected)
            #expect(harness.sandbox.inspection.counts().calls[.salesforceToken] == 1)
        }
    }

    @Test func theClientCredentialsFlowWorksToo() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce(.clientCredentials)
            let results = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [Self.contact(1)])
            #expect(results.count == 1)
            #expect(try await salesforce.integrationUserID().hasPrefix("005"))
        }
    }

    @Test func upsertsGoTwoHundredACallAndKeepCreatedApart() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            let records = (0..<450).map { Self.contact($0) }
            let first = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
            #expect(first.count == 450)
            #expect(first.allSatisfy { if case .success(_, true) = $0 { true } else { false } })
            #expect(harness.sandbox.inspection.counts().calls[.salesforceCollections] == 3)
            let second = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: records)
            #expect(second.allSatisfy { if case .success(_, false) = $0 { true } else { false } })
            #expect(zip(first, second).allSatisfy { pair in
                if case .success(let a, _) = pair.0, case .success(let b, _) = pair.1 { return a == b }
                return false
            })
        }
    }

    @Test func aRecordSalesforceRefusesFailsAloneWithItsErrorAndBody() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            let tooLong = Self.contact(2, lastName: String(repeating: "x", count: 81))
            let results = try await salesforce.upsert(
                object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [Self.contact(1), tooLong, Self.contact(3)])
            guard case .failure(let error) = results[1] else {
                Issue.record("the oversize name was accepted")
                return
            }
            #expect(error.code == "STRING_TOO_LONG")
            #expect(error.fields == ["LastName"])
            #expect(error.remoteBody?.contains(#""success":false"#) == true)
            #expect(results[0] != results[1] && results[2] != results[1])
            if case .success = results[0], case .success = results[2] {} else { Issue.record("the good records failed") }
        }
    }

    @Test func dottedFieldsReferenceTheParentByItsExternalID() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            let contact = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [Self.contact(7)])
            guard case .success(let contactID, _) = contact[0] else { throw Failure("no contact") }
            let assessment = TargetRecord(fields: [
                MappedField(name: "EMR_Assessment_Id__c", value: .text("qr-7")),
                MappedField(name: "Contact__r.EMR_Patient_Id__c", value: .text("emr-7")),
                MappedField(name: "Instrument__c", value: .text("PHQ-9")),
                MappedField(name: "Score__c", value: .number("12")),
                MappedField(name: "Completed_At__c", value: .text("2026-11-20T10:00:00.000Z")),
            ])
            let results = try await salesforce.upsert(object: "Assessment__c", externalIDField: "EMR_Assessment_Id__c", records: [assessment])
            guard case .success(let id, true) = results[0] else { throw Failure("assessment not created: \(results[0])") }
            let stored = harness.sandbox.inspection.salesforceRecord("Assessment__c", id: id)
            #expect(stored?["Contact__c"]?.stringValue == contactID)
        }
    }

    @Test func updatesByIDWriteBackTheEMRsIdentifier() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            let created = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [Self.contact(8)])
            guard case .success(let id, _) = created[0] else { throw Failure("no contact") }
            let results = try await salesforce.update(
                object: "Contact", records: [TargetRecordUpdate(id: id, fields: [MappedField(name: "EMR_Patient_Id__c", value: .text("emr-8b"))])])
            #expect(results == [.success(id: id, created: false)])
            #expect(harness.sandbox.inspection.salesforceRecord("Contact", id: id)?["EMR_Patient_Id__c"]?.stringValue == "emr-8b")
        }
    }

    @Test func aDeltaPullPagesThroughEveryChangeOldestFirstWithExactBytes() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            _ = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: (0..<450).map { Self.contact($0) })
            let request = DeltaRequest(resourceType: "Contact", since: nil, fields: ["LastName", "EMR_Patient_Id__c"], pageSize: 200)
            var records: [IncomingRecord] = []
            var cursor: PageCursor?
            var pages = 0
            repeat {
                let page = try await salesforce.page(request, after: cursor)
                records += page.records
                cursor = page.next
                pages += 1
            } while cursor != nil
            // The first page holds the 200 asked for; the simulator sizes later pages itself.
            #expect(pages >= 2)
            #expect(records.count > 400)
            #expect(records.count == harness.sandbox.inspection.salesforceRecords("Contact").count)
            #expect(Set(records.map(\.sourceID)).count == records.count)
            let stamps = records.compactMap(\.lastUpdated)
            #expect(stamps.count == records.count)
            #expect(stamps == stamps.sorted())
            let sample = try StagelinkEngine.JSONValue(parsing: records[0].payload)
            #expect(sample["Id"]?.stringValue == records[0].sourceID)
            #expect(sample["LastModifiedById"]?.stringValue != nil)
        }
    }

    @Test func aDeltaPullFromAMomentSkipsOlderRecords() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            let all = try await salesforce.page(DeltaRequest(resourceType: "Contact", since: nil, fields: [], pageSize: 200), after: nil)
            try await Task.sleep(for: .milliseconds(1100))
            let since = Date()
            let upserted = try await salesforce.upsert(
                object: "Contact", externalIDField: "EMR_Patient_Id__c", records: (0..<5).map { Self.contact($0) })
            let changed = try await salesforce.page(DeltaRequest(resourceType: "Contact", since: since, fields: [], pageSize: 200), after: nil)
            // SOQL datetimes have whole seconds: the query starts at the second `since` falls in.
            let floor = Date(timeIntervalSince1970: since.timeIntervalSince1970.rounded(.down))
            #expect(changed.records.allSatisfy { ($0.lastUpdated ?? .distantPast) >= floor })
            #expect(changed.records.count < all.records.count + 5)
            let ids = upserted.compactMap { if case .success(let id, _) = $0 { id } else { nil } }
            #expect(Set(ids).isSubset(of: changed.records.map(\.sourceID)))
        }
    }

    @Test func anOverlapWindowIsListedByIdAndStampAndItsRecordsFetchedById() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            let ids = { (results: [RecordResult]) in results.compactMap { if case .success(let id, _) = $0 { id } else { nil } } }
            // Whole seconds apart: SOQL datetimes have whole seconds.
            try await Task.sleep(for: .milliseconds(1100))
            let since = Date()
            let inside = ids(try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: (0..<5).map { Self.contact($0) }))
            let through = Date()
            try await Task.sleep(for: .milliseconds(1100))
            let after = ids(try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: (5..<8).map { Self.contact($0) }))
            let request = DeltaRequest(resourceType: "Contact", since: since, fields: ["LastName", "EMR_Patient_Id__c"], pageSize: 200)

            let listing = try #require(salesforce.overlapListing)
            let listed = try await listing.changes(request, before: listing.windowEnd(through: through), after: nil)
            #expect(listed.next == nil)
            #expect(listed.total == 5, "the window's count, from totalSize")
            #expect(listed.records.map(\.lastUpdated) == listed.records.map(\.lastUpdated).sorted { ($0 ?? .distantPast) < ($1 ?? .distantPast) }, "oldest first")
            #expect(Set(listed.records.map(\.sourceID)) == Set(inside))
            #expect(Set(listed.records.map(\.sourceID)).isDisjoint(with: after))
            #expect(listed.records.allSatisfy { $0.lastUpdated != nil })
            let listedFields = try StagelinkEngine.JSONValue(parsing: listed.records[0].payload).objectValue?.keys ?? []
            #expect(listedFields.contains("SystemModstamp"))
            #expect(!listedFields.contains("LastName"), "a listing carries ids and stamps, not the record")

            let fetched = try await listing.records(request, ids: Array(inside.prefix(2)))
            #expect(Set(fetched.map(\.sourceID)) == Set(inside.prefix(2)))
            #expect(try fetched.allSatisfy { try StagelinkEngine.JSONValue(parsing: $0.payload)["LastName"]?.stringValue?.hasPrefix("Person") == true })
            #expect(fetched.map(\.lastUpdated) == fetched.map { record in listed.records.first { $0.sourceID == record.sourceID }?.lastUpdated })
        }
    }

    @Test func aNameWithAQuoteIsQueriedSafely() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            _ = try await salesforce.upsert(
                object: "Contact", externalIDField: "EMR_Patient_Id__c",
                records: [Self.contact(1, lastName: "O'Brien"), Self.contact(2, lastName: #"Back\slash"#), Self.contact(3, lastName: "Brien")])
            for name in ["O'Brien", #"Back\slash"#] {
                let query = try SOQLQuery(select: ["Id", "LastName"], from: "Contact").where("LastName", .equals, .string(name))
                let page = try await salesforce.query(query, pageSize: 200, after: nil)
                #expect(page.records.count == 1)
                #expect(try StagelinkEngine.JSONValue(parsing: page.records[0].payload)["LastName"]?.stringValue == name)
            }
            let injection = try SOQLQuery(select: ["Id"], from: "Contact").where("LastName", .equals, .string("x' OR LastName != '"))
            #expect(try await salesforce.query(injection, pageSize: 200, after: nil).records.isEmpty)
        }
    }

    @Test func aLookupByIDFindsTheRecordOrNothing() async throws {
        try await SandboxHarness.with { harness in
            let salesforce = try await harness.salesforce()
            let created = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [Self.contact(4)])
            guard case .success(let id, _) = created[0] else { throw Failure("no contact") }
            let found = try await salesforce.record(type: "Contact", id: id, fields: ["LastName"])
            #expect(found?.sourceID == id)
            #expect(found?.system == .salesforce)
            #expect(try await salesforce.record(type: "Contact", id: "003000000000000AAA", fields: []) == nil)
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
