import Foundation
import StagelinkEngine
import Testing

/// A mapping file that would rewrite or misdirect data is refused when it is loaded, naming the
/// file, line and key; so are durations and numbers out of their range.
struct MappingValidationTests {
    /// The shipped mapping with `old` replaced by `new` (exactly once).
    static func shipped(replacing old: String, with new: String) throws -> String {
        let text = try String(contentsOfFile: Fixtures.mappingPath, encoding: .utf8)
        let parts = text.components(separatedBy: old)
        try #require(parts.count == 2, "the shipped mapping holds \(old) once")
        return parts.joined(separator: new)
    }

    static func loadError(_ yaml: String) -> ConfigurationError? {
        do {
            _ = try MappingDocument(yaml: yaml, file: "mapping.yaml")
            return nil
        } catch {
            return error
        }
    }

    static func line(of text: String, in yaml: String) -> Int? {
        yaml.components(separatedBy: "\n").firstIndex { $0.contains(text) }.map { $0 + 1 }
    }

    @Test func theShippedMappingLoads() throws {
        let mapping = try Fixtures.mapping()
        #expect(mapping.inbound.map(\.resource) == ["Patient", "EpisodeOfCare", "QuestionnaireResponse"])
    }

    @Test func theSameSalesforceFieldTwiceInOneMappingIsRefusedNamingBothLines() throws {
        // The probe of issue 13: FirstName's path mapped onto LastName overwrote 201 last names.
        let yaml = try Self.shipped(replacing: "{ field: FirstName, path:", with: "{ field: LastName, path:")
        let error = try #require(Self.loadError(yaml))
        let firstLine = try #require(Self.line(of: "{ field: LastName, path: \"name[0].given[0]\"", in: yaml))
        let secondLine = try #require(Self.line(of: "{ field: LastName, path: \"name[0].family\"", in: yaml))
        #expect(error.file == "mapping.yaml")
        #expect(error.line == secondLine)
        #expect(error.key == "inbound[0].fields[2]")
        #expect(error.message.contains("Salesforce field LastName is already the target of inbound[0].fields[1] (line \(firstLine))"))
    }

    @Test func twoMappingsIntoOneObjectMayShareOnlyTheirExternalID() throws {
        let yaml = try Self.shipped(
            replacing: "{ field: Admit_Date__c, path: period.start, type: date, from: datetime, owner: emr }",
            with: "{ field: Birthdate, path: period.start, type: date, from: datetime, owner: emr }")
        let error = try #require(Self.loadError(yaml))
        #expect(error.key == "inbound[1].fields[3]")
        #expect(error.line == Self.line(of: "{ field: Birthdate, path: period.start", in: yaml))
        #expect(error.message.contains("Contact.Birthdate is also written by the mapping \"patients\""))
    }

    @Test func aMappingThatAlsoWritesTheEMRGivesEachPathOneSalesforceField() throws {
        let yaml = try Self.shipped(
            replacing: "{ field: MailingCity, path: \"address[0].city\"", with: "{ field: MailingCity, path: \"address[0].state\"")
        let error = try #require(Self.loadError(yaml))
        #expect(error.message.contains("FHIR path address[0].state is already the target of inbound[0].fields[8]"))
        #expect(error.line == Self.line(of: "{ field: MailingState, path:", in: yaml))
    }

    @Test func anUnknownResourceTypeIsRefused() throws {
        let yaml = try Self.shipped(replacing: "resource: EpisodeOfCare", with: "resource: EpisodeOfCaer")
        let error = try #require(Self.loadError(yaml))
        #expect(error.key == "inbound[1].resource")
        #expect(error.line == Self.line(of: "resource: EpisodeOfCaer", in: yaml))
        #expect(error.message.hasPrefix("\"EpisodeOfCaer\" is not a FHIR R4 resource type"))
    }

