import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkPostgres
import Testing

@testable import StagelinkStore

extension StoreKind {
    /// The same store opened a second time, as another process would: a second file connection, or
    /// a second pool on the same schema.
    func reopen(_ store: any ConformingStore) async throws -> any ConformingStore {
        switch store {
        case let sqlite as SQLiteStore: try SQLiteStore(path: sqlite.path)
        case let postgres as PostgresStore: try await PostgresStore(location: postgres.location, schema: postgres.schema)
        default: throw StoreKindError.unknownStore
        }
    }

    /// Runs a statement on the store's tables behind its back, as another program (or a person at
    /// `sqlite3` or `psql`) would.
    func execute(_ sql: String, on store: any ConformingStore) async throws {
        switch store {
        case let sqlite as SQLiteStore:
            try await sqlite.pool.write { db in try db.execute(sql: sql) }
        case let postgres as PostgresStore:
            let location = postgres.location
            var configuration = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.user, password: location.password, database: location.database, tls: .disable)
            configuration.options.additionalStartupParameters = [("search_path", postgres.schema)]
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test"))
            defer { Task { try? await connection.close() } }
            let rows: PostgresRowSequence = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test"))
            for try await _ in rows {}
        default:
            throw StoreKindError.unknownStore
        }
    }

    enum StoreKindError: Error { case unknownStore }
}

/// The roles the console, the commands and compliance read (policy, rows, history, the access log,
/// retention), change tracking and lease fencing: the same bodies on SQLite and on PostgreSQL.
extension StoreConformanceTests {
    private func patient(_ id: String, family: String, given: String = "Ana", birthDate: String = "1984-02-29") -> IncomingRecord {
        record(id, #"{"resourceType":"Patient","id":"\#(id)","name":[{"family":"\#(family)","given":["\#(given)"]}],"birthDate":"\#(birthDate)"}"#)
    }

    private func episode(_ id: String, of patient: String) -> IncomingRecord {
        record(id, #"{"resourceType":"EpisodeOfCare","id":"\#(id)","patient":{"reference":"Patient/\#(patient)"}}"#, type: "EpisodeOfCare")
    }

    // MARK: - Policy

    @Test(arguments: StoreKind.available)
    func thePolicyIsLoadedChangedByAPersonAndEveryChangeIsInTheAuditTrail(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let file = Actor("file:mapping.yaml")
        let loaded = try await store.loadPolicy(
            [PolicyDeclaration(object: "Contact", field: "Phone", rule: .salesforce), PolicyDeclaration(object: "Contact", field: "LastName", rule: .emr)],
            actor: file)
        #expect(loaded.map(\.field) == ["Phone", "LastName"])
        #expect(loaded.allSatisfy { $0.oldRule == nil && $0.reason == "first loaded from the mapping file" })
        #expect(try await store.loadPolicy([PolicyDeclaration(object: "Contact", field: "Phone", rule: .salesforce)], actor: file).isEmpty, "nothing changed")

        let changed = try #require(
            try await store.setPolicyRule(object: "Contact", field: "Phone", rule: .hold, actor: .operator("dana"), reason: "two sources disagree"))
        #expect(changed.oldRule == .salesforce)
        #expect(changed.newRule == .hold)
        #expect(changed.actor == .operator("dana"))
        #expect(try await store.setPolicyRule(object: "Contact", field: "Phone", rule: .hold, actor: .operator("dana"), reason: nil) == nil)
        await #expect(throws: PolicyError.unknownField("Contact.Nickname")) {
            _ = try await store.setPolicyRule(object: "Contact", field: "Nickname", rule: .emr, actor: .operator("dana"), reason: nil)
        }
        // The file declaring Phone again as before leaves the person's change; a new owner in the file takes over.
        #expect(try await store.loadPolicy([PolicyDeclaration(object: "Contact", field: "Phone", rule: .salesforce)], actor: file).isEmpty)
        let fileChanged = try await store.loadPolicy([PolicyDeclaration(object: "Contact", field: "Phone", rule: .emr)], actor: file)
        #expect(fileChanged.map(\.oldRule) == [.hold])
        #expect(fileChanged.map(\.reason) == ["the mapping file changed"])

        let rules = try await store.policyRules()
        #expect(rules.map(\.field) == ["LastName", "Phone"])
        #expect(rules.map(\.rule) == [.emr, .emr])
        let phone = try await store.policyAudit(object: "Contact", field: "Phone", limit: 10)
        #expect(phone.map(\.newRule) == [.emr, .hold, .salesforce], "newest first")
        #expect(phone.map(\.id) == phone.map(\.id).sorted(by: >))
        #expect(try await store.policyAudit(object: nil, field: nil, limit: 2).count == 2)
        #expect(try await store.policyAudit(object: "Account", field: nil, limit: 10).isEmpty)
    }

