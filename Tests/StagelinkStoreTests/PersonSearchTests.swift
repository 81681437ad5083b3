import Foundation
import GRDB
import StagelinkEngine
import Testing

@testable import StagelinkStore

/// Rows are found by the person they are about: name in any case and with or without accents,
/// MRN or other identifier, birth date, Salesforce name; a child row (an episode, an assessment,
/// an admission) by its parent's; and nothing typed is ever read as FTS5 syntax.
struct PersonSearchTests {
    let store: SQLiteStore

    init() throws {
        store = try SQLiteStore.temporary("person-search")
    }

    static func patient(_ id: String, given: String, family: String, mrn: String, birthDate: String) -> IncomingRecord {
        let text = """
            {"resourceType":"Patient","id":"\(id)","identifier":[{"system":"urn:oid:2.16.840.1.113883.3.7418.1","value":"\(mrn)"}],\
            "name":[{"use":"official","family":"\(family)","given":["\(given)"]}],"birthDate":"\(birthDate)"}
            """
        return IncomingRecord(system: .emr, resourceType: "Patient", sourceID: id, version: "1", lastUpdated: nil, payload: Array(text.utf8))
    }

    static func episode(_ id: String, patient: String) -> IncomingRecord {
        let text = #"{"resourceType":"EpisodeOfCare","id":"\#(id)","status":"active","patient":{"reference":"Patient/\#(patient)"}}"#
        return IncomingRecord(system: .emr, resourceType: "EpisodeOfCare", sourceID: id, version: "1", lastUpdated: nil, payload: Array(text.utf8))
    }

    static func contact(_ id: String, first: String, last: String, patientID: String) -> IncomingRecord {
        let text = """
            {"attributes":{"type":"Contact"},"Id":"\(id)","Name":"\(first) \(last)","FirstName":"\(first)","LastName":"\(last)",\
            "Birthdate":"1990-02-03","EMR_Patient_Id__c":"\(patientID)"}
            """
        return IncomingRecord(system: .salesforce, resourceType: "Contact", sourceID: id, version: nil, lastUpdated: nil, payload: Array(text.utf8))
    }

    static func admission(_ id: String, contact: String) -> IncomingRecord {
        let text = #"{"attributes":{"type":"Admission__c"},"Id":"\#(id)","Name":"A-0001","Stage__c":"Ready for Intake","Contact__c":"\#(contact)"}"#
        return IncomingRecord(system: .salesforce, resourceType: "Admission__c", sourceID: id, version: nil, lastUpdated: nil, payload: Array(text.utf8))
    }

    /// Zoë Müller (with an episode), José Peña, 王芳, and a Salesforce Contact Siobhán O'Brien with an admission.
    static let people = [
        patient("p1", given: "Zoë", family: "Müller", mrn: "MRN100001", birthDate: "1984-02-29"),
        patient("p2", given: "José", family: "Peña", mrn: "MRN100002", birthDate: "1990-07-01"),
        patient("p3", given: "芳", family: "王", mrn: "MRN100003", birthDate: "1975-11-30"),
        episode("e1", patient: "p1"),
        contact("0035g00000AbCdE", first: "Siobhán", last: "O'Brien", patientID: "p9"),
        admission("a0B5g00000XyZ12", contact: "0035g00000AbCdE"),
    ]

    /// Stages ``people`` into `store`: row ids by source id.
    static func stageThePeople(in store: SQLiteStore) async throws -> [String: Int64] {
        let staged = try await store.stage(people, job: nil, advancing: nil)
        return Dictionary(uniqueKeysWithValues: zip(people.map(\.sourceID), staged.rowIDs))
    }

    func stageThePeople() async throws -> [String: Int64] {
        try await Self.stageThePeople(in: store)
    }

    func found(_ text: String, inverted: Bool = false) async throws -> [String] {
        try await store.rows(RowQuery(filter: RowFilter(text: text, inverted: inverted), limit: 100)).map(\.sourceID)
    }

    @Test func aNameIsFoundInAnyCaseWithOrWithoutItsAccents() async throws {
        _ = try await stageThePeople()
        #expect(try await found("muller") == ["p1", "e1"], "the patient and the episode that refers to her")
        #expect(try await found("MÜLLER") == ["p1", "e1"])
        #expect(try await found("Zoe Muller") == ["p1", "e1"], "every word must match")
        #expect(try await found("zoe pena") == [], "words of two people match nobody")
        #expect(try await found("pena") == ["p2"])
        #expect(try await found("王") == ["p3"])
        #expect(try await found("siobhan") == ["0035g00000AbCdE", "a0B5g00000XyZ12"], "a Salesforce name, and the admission of that Contact")
        #expect(try await found("o'brien") == ["0035g00000AbCdE", "a0B5g00000XyZ12"])
        #expect(try await store.countRows(RowFilter(text: "muller")) == 2)
        #expect(try await store.countRows(RowFilter(text: "muller", inverted: true)) == 4)
    }

    @Test func anIdentifierABirthDateOrASourceIDFindsTheRowsOfThatPerson() async throws {
        let ids = try await stageThePeople()
        #expect(try await found("MRN100002") == ["p2"])
        #expect(try await found("mrn100001") == ["p1", "e1"], "the episode carries its patient's identifiers")
        #expect(try await found("1984-02-29") == ["p1", "e1"])
        #expect(try await found("p3") == ["p3"])
        #expect(try await found("p9") == ["0035g00000AbCdE", "a0B5g00000XyZ12"], "the Contact's EMR patient id")
        #expect(try await found(String(ids["p2"]!)) == ["p2"], "a number is a row id too")
    }

