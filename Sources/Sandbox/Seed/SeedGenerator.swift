import Foundation

/// Makes the sandbox's starting data from the seed number: EMR patients with episodes and PHQ-9 / GAD-7
/// responses, Salesforce referral Contacts with admissions, and a share of bad records of every kind.
struct SeedGenerator {
    let configuration: SandboxConfiguration
    private var random: SeededGenerator

    /// The users the seed and the mutation driver act as; not the integration users.
    static let admissionsCoordinator = (username: "dana.whitfield@sandbox.example", name: "Dana Whitfield")
    static let intakeNurse = (username: "marcus.oyelaran@sandbox.example", name: "Marcus Oyelaran")
    /// The FHIR actor of seed and mutation writes.
    static let clinician = "emr-clinician"
    /// Identifier system of the EMR's medical record numbers.
    static let mrnSystem = "urn:oid:2.16.840.1.113883.3.7418.1"
    static let levelOfCareSystem = "https://stagelink.dev/fhir/CodeSystem/level-of-care"
    static let levelsOfCare: [(code: String, display: String)] = [
        ("detox", "Detox"), ("residential", "Residential"), ("php", "Partial Hospitalization"),
        ("iop", "Intensive Outpatient"), ("outpatient", "Outpatient"),
    ]

    init(configuration: SandboxConfiguration) {
        self.configuration = configuration
        self.random = SeededGenerator(seed: configuration.seed)
    }

    /// Seeds both simulators and returns the truth about every record made.
    func populate(org: SalesforceOrg, emr: EMRStore) -> [SeededRecord] {
        var generator = self
        return generator.run(org: org, emr: emr)
    }

    private mutating func run(org: SalesforceOrg, emr: EMRStore) -> [SeededRecord] {
        for user in configuration.salesforceUsers { org.user(named: user.username, displayName: "Stagelink Integration") }
        let coordinator = org.user(named: Self.admissionsCoordinator.username, displayName: Self.admissionsCoordinator.name)
        org.user(named: Self.intakeNurse.username, displayName: Self.intakeNurse.name)
        let start = emr.clock.now().adding(seconds: -30 * 86_400)
        for instrument in SurveyInstrument.all {
            _ = emr.insert(instrument.questionnaire, type: "Questionnaire", id: instrument.id, at: start)
        }
        let patientCount = max(0, configuration.patientCount)
        let referralCount = configuration.badShare > 0 || patientCount > 0 ? configuration.effectiveReferralCount : 0
        let badKinds = badPlan(patients: patientCount, referrals: referralCount)
        // At most itself, an episode and its responses per patient, two writes per referral, one per
        // bad response: spread over the last 30 days so that nothing is stamped in the future.
        let writesPerPatient = 2 + max(0, configuration.assessmentsPerPatient.upperBound)
        let step = 30 * 86_400_000 / Int64(max(1, patientCount * writesPerPatient + referralCount * 2 + badKinds.count))
        var instant = start
        func tick() -> SandboxInstant {
            instant = SandboxInstant(milliseconds: instant.milliseconds + step)
            return instant
        }
        var truth: [SeededRecord] = []
        var patientBad = badKinds.filter { [.missingFamilyName, .invalidBirthDate, .partialBirthDate, .unknownGender, .oversizeName].contains($0) }
        var responseBad = badKinds.filter { $0 == .scoreOutOfRange || $0 == .danglingPatientReference }
        var goodPatients: [String] = []
        for index in 0..<patientCount {
            let remaining = patientCount - index
            let bad = !patientBad.isEmpty && (remaining <= patientBad.count || random.chance(Double(patientBad.count) / Double(remaining)))
                ? patientBad.removeFirst() : nil
            let patient = makePatient(index: index, bad: bad)
            let entry = emr.insert(patient, type: "Patient", at: tick())
            let id = entry.resource["id"]!.stringValue!
            truth.append(SeededRecord(system: .fhir, type: "Patient", id: id, fault: bad?.fault(for: configuration.people)))
            guard bad == nil else { continue }
            goodPatients.append(id)
            if random.chance(0.85) {
                let made = makeEpisode(patient: id)
                let episode = emr.insert(made, type: "EpisodeOfCare", at: tick())
                truth.append(
                    SeededRecord(system: .fhir, type: "EpisodeOfCare", id: episode.resource["id"]!.stringValue!, withheldBy: Self.blockingLabel(of: made)))
            }
            for _ in 0..<Int.random(in: configuration.assessmentsPerPatient, using: &random) {
                let at = tick()
                let response = emr.insert(makeResponse(patient: id, at: at), type: "QuestionnaireResponse", at: at)
                truth.append(SeededRecord(system: .fhir, type: "QuestionnaireResponse", id: response.resource["id"]!.stringValue!))
            }
        }
        while let kind = responseBad.first {
            responseBad.removeFirst()
            let at = tick()
            let subject = kind == .danglingPatientReference || goodPatients.isEmpty
                ? String(900_000 + Int.random(in: 0..<99_999, using: &random)) : random.pick(goodPatients)
            var response = makeResponse(patient: subject, at: at)
            if kind == .scoreOutOfRange {
                let instrument = response["questionnaire"]?.stringValue == SurveyInstrument.gad7.url ? SurveyInstrument.gad7 : SurveyInstrument.phq9
                let answers = instrument.itemCodes.map { _ in 4 + Int.random(in: 0...3, using: &random) }
                response = instrument.response(
                    subject: subject, answers: answers, authored: at.fhirInstant)
            }
            let entry = emr.insert(response, type: "QuestionnaireResponse", at: at)
            truth.append(SeededRecord(system: .fhir, type: "QuestionnaireResponse", id: entry.resource["id"]!.stringValue!, fault: kind.fault(for: configuration.people)))
        }
        var admissionBad = badKinds.filter { $0 == .admissionWithoutContact }.count
        for index in 0..<referralCount {
            let at = tick()
            let people = configuration.people
            let contact = org.seedInsert(people.object, values: makeContact(index: index), actor: coordinator, at: at)
            truth.append(SeededRecord(system: .salesforce, type: people.object, id: contact))
            let remaining = referralCount - index
            let bad = admissionBad > 0 && (remaining <= admissionBad || random.chance(Double(admissionBad) / Double(remaining)))
            if bad { admissionBad -= 1 }
            let stages = ["New", "Screening", "Ready for Intake", "Admitted", "Closed"]
            var admission: [String: WireJSON] = [
                "Stage__c": .string(bad ? "Ready for Intake" : random.pick(stages)),
                "Referral_Source__c": .string(random.pick(SyntheticPeople.referralSources)),
            ]
            if !bad { admission[people.admissionField] = .string(contact) }
            let id = org.seedInsert("Admission__c", values: admission, actor: coordinator, at: tick())
            truth.append(
                SeededRecord(system: .salesforce, type: "Admission__c", id: id, fault: bad ? BadRecordKind.admissionWithoutContact.fault(for: configuration.people) : nil))
        }
        return truth
    }