    // MARK: - Rows

    @Test(arguments: StoreKind.available)
    func rowsArePagedByTheirSortInBothDirectionsAndCountedByFilter(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let types = ["Patient", "EpisodeOfCare", "Account", "Patient", "Account", "QuestionnaireResponse", "Patient"]
        let staged = try await store.stage(types.enumerated().map { record("r\($0.offset)", "{}", type: $0.element) }, job: nil, advancing: nil)
        let sort = RowSort(column: .resourceType)
        var pages: [[StagedRowSummary]] = []
        var cursor: RowCursor?
        repeat {
            let page = try await store.rows(RowQuery(sort: sort, after: cursor, limit: 3))
            if page.isEmpty { break }
            pages.append(page)
            cursor = page.last?.cursor(for: sort)
        } while pages.count < 10
        let expected = zip(staged.rowIDs, types).sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
        #expect(pages.flatMap { $0 }.map(\.id) == expected)
        #expect(pages.map(\.count) == [3, 3, 1])
        // Page Up from the last page's first row: the page before it, in display order.
        let back = try await store.rows(RowQuery(sort: sort, after: pages[2][0].cursor(for: sort), backwards: true, limit: 3))
        #expect(back.map(\.id) == pages[1].map(\.id))
        let descending = try await store.rows(RowQuery(sort: RowSort(column: .id, descending: true), limit: 2))
        #expect(descending.map(\.id) == Array(staged.rowIDs.reversed().prefix(2)))

        #expect(try await store.countRows(.all) == 7)
        #expect(try await store.countRows(RowFilter(resourceType: "Patient")) == 3)
        #expect(try await store.countRows(RowFilter(resourceType: "Patient", inverted: true)) == 4)
        #expect(try await store.countRows(RowFilter(statuses: [.failed])) == 0)
        #expect(try await store.countRows(RowFilter(sourceID: "r2")) == 1)
        #expect(try await store.rows(RowQuery(filter: RowFilter(text: String(staged.rowIDs[4])))).map(\.id) == [staged.rowIDs[4]], "a number is a row id")
    }

