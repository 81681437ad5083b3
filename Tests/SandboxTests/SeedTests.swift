import Testing

@testable import Sandbox

/// The seed: deterministic, realistic, with every kind of bad record and the truth about each.
struct SeedTests {
    @Test func theSameSeedMakesTheSameRecords() {
        let first = TestSandbox.world(TestSandbox.configuration(patients: 30, badShare: 0.2, seed: 3))
        let second = TestSandbox.world(TestSandbox.configuration(patients: 30, badShare: 0.2, seed: 3))
        let other = TestSandbox.world(TestSandbox.configuration(patients: 30, badShare: 0.2, seed: 4))
        func names(_ world: SandboxWorld) -> [WireJSON?] { world.emr.entries("Patient").map { $0.resource["name"] } }
        #expect(first.truth == second.truth)
        #expect(names(first) == names(second))
        #expect(names(first) != names(other))
    }

    @Test func everyBadKindAppearsWhenTheShareIsAboveZeroAndNoneAtZero() {
        let bad = TestSandbox.world(TestSandbox.configuration(patients: 40, badShare: 0.01))
        #expect(Set(bad.truth.compactMap(\.fault?.kind)) == Set(BadRecordKind.allCases))
        let clean = TestSandbox.world(TestSandbox.configuration(patients: 40, badShare: 0))
        #expect(clean.truth.allSatisfy { $0.isGood })
    }

    @Test func badRecordsAreBadInTheWayTheTruthSays() throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 40, badShare: 0.2))
        for record in world.truth {
            guard let fault = record.fault else { continue }
            switch fault.kind {
            case .invalidBirthDate:
                #expect(world.emr.entry("Patient", record.id)?.resource["birthDate"] == "1985-13-45")
            case .partialBirthDate:
                #expect(world.emr.entry("Patient", record.id)?.resource["birthDate"]?.stringValue?.count == 7)
            case .missingFamilyName:
                #expect(world.emr.entry("Patient", record.id)?.resource["name"]?[0]?["family"] == nil)
            case .oversizeName:
                #expect((world.emr.entry("Patient", record.id)?.resource["name"]?[0]?["family"]?.stringValue?.count ?? 0) > 80)
            case .unknownGender:
                let gender = world.emr.entry("Patient", record.id)?.resource["gender"]?.stringValue ?? ""
                #expect(!["male", "female", "other", "unknown"].contains(gender))
            case .danglingPatientReference:
                let subject = world.emr.entry("QuestionnaireResponse", record.id)!.resource["subject"]!["reference"]!.stringValue!
                #expect(world.emr.entry("Patient", FHIRSearch.patientID(subject)) == nil)
            case .scoreOutOfRange:
                let items = world.emr.entry("QuestionnaireResponse", record.id)!.resource["item"]!.arrayValue!
                #expect(items.contains { ($0["answer"]?[0]?["valueInteger"]?.intValue ?? 0) > 3 })
            case .admissionWithoutContact:
                let admission = world.salesforce.store.records[record.id]!
                #expect(admission["Stage__c"] == "Ready for Intake")
                #expect(admission["Contact__c"].isNull)
            }
        }
    }

    @Test func goodResponsesCarryTheirInstrumentsCorrectTotal() {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 30))
        let responses = world.emr.entries("QuestionnaireResponse").map(\.resource)
        #expect(!responses.isEmpty)
        for response in responses {
            let instrument = SurveyInstrument.all.first { $0.url == response["questionnaire"]?.stringValue }!
            var answers: [String: Int] = [:]
            for item in response["item"]!.arrayValue! {
                answers[item["linkId"]!.stringValue!] = item["answer"]![0]!["valueInteger"]!.intValue!
            }
            let total = answers.removeValue(forKey: instrument.totalCode)
            #expect(answers.count == instrument.itemCodes.count)
            #expect(answers.values.allSatisfy { (0...3).contains($0) })
            #expect(total == answers.values.reduce(0, +))
        }
    }

    @Test func namesIncludeNonASCIIAndReferralContactsHaveNoEMRIDYet() {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 10))
        let families = world.emr.entries("Patient").compactMap { $0.resource["name"]?[0]?["family"]?.stringValue }
        #expect(families.contains("王") && families.contains("Müller") && families.contains("Peña"))
        let contacts = world.salesforce.store.records(of: "Contact")
        #expect(!contacts.isEmpty && contacts.allSatisfy { $0["EMR_Patient_Id__c"].isNull })
        let stages = Set(world.salesforce.store.records(of: "Admission__c").compactMap { $0["Stage__c"].stringValue })
        #expect(stages.isSubset(of: ["New", "Screening", "Ready for Intake", "Admitted", "Closed"]))
    }
}

/// Seeded history lies in the past, so that delta pulls and watermarks behave as against a real org.
struct SeedTimeTests {
    @Test(arguments: 1...8)
    func nothingIsSeededInTheFuture(seed: UInt64) throws {
        let world = TestSandbox.world(TestSandbox.configuration(patients: 20, badShare: 0.1, seed: seed))
        let now = world.emr.clock.now()
        for type in ["Patient", "EpisodeOfCare", "QuestionnaireResponse"] {
            #expect(world.emr.entries(type).allSatisfy { $0.lastUpdated.milliseconds <= now.milliseconds })
        }
        let result = try world.salesforce.query("SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp DESC LIMIT 1", apiVersion: "v60.0", pageSize: nil)
        let newest = try #require(result["records"]?[0]?["SystemModstamp"]?.stringValue)
        #expect(newest <= now.salesforceDateTime)
    }
}