    /// The bad kinds to plant: about `badShare` of the records, every kind at least once when the share is above 0.
    private mutating func badPlan(patients: Int, referrals: Int) -> [BadRecordKind] {
        guard configuration.badShare > 0 else { return [] }
        let fhirKinds = BadRecordKind.allCases.filter { $0 != .admissionWithoutContact }
        let fhirCount = max(fhirKinds.count, Int((Double(patients) * configuration.badShare).rounded()))
        let salesforceCount = max(1, Int((Double(referrals) * configuration.badShare).rounded()))
        let patientKinds: [BadRecordKind] = [.missingFamilyName, .invalidBirthDate, .partialBirthDate, .unknownGender, .oversizeName]
        var kinds = (0..<fhirCount).map { fhirKinds[$0 % fhirKinds.count] }
        // Patient-level bad kinds take a patient slot each; never more than there are patients.
        while kinds.filter(patientKinds.contains).count > patients, let index = kinds.lastIndex(where: patientKinds.contains) {
            kinds.remove(at: index)
        }
        return kinds + Array(repeating: .admissionWithoutContact, count: min(salesforceCount, referrals))
    }

    private mutating func name(index: Int) -> (given: String, family: String) {
        if index < SyntheticPeople.requiredNames.count { return SyntheticPeople.requiredNames[index] }
        return (random.pick(SyntheticPeople.givenNames), random.pick(SyntheticPeople.familyNames))
    }

    private mutating func birthDate() -> String {
        let days = Int.random(in: CivilDate(year: 1950, month: 1, day: 1)!.daysSince1970...CivilDate(year: 2005, month: 12, day: 31)!.daysSince1970, using: &random)
        return CivilDate(daysSince1970: days).text
    }

    private mutating func phone() -> String {
        "+1-555-\(Int.random(in: 200...999, using: &random))-\(String(format: "%04d", Int.random(in: 0...9999, using: &random)))"
    }

    private mutating func address() -> (street: String, city: String, state: String, postal: String) {
        let place = random.pick(SyntheticPeople.cities)
        return ("\(Int.random(in: 1...9999, using: &random)) \(random.pick(SyntheticPeople.streets))", place.city, place.state, place.postal)
    }