    @Test(arguments: StoreKind.available)
    func rowsReadByIdsComeInOneReadInIdOrderWithTheirPayloadsAndUnknownIdsLeftOut(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage(
            [patient("p1", family: "Okafor"), episode("e1", of: "p1"), patient("p2", family: "Lone")], job: nil, advancing: nil)
        let rows = try await store.rows(ids: [staged.rowIDs[2], 999_999, staged.rowIDs[0]])
        #expect(rows.map(\.id) == [staged.rowIDs[0], staged.rowIDs[2]])
        #expect(rows.map(\.sourceID) == ["p1", "p2"])
        #expect(rows[1].payload == patient("p2", family: "Lone").payload)
        for row in rows { #expect(try await store.row(id: row.id)?.payload == row.payload) }
        #expect(try await store.rows(ids: []).isEmpty)
    }

    @Test(arguments: StoreKind.available)
    func aPersonIsFoundByNameWithoutAccentsAndTheirChildRowsWithThemAndTypedSyntaxIsText(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage(
            [patient("p1", family: "Müller", given: "Zoë"), episode("e1", of: "p1"), patient("p2", family: "Okafor")], job: nil, advancing: nil)
        let (müller, ofMüller, okafor) = (staged.rowIDs[0], staged.rowIDs[1], staged.rowIDs[2])
        let found = try await store.rows(RowQuery(filter: RowFilter(text: "zoe MULLER")))
        #expect(found.map(\.id) == [müller, ofMüller])
        #expect(found.first?.personName == "Zoë Müller" || found.first?.personName == "Müller Zoë")
        #expect(try await store.countRows(RowFilter(text: "muller", inverted: true)) == 1)
        #expect(try await store.rows(RowQuery(filter: RowFilter(resourceType: "EpisodeOfCare", text: "müller"))).map(\.id) == [ofMüller])
        for hostile in [#"" OR 1=1 --"#, "müller | okafor", "!okafor", "okafor:*", "(zoe & muller)", "\u{0}\u{1B}[2J"] {
            let rows = try await store.rows(RowQuery(filter: RowFilter(text: hostile)))
            #expect(!rows.contains { $0.id == okafor } || hostile.contains("okafor"), "\(hostile)")
            #expect(rows.count <= 3)
        }
        #expect(try await store.rows(RowQuery(filter: RowFilter(text: "(zoe & muller)"))).map(\.id) == [müller, ofMüller], "operators are punctuation")
        let names = try await store.personNames(ofRows: [müller, okafor, 999_999])
        #expect(Set(names.keys) == [müller, okafor])
        #expect(names[okafor]?.contains("Okafor") == true)
    }

    /// Both stores split words at every character that is not a letter or a digit: a part of an
    /// e-mail address, a dotted or hyphenated identifier or a double-barrelled name is a word of its
    /// own (PostgreSQL's text parser, which the PostgreSQL store used before, kept an address whole).
    @Test(arguments: StoreKind.available)
    func everyWordOfAnIdentifierOrNameIsFoundWhateverPunctuationJoinsThem(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let zoe = record(
            "p1",
            """
            {"resourceType":"Patient","id":"p1","identifier":[{"value":"zoe.muller@clinic.example"},{"value":"MRN-2024.0042"}],\
            "name":[{"family":"Müller-Lüdenscheidt","given":["Zoë"]}]}
            """)
        let staged = try await store.stage([zoe, episode("e1", of: "p1"), patient("p2", family: "Okafor")], job: nil, advancing: nil)
        let both = Array(staged.rowIDs.prefix(2))
        func found(_ text: String) async throws -> [Int64] { try await store.rows(RowQuery(filter: RowFilter(text: text))).map(\.id) }
        #expect(try await found("clinic") == both)
        #expect(try await found("zoe.muller@clinic.example") == both)
        #expect(try await found("0042") == both)
        #expect(try await found("mrn-2024.0042") == both)
        #expect(try await found("ludenscheidt zoe") == both)
        #expect(try await found("clinic okafor") == [], "every word must match")
        #expect(try await found("@.-") == [], "punctuation alone holds no word and finds nothing")
        #expect(try await store.countRows(RowFilter(text: "@.-", inverted: true)) == 3)
    }

    /// Every probe of `Tests/HostileInputs/search-text.jsonl` is plain words on every store: no
    /// error, no syntax obeyed (a column filter, a prefix, `NEAR`, `OR`, `&`, `:*` find nothing the
    /// words themselves do not), and the table untouched.
    @Test(arguments: StoreKind.available)
    func everyHostileSearchProbeIsPlainWords(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage(
            [patient("p1", family: "Müller", given: "Zoë"), episode("e1", of: "p1"), patient("p2", family: "Okafor")], job: nil, advancing: nil)
        let zoe = Array(staged.rowIDs.prefix(2))
        func found(_ text: String) async throws -> [Int64] { try await store.rows(RowQuery(filter: RowFilter(text: text))).map(\.id) }
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "HostileInputs/search-text.jsonl")
        let probes = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(String.self, from: Data($0.utf8))
        }
        #expect(probes.count >= 25)
        for probe in probes where !probe.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let matched = try await found(probe)
            let counted = try await store.countRows(RowFilter(text: probe))
            let others = try await store.countRows(RowFilter(text: probe, inverted: true))
            #expect(matched.count == counted && counted + others == 3, "\(probe.debugDescription)")
            #expect(matched.isEmpty || matched == zoe, "\(probe.debugDescription) matched \(matched)")
        }
        #expect(try await found("müller OR *") == [], "OR and * are words no document holds")
        #expect(try await found("mül*") == [], "no prefix search")
        #expect(try await found("name:müller") == [], "no column filter")
        #expect(try await found("NEAR(zoë müller)") == [], "no NEAR group")
        #expect(try await found("müller:*") == zoe, "no tsquery prefix either: `:*` is punctuation")
        #expect(try await found("\"müller\"") == zoe, "quotes are only quotes")
        #expect(try await found("müller\u{1b}zoë") == zoe, "a control character separates words")
        #expect(try await found("\u{202e}müller") == zoe)
        #expect(try await found("*") == [], "nothing searchable: nothing found")
        #expect(try await store.countRows(.all) == 3)
    }

    @Test(arguments: StoreKind.available)
    func aRowsParentIsItsNewestRowAndIsLinkedOnceItsLinkExists(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let first = try await store.stage([patient("p1", family: "Okafor"), episode("e1", of: "p1"), patient("p9", family: "Lone")], job: nil, advancing: nil)
        let newer = try await store.stage([record("p1", #"{"resourceType":"Patient","id":"p1","name":[{"family":"Okafor-Ade"}]}"#, version: "2")], job: nil, advancing: nil)
        let episodeRow = first.rowIDs[1]
        let parents = try await store.parents(ofRows: [episodeRow, first.rowIDs[2]])
        #expect(parents.keys.sorted() == [episodeRow], "a Patient has no parent")
        let parent = try #require(parents[episodeRow])
        #expect(parent.key == SourceKey(system: .emr, resourceType: "Patient", sourceID: "p1"))
        #expect(parent.row?.id == newer.rowIDs[0])
        #expect(parent.isLinked == false)
        _ = try await store.claimRows(ClaimRequest(rowIDs: [first.rowIDs[0]]), limit: 1, actor: .job(1))
        let link = RecordLink(
            source: parent.key, targetType: "Contact", targetID: "003P1", recordKey: "p1", linkedRowID: first.rowIDs[0],
            linkedVersion: RecordVersion(version: "1", lastUpdated: nil), updatedAt: Date())
        try await store.record([LinkOutcome(rowID: first.rowIDs[0], actor: .job(1), at: Date(), status: .linked, attempt: .linked, links: [link])])
        #expect(try await store.parents(ofRows: [episodeRow])[episodeRow]?.isLinked == true)
    }

    @Test(arguments: StoreKind.available)
    func failedRowsAreGroupedByCodeLargestGroupFirstWithTheNewestMessage(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage(
            [record("a", "{}"), record("b", "{}", type: "EpisodeOfCare"), record("c", "{}"), record("d", "{}")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        func failed(_ index: Int, _ code: String, _ message: String) -> LinkOutcome {
            LinkOutcome(rowID: staged.rowIDs[index], actor: .job(1), at: Date(), status: .failed, attempt: .failed, error: LinkError(code: code, message: message))
        }
        try await store.record([
            failed(0, "INVALID_FIELD", "first"), failed(1, "INVALID_FIELD", "second"), failed(2, "INVALID_FIELD", "newest"), failed(3, "DUPLICATE_VALUE", "dup"),
        ])
        let groups = try await store.failureGroups()
        #expect(groups.map(\.errorCode) == ["INVALID_FIELD", "DUPLICATE_VALUE"])
        #expect(groups.map(\.count) == [3, 1])
        #expect(groups.first?.resourceTypes == ["EpisodeOfCare", "Patient"])
        #expect(groups.first?.sampleMessage == "newest")
        #expect(groups.first?.newestRowID == staged.rowIDs[2])
        #expect(try await store.countRows(RowFilter(statuses: [.failed], errorCode: "INVALID_FIELD")) == 3)
    }

    // MARK: - History

    @Test(arguments: StoreKind.available)
    func aRowsHistoryAttemptsAndWritesAreReadBackInOrder(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let job = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        let staged = try await store.stage([record("p1", "{}")], job: job.id, advancing: nil)
        let id = staged.rowIDs[0]
        let mark = try await store.lastAttemptID()
        _ = try await store.claimRows(ClaimRequest(), limit: 1, actor: .job(7))
        let at = Date(timeIntervalSince1970: 1_790_000_500)
        try await store.record([
            LinkOutcome(rowID: id, actor: .job(7), at: at, status: .failed, attempt: .failed, error: LinkError(code: "UNABLE_TO_LOCK_ROW", message: "locked"))
        ])
        _ = try await store.claimRows(ClaimRequest(statuses: [.failed]), limit: 1, actor: .job(7))
        let key = MappedRecordKey(object: "Contact", key: "p1")
        try await store.record([
            LinkOutcome(
                rowID: id, actor: .job(7), at: at.addingTimeInterval(1), status: .linked, attempt: .linked,
                writes: [FieldWrite(record: key, field: "LastName", value: .text("Okafor"), writtenTo: .salesforce, rowID: id, jobID: 7, rule: .emr, actor: .job(7), at: at, reason: "the EMR owns it")])
        ])
        let history = try await store.history(ofRow: id)
        #expect(history.map(\.to) == [.staged, .failed, .linked])
        #expect(history.first?.actor == .job(job.id))
        #expect(history.first?.note == "received")
        #expect(history.last?.from == .failed)
        #expect(history.last?.actor == .job(7))
        let attempts = try await store.attempts(ofRow: id)
        #expect(attempts.map(\.number) == [1, 2])
        #expect(attempts.map(\.outcome) == [.failed, .linked])
        #expect(attempts.first?.error?.code == "UNABLE_TO_LOCK_ROW")
        let writes = try await store.writes(byRow: id)
        #expect(writes.map(\.value) == [.text("Okafor")])
        #expect(writes.first?.reason == "the EMR owns it")
        #expect(try await store.lastAttemptID() > mark)
        #expect(try await store.rowsAttempted(byJob: 7, since: mark) == [id])
        #expect(try await store.rowsAttempted(byJob: 8, since: mark).isEmpty)
        #expect(try await store.history(ofRow: 999_999).isEmpty)
    }

    @Test(arguments: StoreKind.available)
    func conflictsAreQueriedByStatusRowAndKindAndAHeldMergeKeepsItsRecords(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([patient("p1", family: "Okafor"), patient("p2", family: "Lone")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        let key = MappedRecordKey(object: "Contact", key: "p1")
        let merge = HeldMerge(
            mergedIn: .emr, type: "Patient", loserID: "p2", survivorID: "p1", counterpartType: "Contact", loserCounterpartID: "003B",
            survivorCounterpartID: "003A")
        try await store.record([
            LinkOutcome(
                rowID: staged.rowIDs[0], actor: .job(1), at: Date(), status: .held, attempt: .held,
                conflicts: [ConflictRecord(record: key, field: "Phone", rowID: staged.rowIDs[0], emrValue: .text("555"), salesforceValue: .text("556"), rule: .hold, winner: nil)]),
            LinkOutcome(
                rowID: staged.rowIDs[1], actor: .job(1), at: Date(), status: .held, attempt: .held,
                conflicts: [.heldMerge(merge, record: MappedRecordKey(object: "Contact", key: "p2"), rowID: staged.rowIDs[1])]),
        ])
        let all = try await store.conflicts(ConflictQuery())
        #expect(all.count == 2)
        #expect(all.map(\.id) == all.map(\.id).sorted(by: >), "newest first")
        let merges = try await store.conflicts(ConflictQuery(kind: .merge))
        #expect(merges.map(\.merge) == [merge])
        #expect(merges.first?.kind == .merge)
        let phone = try #require(try await store.conflicts(ConflictQuery(rowID: staged.rowIDs[0])).first)
        #expect(phone.field == "Phone")
        #expect(phone.emrValue == .text("555"))
        #expect(phone.personName?.contains("Okafor") == true)
        #expect(try await store.conflict(id: phone.id) == phone)
        #expect(try await store.conflict(id: 999_999) == nil)
        #expect(try await store.countConflicts(status: .open) == 2)
        #expect(try await store.countConflicts(status: .resolved) == 0)
        #expect(try await store.countConflicts(status: nil) == 2)
        #expect(try await store.conflicts(ConflictQuery(statuses: [.resolved])).isEmpty)
        #expect(try await store.conflicts(ConflictQuery(before: all[0].id)).map(\.id) == [all[1].id])
    }

    @Test(arguments: StoreKind.available)
    func aStatusThisBuildDoesNotKnowIsAnErrorNamingItNeverADefault(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("p1", "{}")], job: nil, advancing: nil)
        try await kind.execute("UPDATE staged_row SET status = 'stagd' WHERE id = \(staged.rowIDs[0])", on: store)
        let error = await #expect(throws: UnreadableValue.self) { _ = try await store.row(id: staged.rowIDs[0]) }
        #expect(error == UnreadableValue(column: "staged_row.status", value: "stagd"))
        await #expect(throws: UnreadableValue.self) { _ = try await store.rows(RowQuery()) }
        await #expect(throws: UnreadableValue.self) { _ = try await store.history(ofRow: staged.rowIDs[0]) }
        try await kind.execute(
            "INSERT INTO policy_rule (object, field, rule, fileRule, changedBy, changedAt) VALUES ('Contact', 'Phone', 'sales-force', NULL, 'x', 0)", on: store)
        await #expect(throws: UnreadableValue(column: "policy_rule.rule", value: "sales-force")) { _ = try await store.policyRules() }
    }

    // MARK: - Access log and retention

    @Test(arguments: StoreKind.available)
    func everyReadIsLoggedAndTheLogIsReadNewestFirstByRowAndOperator(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        try await store.recordAccess([
            RowAccess(at: Date(timeIntervalSince1970: 1), rowID: 1, operatorName: "dana", process: "console", via: .console),
            RowAccess(at: Date(timeIntervalSince1970: 2), rowID: 2, operatorName: "eli", process: "stagelink show", via: .show),
        ])
        try await store.recordAccess(RowAccess(at: Date(timeIntervalSince1970: 3), rowID: 1, operatorName: "eli", process: "stagelink why", via: .why))
        let log = try await store.accessLog(AccessQuery())
        #expect(log.map(\.rowID) == [1, 2, 1])
        #expect(log.map(\.via) == [.why, .show, .console])
        #expect(log.first?.at == Date(timeIntervalSince1970: 3))
        #expect(try await store.accessLog(AccessQuery(rowID: 1)).map(\.operatorName) == ["eli", "dana"])
        #expect(try await store.accessLog(AccessQuery(operatorName: "eli")).map(\.rowID) == [1, 2])
        #expect(try await store.accessLog(AccessQuery(before: log[0].id, limit: 1)).map(\.id) == [log[1].id])
        await #expect(throws: (any Error).self) { try await kind.execute("DELETE FROM row_access", on: store) }
        #expect(try await store.accessLog(AccessQuery()).count == 3, "append-only")
    }

    @Test(arguments: StoreKind.available)
    func aPurgeEmptiesOldPayloadsNamesAndWrittenValuesAndKeepsItsAudit(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([patient("p1", family: "Müller"), patient("p2", family: "Okafor")], job: nil, advancing: nil)
        _ = try await store.claimRows(ClaimRequest(rowIDs: [staged.rowIDs[0]]), limit: 1, actor: .job(1))
        let key = MappedRecordKey(object: "Contact", key: "p1")
        try await store.record([
            LinkOutcome(
                rowID: staged.rowIDs[0], actor: .job(1), at: Date(), status: .linked, attempt: .linked,
                writes: [FieldWrite(record: key, field: "LastName", value: .text("Müller"), writtenTo: .salesforce, rowID: staged.rowIDs[0], jobID: 1, rule: .emr, actor: .job(1), at: Date(), reason: "the EMR owns it")])
        ])
        let size = try #require(try await store.row(id: staged.rowIDs[0])).payload.count
        let cutoff = Date().addingTimeInterval(60)
        let dry = try await store.purgePayloads(receivedBefore: cutoff, actor: .operator("dana"), dryRun: true)
        #expect(dry.rows == 1, "only the linked row is purgeable")
        #expect(dry.bytes == size)
        #expect(try await store.payloadPurges(limit: 10).isEmpty, "a dry run leaves no audit")
        let purge = try await store.purgePayloads(receivedBefore: cutoff, actor: .operator("dana"), dryRun: false)
        #expect(purge.rows == 1)
        #expect(purge.bytes == size)
        let row = try #require(try await store.row(id: staged.rowIDs[0]))
        #expect(row.payload.isEmpty)
        #expect(row.payloadPurgedAt != nil)
        #expect(row.contentHash == patient("p1", family: "Müller").contentHash, "the hash stays")
        #expect(try await store.row(id: staged.rowIDs[1])?.payload.isEmpty == false)
        #expect(try await store.rows(RowQuery(filter: RowFilter(text: "muller"))).isEmpty, "the name went with the payload")
        let write = try #require(try await store.writes(byRow: staged.rowIDs[0]).first)
        #expect(write.field == "LastName")
        #expect(write.value != .text("Müller"))
        let audit = try await store.payloadPurges(limit: 10)
        #expect(audit.map(\.rows) == [1])
        #expect(audit.first?.actor == .operator("dana"))
        #expect(audit.first?.id == purge.id)
        #expect(try await store.purgePayloads(receivedBefore: cutoff, actor: .system, dryRun: false).rows == 0, "nothing is purged twice")
    }

    // MARK: - Change tracking and fencing

    @Test(arguments: StoreKind.available)
    func aWriteThroughOneStoreMovesTheChangeTokenAnotherSees(_ kind: StoreKind) async throws {
        let writer = try await kind.open()
        let reader = try await kind.reopen(writer)
        let before = try await reader.changeToken()
        _ = try await writer.stage([record("p1", "{}")], job: nil, advancing: nil)
        // A notification arrives on its own connection after the commit: wait for it (bounded), never for a time.
        var after = try await reader.changeToken()
        for _ in 0..<500 where after == before {
            try await Task.sleep(for: .milliseconds(20))
            after = try await reader.changeToken()
        }
        #expect(after != before)
    }

    @Test(arguments: StoreKind.available)
    func aStaleLeaseHoldersWritesAreRefusedAndNothingOfThemLands(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let first = LeaseHolder(name: "run", host: "a", pid: 1)
        let second = LeaseHolder(name: "run", host: "b", pid: 2)
        guard case .acquired(let held, _) = try await store.acquireLease(first, for: .seconds(60)) else { Issue.record("not taken"); return }
        let stale = store.fenced(by: held.epoch)
        let job = try await stale.startJob(kind: .link, direction: .inbound, actor: .system)
        _ = try await stale.stage([record("p1", "{}")], job: job.id, advancing: nil)
        guard case .acquired(let taken, _) = try await store.acquireLease(second, for: .seconds(60), replacing: first) else { Issue.record("not taken over"); return }
        #expect(try await store.interruptRunningJobs(message: "taken over") == 1)

        var finished = job
        finished.status = .succeeded
        let refused = await #expect(throws: StaleLease.self) { try await stale.updateJob(finished) }
        #expect(refused?.epoch == held.epoch)
        #expect(refused?.current?.holder == second)
        #expect(refused?.current?.epoch == taken.epoch)
        #expect(try await store.job(id: job.id)?.status == .interrupted)
        await #expect(throws: StaleLease.self) { _ = try await stale.stage([record("p2", "{}")], job: job.id, advancing: nil) }
        await #expect(throws: StaleLease.self) { _ = try await stale.startJob(kind: .pull, direction: .inbound, actor: .system) }
        await #expect(throws: StaleLease.self) { try await stale.appendEvents([SyncEvent(at: Date(), jobID: nil, level: .info, message: "late")]) }
        await #expect(throws: StaleLease.self) { _ = try await stale.takeSyncRequests() }
        await #expect(throws: StaleLease.self) { _ = try await stale.claimRows(ClaimRequest(), limit: 10, actor: .job(job.id)) }
        await #expect(throws: StaleLease.self) {
            _ = try await stale.setPolicyRule(object: "Contact", field: "Phone", rule: .emr, actor: .system, reason: nil)
        }
        #expect(try await store.countRows(.all) == 1, "only the row staged while the lease was held")
        #expect(try await store.jobs(before: nil, limit: 10).count == 1)
        // A renewal by the stale holder is answered, not refused: the lease is someone else's.
        guard case .heldBy(let holder) = try await stale.acquireLease(first, for: .seconds(60)) else { Issue.record("renewed a lost lease"); return }
        #expect(holder.holder == second)

        _ = try await store.fenced(by: taken.epoch).stage([record("p2", "{}")], job: nil, advancing: nil)
        #expect(try await store.countRows(.all) == 2)
        try await store.releaseLease(second)
        let released = await #expect(throws: StaleLease.self) { _ = try await store.fenced(by: taken.epoch).startJob(kind: .pull, direction: .inbound, actor: .system) }
        #expect(released?.current == nil)
    }
}

/// What monitoring reads and alerting keeps (``MonitoringReader``, ``AlertStore``), on both stores.
extension StoreConformanceTests {
    @Test(arguments: StoreKind.available)
    func theOperationsSnapshotCountsRowsFailuresConflictsJobsAndTheLease(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let staged = try await store.stage([record("a", "{}"), record("b", "{}"), record("c", "{}", type: "EpisodeOfCare")], job: nil, advancing: nil)
        _ = try await store.stage([], job: nil, advancing: WatermarkAdvance(system: .emr, resourceType: "Patient", to: Date(timeIntervalSince1970: 5_000)))
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        try await store.record([
            LinkOutcome(rowID: staged.rowIDs[0], actor: .job(1), at: Date(), status: .failed, attempt: .failed, error: LinkError(code: "INVALID_FIELD", message: "x")),
            LinkOutcome(
                rowID: staged.rowIDs[1], actor: .job(1), at: Date(), status: .held, attempt: .held,
                conflicts: [ConflictRecord(record: MappedRecordKey(object: "Contact", key: "b"), field: "Phone", rowID: staged.rowIDs[1], emrValue: .text("1"), salesforceValue: .text("2"), rule: .hold, winner: nil)]),
        ])
        var pull = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        pull.status = .succeeded
        pull.finishedAt = Date()
        pull.apiUsage = APIUsage(used: 10, limit: 100)
        try await store.updateJob(pull)
        var refused = try await store.startJob(kind: .pull, direction: .outbound, actor: .system)
        refused.status = .failed
        refused.finishedAt = Date()
        refused.message = "\(RemoteCallError.Kind.unauthorized.rawValue): invalid_grant"
        try await store.updateJob(refused)
        let running = try await store.startJob(kind: .link, direction: .inbound, actor: .system)
        _ = try await store.acquireLease(LeaseHolder(name: "run", host: "a", pid: 1), for: .seconds(60))

        let snapshot = try await store.operationsSnapshot()
        #expect(Set(snapshot.rows.map { "\($0.resourceType) \($0.status.rawValue) \($0.count)" }) == ["Patient failed 1", "Patient held 1", "EpisodeOfCare staged 1"])
        #expect(snapshot.failedByCode == ["INVALID_FIELD": 1])
        #expect(snapshot.oldestFailedReceivedAt != nil)
        #expect(snapshot.watermarks.map(\.value) == [Date(timeIntervalSince1970: 5_000)])
        #expect(snapshot.conflicts == [.open: 1])
        #expect(snapshot.conflictsHeld == 1)
        #expect(snapshot.directions[.inbound]?.lastSuccessfulPull?.id == pull.id)
        #expect(snapshot.directions[.outbound]?.lastSuccessfulPull == nil)
        #expect(snapshot.directions[.outbound]?.lastFinished?.id == refused.id)
        #expect(snapshot.directions[.outbound]?.signInFailures == 1)
        #expect(snapshot.runningJobs.map(\.id) == [running.id])
        #expect(snapshot.apiUsage == APIUsage(used: 10, limit: 100))
        #expect(snapshot.lease?.holder.pid == 1)
        let finished = try await store.finishedJobs(afterID: 0, limit: 10)
        #expect(finished.jobs.map(\.id) == [pull.id, refused.id])
        #expect(finished.oldestRunning == running.id)
    }

    @Test(arguments: StoreKind.available)
    func anAlertFiresIsNotifiedResolvedAndKeepsEachDelivery(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let condition = AlertCondition(rule: "failed_rows", key: "INVALID_FIELD", severity: .warning, summary: "3 rows failed with INVALID_FIELD")
        let alert = try await store.openAlert(condition, at: Date(timeIntervalSince1970: 100))
        let other = try await store.openAlert(AlertCondition(rule: "pull_failing", key: "inbound", severity: .critical, summary: "s"), at: Date(timeIntervalSince1970: 101))
        try await store.markAlertNotified(id: alert.id, at: Date(timeIntervalSince1970: 110))
        try await store.recordDelivery(
            AlertDelivery(alertID: alert.id, event: .firing, webhook: "ops", attempt: 1, at: Date(timeIntervalSince1970: 110), httpStatus: 503, error: "503", delivered: false))
        try await store.recordDelivery(
            AlertDelivery(alertID: alert.id, event: .firing, webhook: "ops", attempt: 2, at: Date(timeIntervalSince1970: 111), httpStatus: 200, error: nil, delivered: true))
        try await store.resolveAlert(id: other.id, at: Date(timeIntervalSince1970: 120))
        #expect(try await store.firingAlerts().map(\.id) == [alert.id])
        let recent = try await store.recentAlerts(limit: 10)
        #expect(recent.map(\.id) == [other.id, alert.id])
        #expect(recent.first?.status == .resolved)
        #expect(recent.first?.resolvedAt == Date(timeIntervalSince1970: 120))
        #expect(recent.last?.condition == condition)
        #expect(recent.last?.notifications == 1)
        #expect(recent.last?.lastNotifiedAt == Date(timeIntervalSince1970: 110))
        let deliveries = try await store.deliveries(ofAlert: alert.id)
        #expect(deliveries.map(\.attempt) == [1, 2])
        #expect(deliveries.map(\.delivered) == [false, true])
        #expect(deliveries.first?.httpStatus == 503)
    }
}

/// Waiting rows and sync requests, read the same way on both stores.
extension StoreConformanceTests {
    @Test(arguments: StoreKind.available)
    func anAdmissionWaitingOnItsContactIsFoundOnceTheContactsNewestRowIsLinked(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        func salesforce(_ type: String, _ id: String, _ json: String) -> IncomingRecord {
            IncomingRecord(system: .salesforce, resourceType: type, sourceID: id, version: nil, lastUpdated: nil, payload: Array(json.utf8))
        }
        let staged = try await store.stage(
            [salesforce("Contact", "003A", #"{"Id":"003A","LastName":"Okafor"}"#), salesforce("Admission__c", "a0B1", #"{"Id":"a0B1","Contact__c":"003A"}"#)],
            job: nil, advancing: nil)
        let (contact, admission) = (staged.rowIDs[0], staged.rowIDs[1])
        _ = try await store.claimRows(ClaimRequest(), limit: 10, actor: .job(1))
        try await store.record([
            LinkOutcome(
                rowID: admission, actor: .job(1), at: Date(), status: .failed, attempt: .failed,
                error: LinkError(code: ErrorCode.waitingOnParent.rawValue, message: "Contact 003A is not linked yet"))
        ])
        #expect(try await store.rowsWaitingOnLinkedParents(system: .salesforce, limit: 10) == [])
        #expect(try await store.parents(ofRows: [admission])[admission]?.isLinked == false)
        // No link (the Contact is no EMR Patient yet), but its newest row is linked: settled.
        try await store.record([LinkOutcome(rowID: contact, actor: .job(1), at: Date(), status: .linked, attempt: .linked)])
        #expect(try await store.rowsWaitingOnLinkedParents(system: .salesforce, limit: 10) == [admission])
        #expect(try await store.parents(ofRows: [admission])[admission]?.isLinked == true)
    }

    @Test(arguments: StoreKind.available)
    func aSyncRequestForADirectionThisBuildDoesNotKnowIsAnErrorAndStaysInTheStore(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        try await kind.execute("INSERT INTO sync_request (directions, actor, at) VALUES ('inbound,sideways', 'operator:dana', 1)", on: store)
        await #expect(throws: UnreadableValue(column: "sync_request.directions", value: "sideways")) { _ = try await store.takeSyncRequests() }
        await #expect(throws: UnreadableValue.self) { _ = try await store.takeSyncRequests() }
    }
}
