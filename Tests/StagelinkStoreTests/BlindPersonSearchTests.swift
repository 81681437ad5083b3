import Foundation
import GRDB
import StagelinkEngine
import Testing

@testable import StagelinkStore

/// In an encrypted store the person index is blind (keyed tokens of folded words): the searches
/// that find a person's rows in a clear store find the same rows with the key, while the store's
/// files hold none of the names, identifiers or birth dates searched for. It stays in step with
/// staging, sealing a clear store in place and the retention purge.
struct BlindPersonSearchTests {
    let store: SQLiteStore

    init() throws {
        store = try SQLiteStore.temporary("blind-search", encrypted: true)
    }

    var path: String { store.path }
    var folder: URL { URL(fileURLWithPath: path).deletingLastPathComponent() }

    /// What the seeded people would leave in a file kept in the clear: their names (as written and
    /// folded), identifiers and birth dates.
    static let secrets = [
        "Zoë", "Müller", "Muller", "muller", "José", "Peña", "pena", "王", "芳", "Siobhán", "siobhan", "O'Brien", "brien", "MRN100001", "mrn100002",
        "1984-02-29", "1990-07-01", "1975-11-30",
    ]

    func found(_ text: String, in store: SQLiteStore? = nil, inverted: Bool = false) async throws -> [String] {
        try await (store ?? self.store).rows(RowQuery(filter: RowFilter(text: text, inverted: inverted), limit: 100)).map(\.sourceID)
    }

    /// Every byte of the store's files (database, write-ahead log, shared memory), as the proof
    /// harness greps them.
    func fileContains(_ text: String) -> Bool {
        let bytes = ["", "-wal", "-shm"].flatMap { suffix in FileManager.default.contents(atPath: path + suffix).map { [UInt8]($0) } ?? [] }
        return Data(bytes).range(of: Data(text.utf8)) != nil
    }

    @Test func theSearchesOfAClearStoreFindTheSameRowsWithTheKey() async throws {
        let ids = try await PersonSearchTests.stageThePeople(in: store)
        #expect(try await found("muller") == ["p1", "e1"], "the patient and the episode that refers to her")
        #expect(try await found("MÜLLER") == ["p1", "e1"])
        #expect(try await found("Zoe Muller") == ["p1", "e1"], "every word must match")
        #expect(try await found("zoe pena") == [], "words of two people match nobody")
        #expect(try await found("peña") == ["p2"])
        #expect(try await found("王") == ["p3"])
        #expect(try await found("siobhan") == ["0035g00000AbCdE", "a0B5g00000XyZ12"], "a Salesforce name, and the admission of that Contact")
        #expect(try await found("o'brien") == ["0035g00000AbCdE", "a0B5g00000XyZ12"])
        #expect(try await found("brien'o") == [], "a word of several tokens stays a phrase, its tokens in their order")
        #expect(try await found("mrn100001") == ["p1", "e1"], "the episode carries its patient's identifiers")
        #expect(try await found("1984-02-29") == ["p1", "e1"])
        #expect(try await found("p9") == ["0035g00000AbCdE", "a0B5g00000XyZ12"], "the Contact's EMR patient id")
        #expect(try await found(String(ids["p2"]!)) == ["p2"], "a number is a row id too")
        #expect(try await found("mül") == [], "whole words, as in a clear store: no prefix")
        #expect(try await store.countRows(RowFilter(text: "muller")) == 2)
        #expect(try await store.countRows(RowFilter(text: "muller", inverted: true)) == 4)
        #expect(try await found("muller", inverted: true) == ["p2", "p3", "0035g00000AbCdE", "a0B5g00000XyZ12"])
    }

    @Test func theStoreFilesHoldNoneOfTheNamesIdentifiersOrBirthDatesSearchedFor() async throws {
        _ = try await PersonSearchTests.stageThePeople(in: store)
        // An episode staged after its patient takes her tokens; one staged before names her by a blinded id.
        _ = try await store.stage([PersonSearchTests.episode("e2", patient: "p2"), PersonSearchTests.episode("e3", patient: "p77")], job: nil, advancing: nil)
        #expect(try await found("pena") == ["p2", "e2"])
        #expect(try await found("p77") == ["e3"])
        for secret in Self.secrets {
            #expect(!fileContains(secret), "the store files hold \(secret)")
        }
        // Lists read no name from a blind index; a row's detail opens its payload.
        #expect(try await store.rows(RowQuery(limit: 10)).allSatisfy { $0.personName == nil })
        #expect(try await store.personNames(ofRows: [1, 2]) == [:])
    }