    private mutating func makePatient(index: Int, bad: BadRecordKind?) -> WireObject {
        let (given, family) = name(index: index)
        let genders = ["female", "male", "female", "male", "other", "unknown"]
        let place = address()
        var name: WireObject = ["use": "official", "family": .string(family), "given": [.string(given)]]
        var patient = WireObject([
            ("resourceType", "Patient"),
            ("identifier", [["use": "usual", "system": .string(Self.mrnSystem), "value": .string("MRN\(100_000 + index)")]]),
            ("active", true),
        ])
        switch bad {
        case .missingFamilyName: name["family"] = nil
        case .oversizeName: name["family"] = .string(SyntheticPeople.oversizeFamilyName)
        default: break
        }
        patient["name"] = [.object(name)]
        patient["telecom"] = [
            ["system": "phone", "value": .string(phone()), "use": "mobile"],
            ["system": "email", "value": .string("\(SyntheticPeople.mailbox(given, family, number: index))@example.org")],
        ]
        patient["gender"] = .string(bad == .unknownGender ? "nonbinary-x" : random.pick(genders))
        switch bad {
        case .invalidBirthDate: patient["birthDate"] = "1985-13-45"
        case .partialBirthDate: patient["birthDate"] = .string(String(birthDate().prefix(7)))
        default: patient["birthDate"] = .string(birthDate())
        }
        patient["address"] = [
            [
                "use": "home", "line": [.string(place.street)], "city": .string(place.city), "state": .string(place.state),
                "postalCode": .string(place.postal), "country": "US",
            ]
        ]
        return patient
    }

    private mutating func makeEpisode(patient: String) -> WireObject {
        let level = random.pick(Self.levelsOfCare)
        let status = random.pick(["active", "active", "finished", "planned", "waitlist", "onhold"])
        let startDay = today() - Int.random(in: 5...400, using: &random)
        // period.start and .end are FHIR dateTimes: a third of the episodes carry a time and a zone
        // (as EHRs record admissions), the rest the bare date; the date in the EMR's zone is the same day.
        var period: WireObject = ["start": .string(Self.episodeInstant(day: startDay))]
        if status == "finished" {
            period["end"] = .string(Self.episodeInstant(day: startDay + Int.random(in: 3...90, using: &random)))
        }
        // A detox episode is substance-use treatment under 42 CFR Part 2: the EHR labels it (FHIR R4
        // meta.security; v3-ActCode 42CFRPart2 and ETH, v3-Confidentiality R, as in the FHIR DS4P IG).
        var episode = WireObject([
            ("resourceType", "EpisodeOfCare"), ("status", .string(status)),
            ("type", [["coding": [["system": .string(Self.levelOfCareSystem), "code": .string(level.code), "display": .string(level.display)]]]]),
            ("patient", ["reference": .string("Patient/\(patient)")]), ("period", .object(period)),
        ])
        if level.code == "detox" { episode["meta"] = ["security": .array(Self.partTwoLabels)] }
        return episode
    }

    static let actCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    static let confidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    /// The labels an EHR puts on a substance-use treatment record.
    static let partTwoLabels: [WireJSON] = [
        ["system": .string(confidentialitySystem), "code": "R", "display": "restricted"],
        ["system": .string(actCodeSystem), "code": "42CFRPart2", "display": "42 CFR Part2"],
        ["system": .string(actCodeSystem), "code": "ETH", "display": "substance abuse information sensitivity"],
    ]

    /// The 42 CFR Part 2 label of a seeded resource, which the default mapping blocks.
    static func blockingLabel(of resource: WireObject) -> String? {
        let codes = resource["meta"]?["security"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? []
        return codes.contains("42CFRPart2") ? "42CFRPart2" : nil
    }

    private func today() -> Int { Int(Date().timeIntervalSince1970 / 86_400) }

    /// `day` as a FHIR dateTime: every third day with a daytime hour in UTC (`2026-03-04T14:30:00Z`),
    /// the others as the bare date (`2026-03-04`), both of which name that day in UTC.
    static func episodeInstant(day: Int) -> String {
        let date = CivilDate(daysSince1970: day).text
        guard day % 3 == 0 else { return date }
        return "\(date)T\(String(format: "%02d", 8 + day % 10)):30:00Z"
    }

    private mutating func makeResponse(patient: String, at instant: SandboxInstant) -> WireObject {
        let instrument = random.pick(SurveyInstrument.all)
        let answers = instrument.itemCodes.map { _ in Int.random(in: 0...3, using: &random) }
        return instrument.response(subject: patient, answers: answers, authored: instant.fhirInstant)
    }

    /// A referral's person: a Contact, or a person account (its record type and the `Person…` names).
    private mutating func makeContact(index: Int) -> [String: WireJSON] {
        let given = random.pick(SyntheticPeople.givenNames)
        let family = random.pick(SyntheticPeople.familyNames)
        let place = address()
        let values: [String: WireJSON] = [
            "FirstName": .string(given), "LastName": .string(family), "Birthdate": .string(birthDate()),
            "Phone": .string(phone()),
            "Email": .string("\(SyntheticPeople.mailbox(given, family, number: 5000 + index))@example.net"),
            "MailingStreet": .string(place.street), "MailingCity": .string(place.city),
            "MailingState": .string(place.state), "MailingPostalCode": .string(place.postal), "MailingCountry": "US",
        ]
        let people = configuration.people
        var named = Dictionary(uniqueKeysWithValues: values.map { (people.field($0.key), $0.value) })
        if let recordType = people.recordType { named["RecordTypeId"] = .string(recordType) }
        return named
    }
}