    @Test(arguments: [
        "\"First Name; DROP\"", "First__Name", "FirstName_", "1stName", "Name__x", "\"Zoë__c\"", String(repeating: "A", count: 41),
        "Contact__r..Id", "ns_with_underscore__Field__c",
    ])
    func aFieldNameThatIsNotASalesforceAPINameIsRefused(name: String) throws {
        let yaml = try Self.shipped(replacing: "{ field: FirstName, path:", with: "{ field: \(name), path:")
        let error = try #require(Self.loadError(yaml))
        #expect(error.key == "inbound[0].fields[1].field")
        #expect(error.line == Self.line(of: "{ field: \(name), path:", in: yaml))
        #expect(error.message.contains("Salesforce API name"))
    }

    @Test(arguments: ["First_Name__c", "Contact__r.EMR_Patient_Id__c", "acme__Preferred_Name__c", "Person_Pronouns__pc", String(repeating: "A", count: 40) + "__c"])
    func salesforceAPINamesAreAccepted(name: String) {
        #expect(MappingNames.salesforceProblem(name) == nil)
    }

    @Test func anObjectNameIsCheckedToo() throws {
        let yaml = try Self.shipped(replacing: "object: Assessment__c", with: "object: \"Assessment__c; DELETE\"")
        let error = try #require(Self.loadError(yaml))
        #expect(error.key == "inbound[2].object")
    }

    @Test(arguments: [
        ("name[99999999999].family", "an index is at most 999"), ("name[0].fam ily", "field name"), ("telecom[=phone].value", "neither"),
        ("telecom[system=].value", "neither"), ("name[0", "unclosed"),
    ])
    func aPathThatDoesNotParseIsRefused(path: String, problem: String) throws {
        let yaml = try Self.shipped(replacing: "path: \"name[0].given[0]\"", with: "path: \"\(path)\"")
        let error = try #require(Self.loadError(yaml))
        #expect(error.key == "inbound[0].fields[1].path")
        #expect(error.message.contains(problem))
    }

    @Test(arguments: [("items: 9", "items: 99999999999999999999"), ("{ upTo: 27,", "{ upTo: -1,"), ("maxLength: 40, owner: emr", "maxLength: 0, owner: emr")])
    func numbersOutOfTheirRangeAreRefused(old: String, new: String) throws {
        let yaml = try Self.shipped(replacing: old, with: new)
        let error = try #require(Self.loadError(yaml))
        #expect(error.message.hasPrefix("expected a whole number between"))
    }

    @Test func aKeyWithNoValueIsRefused() throws {
        let yaml = try Self.shipped(replacing: "object: Assessment__c", with: "object: ~")
        let error = try #require(Self.loadError(yaml))
        #expect(error.key == "inbound[2].object")
        #expect(error.message.hasPrefix("has no value"))
    }

    // MARK: - Durations

    @Test(arguments: ["9999999999999h", "99999999999999999h", "1e17", "367d", "1e308"])
    func aHugeDurationIsRefusedNotATrap(text: String) {
        #expect(Duration.parse(text) == nil)
        #expect(throws: DurationError(message: "\"\(text)\" is out of range (between 0ms and 8784h)")) {
            try Duration.parse(text, in: Duration.zero...Duration.longestAccepted)
        }
    }

    @Test(arguments: ["inf", "nan", "-5", "-5s", "", "5 minutes", "1e5s", "٣s"])
    func textThatIsNotADurationIsRefused(text: String) {
        #expect(Duration.parse(text) == nil)
        #expect(throws: DurationError(message: "\"\(text)\" is not a duration (try 15m, 30s, 2h or 500ms)")) {
            try Duration.parse(text, in: Duration.zero...Duration.longestAccepted)
        }
    }

    @Test func aDurationMustLieInTheSettingsRange() throws {
        #expect(try Duration.parse("7d", in: Duration.seconds(1)...Duration.seconds(7 * 86_400)) == .seconds(604_800))
        #expect(throws: DurationError(message: "\"500ms\" is out of range (between 1s and 168h)")) {
            try Duration.parse("500ms", in: Duration.seconds(1)...Duration.seconds(7 * 86_400))
        }
    }
}