    @Test func aClearStoreSealedInPlaceKeepsItsSearchAndLosesItsClearWords() async throws {
        let clearPath = folder.appendingPathComponent("clear.sqlite").path
        let clear = try SQLiteStore(path: clearPath)
        _ = try await PersonSearchTests.stageThePeople(in: clear)
        #expect(try await found("muller", in: clear) == ["p1", "e1"])

        let sealed = try SQLiteStore(path: clearPath, key: try StoreKey.generate(at: folder.appendingPathComponent("clear.key").path))
        #expect(try await found("muller", in: sealed) == ["p1", "e1"])
        #expect(try await found("Siobhán O'Brien", in: sealed) == ["0035g00000AbCdE", "a0B5g00000XyZ12"])
        #expect(try await found("mrn100003", in: sealed) == ["p3"])
        let bytes = ["", "-wal", "-shm"].flatMap { FileManager.default.contents(atPath: clearPath + $0).map { [UInt8]($0) } ?? [] }
        for secret in Self.secrets {
            #expect(Data(bytes).range(of: Data(secret.utf8)) == nil, "the sealed store's files still hold \(secret)")
        }
        // Staged after sealing, blinded as it is staged.
        _ = try await sealed.stage([PersonSearchTests.episode("e2", patient: "p3")], job: nil, advancing: nil)
        #expect(try await found("王", in: sealed) == ["p3", "e2"])
    }

    @Test func theRetentionPurgeTakesThePersonsTokensWithThePayload() async throws {
        let ids = try await PersonSearchTests.stageThePeople(in: store)
        _ = try await store.setStatus(rowIDs: [ids["p2"]!], to: .ignored, from: [.staged], actor: .operator("dana"), note: "test")
        let purge = try await store.purgePayloads(receivedBefore: Date().addingTimeInterval(60), actor: .operator("dana"), dryRun: false)
        #expect(purge.rows == 1)
        #expect(try await found("pena") == [])
        #expect(try await found("muller") == ["p1", "e1"])
    }

    @Test func anotherDataKeyFindsNothingWhereTheStoresKeyFindsTheRows() async throws {
        _ = try await PersonSearchTests.stageThePeople(in: store)
        let cipher = try #require(store.cipher)
        let other = try #require(try SQLiteStore.temporary("blind-other", encrypted: true).cipher)
        #expect(PersonIndex.query("Müller", blind: cipher) == "\"\(cipher.blindToken("muller"))\"")
        #expect(PersonIndex.query("Müller", blind: other) != PersonIndex.query("Müller", blind: cipher))
        #expect(PersonIndex.words("Siobhán O'Brien 1984-02-29 ZOË") == ["siobhan", "o", "brien", "1984", "02", "29", "zoe"])
    }

    /// Staging folds ASCII text byte by byte and remembers a page's tokens: the words and tokens
    /// are those of the Unicode folding, word by word, whatever the text.
    @Test func theFastFoldingAndAPagesRememberedTokensAgreeWithTheUnicodeFolding() throws {
        let cipher = try #require(store.cipher)
        #expect(PersonIndex.words("O'BRIEN, Kenji  p42\tMRN100001 1984-02-29") == ["o", "brien", "kenji", "p42", "mrn100001", "1984", "02", "29"])
        #expect(PersonIndex.words("Zoë O'Brien") == ["zoe", "o", "brien"])
        #expect(PersonIndex.words("--- ") == [])
        var page = PersonIndex.BlindWords(cipher)
        // Decomposed accents, a combining mark after a space (one `Character` with it), other
        // spacing than a space.
        let awkward = ["Mu\u{308}ller Zoe\u{308}", "a \u{301}b", "Müller\tAnna\u{a0}p9", "  "]
        for text in ["Müller Zoë p1 MRN100001 1984-02-29", "Müller Anna p2 MRN100002 1984-02-28", "O'Brien  Siobhán p3", "", " 王 芳 "] + awkward {
            // Twice: the second time every piece is a remembered one.
            #expect(page.blindText(text) == PersonIndex.blindText(text, with: cipher))
            #expect(page.blindText(text) == PersonIndex.blindText(text, with: cipher))
        }
        #expect(PersonIndex.blindText("Müller p1", with: cipher) == [cipher.blindToken("muller"), cipher.blindToken("p1")].joined(separator: " "))
        #expect(cipher.blindToken("muller").count == 16)
        #expect(cipher.blindToken("muller") != cipher.blindToken("mueller"))
    }

    /// The hostile corpus of search text is plain words in a blind index too: no FTS5 error, no
    /// syntax obeyed.
    @Test func hostileSearchTextIsPlainWordsInABlindIndexToo() async throws {
        _ = try await PersonSearchTests.stageThePeople(in: store)
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "HostileInputs/search-text.jsonl")
        let probes = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(String.self, from: Data($0.utf8))
        }
        for probe in probes where !probe.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let matched = try await found(probe)
            _ = try await store.countRows(RowFilter(text: probe, inverted: true))
            #expect(matched.count <= 2, "\(probe.debugDescription) matched \(matched)")
        }
        #expect(try await found("müller OR *") == [])
        #expect(try await found("name:müller") == [])
        #expect(try await found("\"müller\"") == ["p1", "e1"])
        #expect(try await found("müller\u{1b}zoë") == ["p1", "e1"])
        #expect(try await store.countRows(.all) == 6)
    }
}
