import Testing
@testable import StagelinkEngine

/// What the person index reads from a payload (``PersonSearch/document(system:resourceType:sourceID:payload:)``):
/// the declared fields only, in one pass that still checks the whole payload.
struct PersonDocumentTests {
    static func document(_ type: String, _ id: String, _ json: String, system: SourceSystem = .emr) -> PersonDocument {
        PersonSearch.document(system: system, resourceType: type, sourceID: id, payload: Array(json.utf8))
    }

    @Test func aPatientsNamesIdentifiersAndBirthDateEachWordOnce() {
        let document = Self.document(
            "Patient", "p1",
            #"{"resourceType":"Patient","id":"p1","identifier":[{"system":"mrn","value":"MRN7"},{"value":"p1"}],"#
                + #""name":[{"family":"Müller","given":["Zoë","Anna"]},{"text":"Zoë Müller"},{"given":["Anna"]}],"#
                + #""telecom":[{"value":"555"}],"birthDate":"1984-02-29"}"#)
        #expect(document == PersonDocument(name: "Zoë Anna Müller", identifiers: "p1 MRN7", birthDate: "1984-02-29"))
    }

    @Test func aChildNamesItsParentFromItsReference() {
        let episode = Self.document("EpisodeOfCare", "e1", #"{"resourceType":"EpisodeOfCare","id":"e1","patient":{"reference":"Patient/p9"}}"#)
        #expect(episode == PersonDocument(identifiers: "e1", parent: SourceKey(system: .emr, resourceType: "Patient", sourceID: "p9")))
        let elsewhere = Self.document("EpisodeOfCare", "e2", #"{"patient":{"reference":"https://other.example/Patient/p9"}}"#)
        #expect(elsewhere.parent == nil, "an absolute reference names no staged parent")
        let admission = Self.document("Admission__c", "a1", #"{"Name":"A-0001","Contact__c":"003C1"}"#, system: .salesforce)
        #expect(admission == PersonDocument(identifiers: "a1 A-0001", parent: SourceKey(system: .salesforce, resourceType: "Contact", sourceID: "003C1")))
    }

    @Test(arguments: [
        #"{"name":[{"family":"Müller"}],"gender":"x","gender":"y"}"#,
        #"{"name":[{"family":"Müller"}],"x":[1,tru]}"#,
        #"{"name":[{"family":"Müller"}]} trailing"#,
        "not json at all",
    ])
    func aPayloadThatIsNotWellFormedJSONGivesOnlyItsID(payload: String) {
        #expect(Self.document("Patient", "p1", payload) == PersonDocument(identifiers: "p1"))
    }

    @Test func valuesOfAnotherKindWhereTheFieldsAreGiveNothingForThoseFields() {
        let document = Self.document(
            "Patient", "p1", #"{"name":{"family":"NotAList"},"identifier":[{"value":7},{"value":"MRN1"}],"birthDate":["1984-02-29"]}"#)
        #expect(document == PersonDocument(identifiers: "p1 MRN1"))
    }

    @Test func aTypeWithoutADeclarationIsIndexedByItsIDOnly() {
        #expect(Self.document("Observation", "o1", #"{"subject":{"reference":"Patient/p1"}}"#) == PersonDocument(identifiers: "o1"))
    }
}
