import Foundation
import Testing
@testable import StagelinkEngine

struct MappingTests {
    let mapping: MappingDocument

    init() throws {
        mapping = try Fixtures.mapping()
    }

    func assessment(_ instrument: String, answers: [Int], total: Int?, subject: String = "Patient/p1") -> JSONValue {
        let (questionnaire, totalCode) = instrument == "PHQ-9" ? ("http://loinc.org/44249-1", "44261-6") : ("http://loinc.org/69737-5", "70274-6")
        var items: [JSONValue] = answers.enumerated().map { index, points in
            ["linkId": .string("q\(index + 1)"), "answer": [["valueInteger": .number(String(points))]]]
        }
        if let total {
            items.append(["linkId": .string(totalCode), "code": [["system": "http://loinc.org", "code": .string(totalCode)]], "answer": [["valueInteger": .number(String(total))]]])
        }
        return [
            "resourceType": "QuestionnaireResponse", "id": "qr1", "questionnaire": .string(questionnaire), "status": "completed",
            "subject": ["reference": .string(subject)], "authored": "2026-11-20T09:30:00+01:00", "item": .array(items),
        ]
    }

    var assessments: Mapper { Mapper(mapping: mapping.inbound(forResource: "QuestionnaireResponse")!, instruments: mapping.instruments) }

    @Test(arguments: [
        ("PHQ-9", [0, 1, 0, 1, 0, 1, 0, 1, 0], 4, "Minimal"),
        ("PHQ-9", [2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "Moderate"),
        ("PHQ-9", [3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "Severe"),
        ("PHQ-9", [3, 3, 3, 3, 3, 2, 1, 1, 0], 19, "Moderately Severe"),
        ("GAD-7", [1, 1, 1, 1, 1, 0, 0], 5, "Mild"),
        ("GAD-7", [3, 3, 3, 3, 3, 3, 3], 21, "Severe"),
    ])
    func scoresAssessmentsAndBandsTheirSeverity(instrument: String, answers: [Int], score: Int, severity: String) throws {
        let record = try assessments.map(assessment(instrument, answers: answers, total: score)).get()
        #expect(record.record == MappedRecordKey(object: "Assessment__c", key: "qr1"))
        #expect(record.value(of: "Instrument__c") == .text(instrument))
        #expect(record.value(of: "Score__c") == .number(String(score)))
        #expect(record.value(of: "Severity__c") == .text(severity))
        #expect(record.value(of: "Contact__r.EMR_Patient_Id__c") == .text("p1"))
        #expect(record.value(of: "Completed_At__c") == .text("2026-11-20T08:30:00.000Z"))
    }

    @Test func aScoreOutOfRangeFailsNamingTheScoreField() {
        let error = assessments.map(assessment("PHQ-9", answers: [3, 3, 3, 3, 3, 3, 3, 3, 3], total: 35)).failure
        #expect(error?.code == "MAPPING_SCORE_OUT_OF_RANGE")
        #expect(error?.fields == ["Score__c"])
        let itemError = assessments.map(assessment("GAD-7", answers: [7, 0, 0, 0, 0, 0, 0], total: nil)).failure
        #expect(itemError?.code == "MAPPING_SCORE_OUT_OF_RANGE")
    }

    @Test func aTotalThatDisagreesWithItsItemsFails() {
        #expect(assessments.map(assessment("GAD-7", answers: [1, 1, 1, 1, 1, 1, 1], total: 9)).failure?.code == "MAPPING_SCORE_MISMATCH")
    }

    @Test func aReferenceToSomethingOtherThanAPatientFails() {
        let error = assessments.map(assessment("GAD-7", answers: [0, 0, 0, 0, 0, 0, 0], total: 0, subject: "Group/g1")).failure
        #expect(error?.code == "MAPPING_INVALID_REFERENCE")
        #expect(error?.fields == ["Contact__r.EMR_Patient_Id__c"])
    }

    var patients: Mapper { Mapper(mapping: mapping.inbound(forResource: "Patient")!, instruments: mapping.instruments) }

    @Test(arguments: ["Smith\u{1B}[2J", "Smith\u{1B}]0;title\u{07}", "Smi\u{0}th", "Smith\rEvil", "Smith\u{9B}31m", "Smith\tJr"])
    func aNameWithAControlCharacterFailsNamingTheField(family: String) {
        let result = patients.map(Fixtures.patient(id: "p1", family: family))
        guard case .failure(let error) = result else { Issue.record("\(family.debugDescription) was accepted"); return }
        #expect(error.code == "MAPPING_CONTROL_CHARACTER")
        #expect(error.fields == ["LastName"])
        #expect(!error.message.contains("Smith"), "the message names the character, never the value")
    }

    @Test func everyProblemOfARecordIsReportedInOnePassTheFirstBeingItsCode() {
        var patient = Fixtures.patient(id: "p1", given: "Zo\u{1B}[2Jë", birthDate: "1985-13-45", gender: "robot").objectValue!
        patient["address"] = [["line": ["1 Main St", "Apt\u{7} 4"]]]
        guard case .failure(let error) = patients.map(.object(patient)) else { Issue.record("accepted"); return }
        #expect(error.code == ErrorCode.mappingControlCharacter.rawValue, "the first problem in the mapping's order is the row's code")
        #expect(error.all.map(\.code) == [
            ErrorCode.mappingControlCharacter, .mappingInvalidDate, .mappingUnknownCode, .mappingControlCharacter,
        ].map(\.rawValue))
        #expect(error.all.map(\.fields) == [["FirstName"], ["Birthdate"], ["Gender__c"], ["MailingStreet"]])
        #expect(error.all.allSatisfy { $0.further.isEmpty }, "the problems are flat")
        #expect(error.description.contains("and 3 more: MAPPING_INVALID_DATE, MAPPING_UNKNOWN_CODE, MAPPING_CONTROL_CHARACTER"))
        // One problem alone is one error, with none further.
        let single = patients.map(Fixtures.patient(id: "p1", birthDate: "1985-13-45")).failure
        #expect(single?.code == ErrorCode.mappingInvalidDate.rawValue)
        #expect(single?.further == [])
    }