    @Test func listsAndConflictsCarryThePersonsName() async throws {
        let ids = try await stageThePeople()
        let rows = try await store.rows(RowQuery(limit: 10))
        let names = Dictionary(uniqueKeysWithValues: rows.map { ($0.sourceID, $0.personName) })
        #expect(names["p1"] == "Zoë Müller")
        #expect(names["e1"] == "Zoë Müller", "an episode takes its patient's name")
        #expect(names["0035g00000AbCdE"] == "Siobhán O'Brien", "Name, FirstName and LastName: each word once")
        #expect(names["a0B5g00000XyZ12"] == "Siobhán O'Brien")
        #expect(try await store.personNames(ofRows: [ids["p3"]!, ids["p2"]!]) == [ids["p3"]!: "芳 王", ids["p2"]!: "José Peña"])
    }

    @Test func pagesOfAManyRowSearchFollowTheSortBothWays() async throws {
        let records = (0..<30).map { Self.patient("m\($0)", given: "Anna", family: "Müller", mrn: "MRN2\($0)", birthDate: "1980-01-01") }
            + (0..<5).map { Self.patient("o\($0)", given: "Otto", family: "Other", mrn: "MRN3\($0)", birthDate: "1980-01-01") }
        _ = try await store.stage(records, job: nil, advancing: nil)
        let filter = RowFilter(text: "muller")
        let first = try await store.rows(RowQuery(filter: filter, sort: RowSort(column: .id, descending: true), limit: 12))
        #expect(first.map(\.sourceID) == (18..<30).reversed().map { "m\($0)" })
        let second = try await store.rows(
            RowQuery(filter: filter, sort: RowSort(column: .id, descending: true), after: first.last!.cursor(for: RowSort(column: .id)), limit: 12))
        #expect(second.map(\.sourceID) == (6..<18).reversed().map { "m\($0)" })
        let back = try await store.rows(
            RowQuery(filter: filter, sort: RowSort(column: .id, descending: true), after: second.first!.cursor(for: RowSort(column: .id)), backwards: true, limit: 12))
        #expect(back.map(\.sourceID) == first.map(\.sourceID))
        let bySource = try await store.rows(RowQuery(filter: filter, sort: RowSort(column: .sourceID), limit: 3))
        #expect(bySource.map(\.sourceID) == ["m0", "m1", "m10"])
        let failedOnly = try await store.rows(RowQuery(filter: RowFilter(statuses: [.failed], text: "muller"), limit: 3))
        #expect(failedOnly.isEmpty)
    }

    @Test func theRetentionPurgeTakesThePersonsDocumentWithThePayload() async throws {
        let ids = try await stageThePeople()
        _ = try await store.setStatus(rowIDs: [ids["p2"]!], to: .ignored, from: [.staged], actor: .operator("dana"), note: "test")
        let purge = try await store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .operator("dana"), dryRun: false)
        #expect(purge.rows == 1)
        #expect(try await found("pena") == [])
        #expect(try await store.personNames(ofRows: [ids["p2"]!]) == [:])
        #expect(try await found("muller") == ["p1", "e1"])
    }

    /// Every probe of `Tests/HostileInputs/search-text.jsonl` is searched for as plain words: no
    /// FTS5 error, no syntax obeyed (a column filter, a prefix, NEAR or OR finds nothing the words
    /// themselves do not), and the index and table are untouched.
    @Test func hostileSearchTextIsPlainWordsNeverFTS5Syntax() async throws {
        _ = try await stageThePeople()
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "HostileInputs/search-text.jsonl")
        let probes = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(String.self, from: Data($0.utf8))
        }
        #expect(probes.count >= 25)
        for probe in probes {
            if probe.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                #expect(try await found(probe).count == 6, "blank text filters nothing")
                continue
            }
            let matched = try await found(probe)
            _ = try await store.countRows(RowFilter(text: probe))
            _ = try await store.countRows(RowFilter(text: probe, inverted: true))
            #expect(matched.count <= 2, "\(probe.debugDescription) matched \(matched)")
        }
        #expect(try await found("müller OR *") == [], "OR and * are words no document holds")
        #expect(try await found("mül*") == [], "no prefix search")
        #expect(try await found("name:müller") == [], "no column filter")
        #expect(try await found("NEAR(zoë müller)") == [], "no NEAR group")
        #expect(try await found("\"müller\"") == ["p1", "e1"], "quotes are only quotes")
        #expect(try await found("müller\u{1b}zoë") == ["p1", "e1"], "a control character separates words")
        #expect(try await found("müller\u{1b}[2J") == [], "and what follows it is a word of its own")
        #expect(try await found("\u{202e}müller") == ["p1", "e1"])
        #expect(try await found("*") == [], "nothing searchable: nothing found")
        #expect(try await store.countRows(.all) == 6)
        #expect(PersonIndex.query(#"zoë "müller" OR *"#) == #""zoë" """müller""" "OR""#)
        #expect(PersonIndex.query("*  \u{0}") == nil)
    }
}
