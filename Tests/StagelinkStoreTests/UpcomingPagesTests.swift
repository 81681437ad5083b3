import Foundation
import GRDB
import Testing
import StagelinkEngine
@testable import StagelinkStore

/// Pages said to come next (``SQLiteStore/prepareToStage(_:)``) are prepared beside the page
/// before them and staged exactly as they would be without: same rows, payloads and person
/// documents; a page said to come and not staged changes nothing.
struct UpcomingPagesTests {
    static func patient(_ index: Int) -> IncomingRecord {
        IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p\(index)", version: "1", lastUpdated: Date(timeIntervalSince1970: 1_790_000_000 + Double(index)),
            payload: Array(#"{"resourceType":"Patient","id":"p\#(index)","identifier":[{"value":"MRN\#(index)"}],"name":[{"family":"Family\#(index % 7)","given":["Given\#(index)"]}],"birthDate":"1980-01-0\#(1 + index % 9)"}"#.utf8))
    }

    static func episode(_ index: Int, patient: Int) -> IncomingRecord {
        IncomingRecord(
            system: .emr, resourceType: "EpisodeOfCare", sourceID: "e\(index)", version: "1", lastUpdated: Date(timeIntervalSince1970: 1_790_100_000 + Double(index)),
            payload: Array(#"{"resourceType":"EpisodeOfCare","id":"e\#(index)","patient":{"reference":"Patient/p\#(patient)"}}"#.utf8))
    }

    /// Pages of 300 Patients, then 200 episodes of the first page's Patients.
    static let pages: [[IncomingRecord]] = (0..<3).map { page in (0..<300).map { patient(page * 300 + $0) } } + [(0..<200).map { episode($0, patient: $0) }]

    /// What a store holds of its staged rows: each row's key and hash, its payload, its person document.
    static func contents(of store: SQLiteStore) async throws -> [String] {
        try await store.pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT staged_row.id || ' ' || sourceID || ' ' || contentHash || ' ' || hex(payload) || ' ' || name || '|' || identifiers || '|' || birthDate
                    FROM staged_row JOIN staged_payload ON staged_payload.rowID = staged_row.id JOIN person_search ON person_search.rowid = staged_row.id
                    ORDER BY staged_row.id
                    """)
        }
    }

    @Test func pagesSaidToComeNextAreStagedAsTheyAreWithout() async throws {
        let told = try SQLiteStore.temporary()
        let untold = try SQLiteStore.temporary()
        for (index, page) in Self.pages.enumerated() {
            if index + 1 < Self.pages.count { told.prepareToStage(Self.pages[index + 1]) }
            #expect(try await told.stage(page, job: nil, advancing: nil).staged == page.count)
            _ = try await untold.stage(page, job: nil, advancing: nil)
        }
        let contents = try await Self.contents(of: told)
        #expect(contents.count == 1_100)
        #expect(contents == (try await Self.contents(of: untold)))
        #expect(contents.last?.hasSuffix(" Given199 Family3|e199 p199 MRN199|1980-01-02") == true, "an episode takes its Patient's name, staged two pages before: \(contents.last ?? "")")
    }

    /// The same on both stores, read through the store's roles: each row's key, hash and payload,
    /// and a search that finds an episode by the name its Patient, two pages before, gave it.
    @Test(arguments: StoreKind.available)
    func pagesSaidToComeNextAreStagedAsTheyAreWithoutOnEitherStore(_ kind: StoreKind) async throws {
        let (told, untold) = try await kind.openTwo()
        for (index, page) in Self.pages.enumerated() {
            if index + 1 < Self.pages.count { told.prepareToStage(Self.pages[index + 1]) }
            #expect(try await told.stage(page, job: nil, advancing: nil).staged == page.count)
            _ = try await untold.stage(page, job: nil, advancing: nil)
        }
        let staged = try await Self.contents(told)
        #expect(staged.count == 1_100)
        #expect(staged == (try await Self.contents(untold)))
        for store in [told, untold] {
            #expect(Set(try await store.rows(RowQuery(filter: RowFilter(text: "Given199"), limit: 10)).map(\.sourceID)) == ["p199", "e199"])
        }
    }

    /// Each staged row's key, hash and payload, read through the store's roles, sorted.
    static func contents(_ store: any ConformingStore) async throws -> [String] {
        var lines: [String] = []
        for summary in try await store.rows(RowQuery(limit: 2_000)) {
            let row = try #require(try await store.row(id: summary.id))
            lines.append("\(row.sourceID) \(row.contentHash) \(String(decoding: row.payload, as: UTF8.self))")
        }
        return lines.sorted()
    }

    /// The pages staged as a pull stages them (``PageStaging``: two in flight on PostgreSQL, one
    /// at a time on SQLite), each said to come next: the same rows, payloads and person documents
    /// as staged one by one, every page counted, and the watermark past the last page.
    @Test(arguments: StoreKind.available)
    func pagesStagedAsAPullStagesThemAreStagedAsOneByOneAndTheWatermarkEndsPastTheLast(_ kind: StoreKind) async throws {
        let (pulled, oneByOne) = try await kind.openTwo()
        #expect(pulled.pagesInFlight == (kind == .postgres ? 2 : 1))
        var staged = 0
        // The Patients, then their episodes: each type a pull of its own, as in a cycle.
        for pages in [Array(Self.pages.prefix(3)), [Self.pages[3]]] {
            let type = pages[0][0].resourceType
            let staging = PageStaging<Void>(store: pulled, job: nil) { _, result in staged += result.staged }
            for (index, page) in pages.enumerated() {
                if index + 1 < pages.count { pulled.prepareToStage(pages[index + 1]) }
                let high = try #require(page.compactMap(\.lastUpdated).max())
                try await staging.stage(page, advancing: WatermarkAdvance(system: .emr, resourceType: type, to: high), context: ())
            }
            try await staging.finish()
            for page in pages { _ = try await oneByOne.stage(page, job: nil, advancing: nil) }
        }
        #expect(staged == 1_100)
        #expect(try await Self.contents(pulled) == (try await Self.contents(oneByOne)))
        #expect(try await pulled.watermark(system: .emr, resourceType: "Patient") == Self.pages[2].last?.lastUpdated)
        #expect(try await pulled.watermark(system: .emr, resourceType: "EpisodeOfCare") == Self.pages[3].last?.lastUpdated)
        #expect(
            Set(try await pulled.rows(RowQuery(filter: RowFilter(text: "Given199"), limit: 10)).map(\.sourceID)) == ["p199", "e199"],
            "an episode staged after its Patients' pull finds its Patient's name")
    }

    @Test func aPageSaidToComeAndNotStagedChangesNothingAndThePageStagedInsteadIsStagedAsUsual() async throws {
        let store = try SQLiteStore.temporary()
        store.prepareToStage(Self.pages[1])
        _ = try await store.stage(Self.pages[0], job: nil, advancing: nil)
        store.prepareToStage(Self.pages[1])
        // Another page than the one said to come: staged as usual; the one said is not staged.
        _ = try await store.stage(Self.pages[2], job: nil, advancing: nil)
        let ids = try await store.pool.read { db in try String.fetchAll(db, sql: "SELECT sourceID FROM staged_row ORDER BY id") }
        #expect(ids == (Self.pages[0] + Self.pages[2]).map(\.sourceID))
        // The page said to come, staged later with another array of the same records, is staged once.
        #expect(try await store.stage(Array(Self.pages[1]), job: nil, advancing: nil).staged == 300)
        #expect(try await store.stage(Self.pages[1], job: nil, advancing: nil).deduplicated == 300)
        #expect(try await store.countRows(.all) == 900)
    }

    /// Two pullers staging into one store at once (the types of one wave) each say their next page:
    /// staging one puller's page leaves the other's waiting, and both are staged as without.
    @Test func pagesOfTwoPullersSaidToComeWaitSideBySide() async throws {
        let store = try SQLiteStore.temporary()
        let (first, second) = (Self.pages[0], Self.pages[1])
        store.prepareToStage(first)
        store.prepareToStage(second)
        #expect(try await store.stage(second, job: nil, advancing: nil).staged == 300)
        #expect(store.upcoming.take(first) != nil, "the other puller's page still waits, prepared")
        #expect(store.upcoming.take(second) == nil, "a page staged is taken out")
        #expect(try await store.stage(first, job: nil, advancing: nil).staged == 300)
        let ids = try await store.pool.read { db in try String.fetchAll(db, sql: "SELECT sourceID FROM staged_row ORDER BY id") }
        #expect(ids == (second + first).map(\.sourceID))
    }

    @Test func anEncryptedStoreStagesAPageSaidToComeSealedAndBlindedAsWithout() async throws {
        let folder = try TemporaryFolder("upcoming-encrypted")
        let store = try SQLiteStore(path: folder.url.appendingPathComponent("s.sqlite").path, key: try StoreKey.generate(at: folder.url.appendingPathComponent("k").path))
        for (index, page) in Self.pages.enumerated() {
            if index + 1 < Self.pages.count { store.prepareToStage(Self.pages[index + 1]) }
            _ = try await store.stage(page, job: nil, advancing: nil)
        }
        let claimed = try await store.claimRows(ClaimRequest(), limit: 2_000, actor: .job(1))
        #expect(claimed.map(\.payload) == Self.pages.flatMap { $0 }.map(\.payload))
        #expect(try await store.countRows(RowFilter(text: "Given599")) == 1)
        #expect(try await store.countRows(RowFilter(text: "Given150")) == 2, "the Patient and its episode")
    }
}