    @Test func aScoringProblemIsReportedOnceThoughSeveralFieldsAreComputedFromTheScore() {
        let error = assessments.map(assessment("PHQ-9", answers: [3, 3, 3, 3, 3, 3, 3, 3, 3], total: 35, subject: "Group/g1")).failure
        #expect(error?.all.map(\.code) == [ErrorCode.mappingInvalidReference.rawValue, ErrorCode.mappingScoreOutOfRange.rawValue])
    }

    @Test func aMissingIDIsReportedOnceWithTheOtherProblems() {
        var patient = Fixtures.patient(id: "p1", birthDate: "1985-13-45").objectValue!
        patient["id"] = nil
        let error = patients.map(.object(patient)).failure
        #expect(error?.all.map(\.code) == [ErrorCode.mappingMissingField.rawValue, ErrorCode.mappingInvalidDate.rawValue])
        #expect(error?.all.first?.fields == ["EMR_Patient_Id__c"])
    }

    @Test func addressLinesMayNotHideControlCharactersEither() {
        var patient = Fixtures.patient(id: "p1").objectValue!
        patient["address"] = [["line": ["1 Main St", "Apt\u{1B}[2J 4"]]]
        guard case .failure(let error) = patients.map(.object(patient)) else { Issue.record("accepted"); return }
        #expect(error.code == "MAPPING_CONTROL_CHARACTER")
        #expect(error.fields == ["MailingStreet"])
    }

    @Test(arguments: ["../../Contact/003000000000001", "1' OR '1'='1", "x\u{1B}[2Jx", String(repeating: "a", count: 65), "a b"])
    func aResourceIDThatIsNotAFHIRIDFailsNamingTheExternalID(id: String) {
        guard case .failure(let error) = patients.map(Fixtures.patient(id: id)) else { Issue.record("\(id.debugDescription) was accepted"); return }
        #expect(error.code == ErrorCode.invalidIdentifier.rawValue)
        #expect(error.fields == ["EMR_Patient_Id__c"])
    }

    @Test func namesInAnyScriptAndLookingLikeCodeAreData() throws {
        for family in ["O'Brien'); DROP TABLE staged_row;--", "x' OR LastName != '", "Nguyễn-Ørsted 王 😀"] {
            let record = try patients.map(Fixtures.patient(id: "p1", family: family)).get()
            #expect(record.value(of: "LastName") == .text(family))
        }
    }

