import Foundation
import Testing

@testable import StagelinkEngine

/// The identifier types every id from the other system passes before it names a record, and the
/// value checks every outgoing value passes before it reaches the EMR.
struct IdentifierTests {
    let mapping: MappingDocument

    init() throws {
        mapping = try Fixtures.mapping()
    }

    var patients: InboundMapping { mapping.inbound(forResource: "Patient")! }

    @Test(arguments: ["1015", "a-b.C9", String(repeating: "z", count: 64), "hx-idmismatch"])
    func aFHIRIdIsOneTo64LettersDigitsDashesAndDots(_ text: String) throws {
        #expect(FHIRID(text)?.value == text)
        #expect(try FHIRID.validated(text, field: "EMR_Patient_Id__c").value == text)
    }

    @Test(arguments: [
        "1011/../1015", "../../metadata", "", "a b", "1015?x", "1015#x", "100%", String(repeating: "z", count: 65), "x\u{1B}[2Jx", "café", "1' OR '1'='1",
    ])
    func anythingElseIsALastingInvalidIdentifierNamingTheField(_ text: String) {
        #expect(FHIRID(text) == nil)
        do {
            _ = try FHIRID.validated(text, field: "EMR_Patient_Id__c")
            Issue.record("\(text.debugDescription) was accepted")
        } catch {
            #expect(error.code == "INVALID_IDENTIFIER")
            #expect(error.fields == ["EMR_Patient_Id__c"])
            #expect(!error.isTransient)
            #expect(text.isEmpty || !error.message.contains(text), "the message does not quote the value")
        }
    }

    @Test func aSalesforceIdIs15CharactersOr18WithACaseSafeSuffix() {
        // The suffix of 003000000000001 is AAA (no upper-case letters); of 0038d000000000B it is
        // AAQ (only the 15th character, B, is upper case: bit 4 of the third chunk, Q).
        #expect(SalesforceID("003000000000001") != nil)
        #expect(SalesforceID("003000000000001AAA") != nil)
        #expect(SalesforceID("0038d000000000BAAQ") != nil)
        #expect(SalesforceID("003000000000001AAB") == nil, "a suffix marking a digit as upper case")
        #expect(SalesforceID("0038D000000000baaq") != nil, "18 characters are case-insensitive")
        #expect(SalesforceID("003000000000001AA6") == nil, "6 is not in the suffix alphabet")
        #expect(SalesforceID("00300000000000") == nil)
        #expect(SalesforceID("003/../00000001") == nil)
        #expect(SalesforceID("00300000000000\u{1B}") == nil)
        #expect(SalesforceID("0030000000000001") == nil)
        #expect(throws: LinkError.self) { try SalesforceID.validated("003/../005", field: "Contact__c") }
    }

    @Test func everyHostileIdentifierOfTheCorpusIsRefusedByBoth() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appending(path: "HostileInputs/identifiers.jsonl")
        let identifiers = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map { try JSONDecoder().decode(String.self, from: Data($0.utf8)) }
        #expect(identifiers.count >= 40)
        // Two of them are well-formed on purpose (alphanumeric Salesforce-shaped ids, one with a
        // wrong checksum); everything else is neither kind of id.
        for id in identifiers {
            #expect((FHIRID(id) != nil) == ["003000000000001", "003000000000001AAB"].contains(id), "\(id.debugDescription)")
            #expect((SalesforceID(id) != nil) == (id == "003000000000001"), "\(id.debugDescription)")
        }
    }

    // MARK: - Entry identity

    @Test func aResourceWhoseIdIsNotTheOneItWasStagedUnderFailsWithIdentityMismatch() {
        let mapper = Mapper(mapping: patients, instruments: mapping.instruments)
        guard case .failure(let error) = mapper.map(Fixtures.patient(id: "1004"), stagedAs: "hx-idmismatch") else {
            Issue.record("accepted")
            return
        }
        #expect(error.code == "IDENTITY_MISMATCH")
        #expect(error.fields == ["EMR_Patient_Id__c"])
        #expect(throws: Never.self) { try mapper.map(Fixtures.patient(id: "1004"), stagedAs: "1004").get() }
    }

    @Test func aSalesforceIdentifierThatIsNotASalesforceIdFailsTheRowNamingId() throws {
        let mapper = Mapper(mapping: patients, instruments: mapping.instruments)
        let system = try #require(mapping.outbound.admissions?.patientIdentifierSystem)
        var patient = Fixtures.patient(id: "p1").objectValue!
        patient["identifier"] = [["system": .string(system), "value": "003/../005"]]
        guard case .failure(let error) = mapper.map(.object(patient)) else {
            Issue.record("accepted")
            return
        }
        #expect(error.code == "INVALID_IDENTIFIER")
        #expect(error.fields == ["Id"])
        patient["identifier"] = [["system": .string(system), "value": "003000000000001AAA"]]
        #expect(try mapper.map(.object(patient)).get().salesforceID == "003000000000001AAA")
    }

    // MARK: - Outgoing values

    @Test(arguments: ["\u{1B}]0;X\u{07}\u{1B}[2J555", "555\r\n", "55\u{0}5", "555\u{9B}"])
    func anOutgoingValueWithAControlCharacterFailsLikeAnIncomingOne(_ phone: String) throws {
        let field = try #require(patients.fields.first { $0.field == "Phone" })
        do {
            _ = try FieldConversion.json(from: .text(phone), for: field)
            Issue.record("\(phone.debugDescription) would go out")
        } catch {
            #expect(error.code == "MAPPING_CONTROL_CHARACTER")
            #expect(error.fields == ["Phone"])
        }
        #expect(try FieldConversion.json(from: .text("+1-555-000-1111"), for: field) == .string("+1-555-000-1111"))
    }

    @Test func anOutgoingValueOfTheWrongTypeFailsLikeAnIncomingOne() throws {
        let field = try #require(patients.fields.first { $0.field == "Phone" })
        #expect(throws: LinkError.self) { try FieldConversion.json(from: .bool(true), for: field) }
        let street = try #require(patients.fields.first { $0.field == "MailingStreet" })
        #expect(try FieldConversion.json(from: .text("1 Main St\nApt 4"), for: street) == .array(["1 Main St", "Apt 4"]))
        #expect(throws: LinkError.self) { try FieldConversion.json(from: .text("1 Main St\nApt\u{1B}[2J 4"), for: street) }
    }
}