    @Test func errorMessagesNeverQuoteTheValue() {
        let patients = Mapper(mapping: mapping.inbound(forResource: "Patient")!, instruments: [])
        let secret = "Zoë Müller-Geheimnis"
        let payload: JSONValue = ["resourceType": "Patient", "id": "p1", "name": [["family": .string(String(repeating: secret, count: 10))]]]
        let error = patients.map(payload).failure
        #expect(error?.code == "MAPPING_TOO_LONG")
        #expect(error?.message.contains("Geheimnis") == false)
        #expect(error?.message == "LastName (name[0].family) is longer than 80 characters")
    }

    @Test func aBadMappingFileNamesTheFileLineAndKey() throws {
        let text = try String(contentsOfFile: Fixtures.mappingPath, encoding: .utf8)
        let broken = text.replacingOccurrences(of: "{ field: Birthdate, path: birthDate, type: date, owner: emr }", with: "{ field: Birthdate, path: birthDate, type: date, owner: emrr }")
        #expect {
            _ = try MappingDocument(yaml: broken, file: "mapping.yaml")
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            let line = text.components(separatedBy: "\n").firstIndex { $0.contains("field: Birthdate") }.map { $0 + 1 }
            return error.file == "mapping.yaml" && error.line == line && error.key == "inbound[0].fields[3].owner"
                && error.message.contains("unknown rule \"emrr\"")
        }
        let misspelt = text.replacingOccurrences(of: "externalId: EMR_Assessment_Id__c", with: "externalID: EMR_Assessment_Id__c")
        #expect {
            _ = try MappingDocument(yaml: misspelt, file: "mapping.yaml")
        } throws: { error in
            (error as? ConfigurationError)?.message.hasPrefix("unknown key") == true
        }
    }

    @Test func pathsReadAndWriteTheSubsetTheMappingUses() throws {
        var patient: JSONValue = ["resourceType": "Patient", "telecom": [["system": "email", "value": "a@example.org"]]]
        let phone = try FieldPath("telecom[system=phone].value")
        phone.set("+1 555 0100", in: &patient)
        #expect(phone.value(in: patient) == "+1 555 0100")
        #expect(try FieldPath("telecom[system=email].value").value(in: patient) == "a@example.org")
        let family = try FieldPath("name[0].family")
        family.set("Peña", in: &patient)
        #expect(JSONWriter.compactString(patient["name"]!) == #"[{"family":"Peña"}]"#)
        phone.set(nil, in: &patient)
        #expect(patient["telecom"]?.arrayValue?.count == 1)
        #expect(throws: FieldPathError.self) { try FieldPath("name[0") }
        #expect(throws: FieldPathError.self) { try FieldPath("name..family") }
    }

    @Test(arguments: [
        ("2026-11-26T07:26:25Z", "2026-11-26T07:26:25.000Z"),
        ("2026-11-26T07:26:25.5+01:00", "2026-11-26T06:26:25.500Z"),
        ("2026-11-26T07:26:25.123+0000", "2026-11-26T07:26:25.123Z"),
        ("2024-02-29T23:59:59-05:00", "2024-03-01T04:59:59.000Z"),
    ])
    func timestampsReadBothSystemsFormsAndWriteUTC(text: String, expected: String) throws {
        #expect(Timestamp.format(try #require(Timestamp.parse(text))) == expected)
    }

    @Test(arguments: ["2026-11-26", "2026-11-26T07:26:25", "2026-02-30T00:00:00Z", "2026-11-26T25:00:00Z", "x"])
    func timestampsWithoutAZoneOrImpossibleAreRefused(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func calendarDatesMustExist() {
        #expect(CalendarDate("2024-02-29") != nil)
        #expect(CalendarDate("2023-02-29") == nil)
        #expect(CalendarDate("1985-13-45") == nil)
        #expect(CalendarDate("1985-1-5") == nil)
    }

    @Test func durationsReadTheFormsTheConfigUses() {
        #expect(Duration.parse("15m") == .seconds(900))
        #expect(Duration.parse("30s") == .seconds(30))
        #expect(Duration.parse("1h30m") == .seconds(5400))
        #expect(Duration.parse("500ms") == .milliseconds(500))
        #expect(Duration.parse("90") == .seconds(90))
        #expect(Duration.parse("soon") == nil)
        #expect(Duration.seconds(5400).compactText == "1h30m")
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
