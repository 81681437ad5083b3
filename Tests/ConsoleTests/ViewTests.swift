import StagelinkBenchmarks
import StagelinkEngine
import Testing

@testable import Console

/// Every view rendered into the screen model for a seeded store, checked cell by cell.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct ViewTests {
    private func openRow(_ id: Int64, in fixture: ConsoleFixture) async {
        await fixture.console.press(.character(":"))
        await fixture.console.type("row \(id)\n")
    }

    @Test func theHeaderNamesTheStoreEndpointsServiceCyclesAndAPIUsage() async throws {
        let fixture = try await ConsoleFixture.make(tab: .live)
        let screen = fixture.screen
        #expect(screen.text(row: 0).contains("Stagelink  store /tmp/") && screen.text(row: 0).contains("…/store.sqlite"), "the path gives way to the endpoints")
        #expect(screen.text(row: 0).contains("EMR https://emr.example.org/fhir  Salesforce https://acme.my.salesforce.com"))
        #expect(screen.text(row: 1).contains("service ● running  stagelink (pid 4242 on demo-host)"))
        #expect(screen.role(of: "● running") == .ok)
        #expect(screen.text(row: 2).contains("inbound ▶ job"))
        #expect(screen.text(row: 2).contains("linking Patient 62%"))
        #expect(screen.text(row: 2).contains("outbound pull ✓ push ◐ partial") || screen.text(row: 2).contains("outbound pull ✓ push ✓"))
        #expect(screen.text(row: 1).contains("health ◐ degraded"), "failed rows and open conflicts: degraded, by the model `status` uses")
        #expect(screen.text(row: 2).contains("API 11,407/100,000 (11%)"))
        #expect(screen.text(row: 2).contains("m ago · API"), "when the last cycle ended, as how long ago")
        #expect(!screen.text(row: 2).contains(":"), "no clock stamp, which grows by the date after midnight and pushed the API usage off the line")
        #expect(screen.text(row: 3).contains("1 Live") && screen.text(row: 3).contains("6 Conflicts") && screen.text(row: 3).hasSuffix("alice "))
        #expect(screen.role(of: "1 Live") == .tabActive)
        #expect(screen.role(of: "2 Staged") == .tab)
    }

    @Test func theLiveViewShowsEachDirectionsCycleProgressRateAndSparklines() async throws {
        let fixture = try await ConsoleFixture.make(tab: .live)
        let screen = fixture.screen
        #expect(screen.line(containing: "Inbound EMR → Salesforce") != nil)
        #expect(screen.line(containing: "▶ running · job")?.contains("link · started") == true)
        #expect(screen.line(containing: "phase  linking Patient") != nil)
        let bar = try #require(screen.line(containing: "████"))
        #expect(bar.contains("62%"))
        #expect(screen.role(of: "████") == .progress)
        #expect(screen.line(containing: "620/1,000 · ")?.contains("/s · ETA") == true)
        #expect(screen.line(containing: "○ idle · last cycle job") != nil, "the outbound direction has no cycle running")
        let records = try #require(screen.line(containing: "records "))
        #expect(records.contains(where: { Sparkline.blocks.contains($0) }))
        #expect(screen.line(containing: "failures ")?.contains("max 14") == true)
        #expect(records.contains(" since ") && records.contains(" · max "), "the sparkline says when its oldest cycle ran: \(records)")
        #expect(screen.line(containing: "Salesforce answered 503; retrying in 4s") != nil)
        #expect(screen.role(of: "Salesforce answered 503") == .error)
    }

    @Test func theLiveViewShowsTheAlertsFiringAboveTheEvents() async throws {
        let fixture = try await ConsoleFixture.make(tab: .live)
        #expect(fixture.screen.line(containing: "Alerts firing") == nil, "no panel while none fires")
        let alert = try await fixture.store.openAlert(
            AlertCondition(rule: "failedRows", key: "all", severity: .warning, summary: "40 failed rows (limit 10); largest codes: INVALID_FIELD 22"),
            at: fixture.now.addingTimeInterval(-300))
        _ = try await fixture.store.openAlert(
            AlertCondition(rule: "signInRefused", key: "outbound", severity: .critical, summary: "sign-in refused: the last outbound job (7) stopped with unauthorized:invalid_grant"),
            at: fixture.now)
        await fixture.console.poll()
        let screen = fixture.screen
        #expect(screen.line(containing: "Alerts firing") != nil)
        #expect(screen.line(containing: "▲ warning failedRows since ")?.contains("ago  40 failed rows (limit 10); largest codes: INVALID_FIELD 22") == true)
        #expect(screen.role(of: "▲ critical") == .error)
        #expect(screen.line(containing: "Salesforce answered 503; retrying in 4s") != nil, "the events stay below")
        try await fixture.store.resolveAlert(id: alert.id, at: fixture.now)
        await fixture.console.poll()
        #expect(fixture.screen.line(containing: "failedRows") == nil)
        #expect(fixture.screen.line(containing: "signInRefused") != nil)
    }

    @Test func theStagedViewShowsRowsWithTheCursorStatusesAndHints() async throws {
        let fixture = try await ConsoleFixture.make(tab: .staged)
        let screen = fixture.screen
        #expect(screen.line(containing: "Staged[300]") != nil)
        let header = try #require(screen.line(containing: "STATUS"))
        #expect(header.contains("ID↑") && header.contains("SOURCE ID") && header.contains("ERROR"))
        let cursorRow = try #require(screen.row(containing: "▸"))
        #expect(screen.text(row: cursorRow).contains("✓ linked"))
        #expect((1..<119).allSatisfy { screen[$0, cursorRow].role == .cursor }, "the whole selected row is in the cursor role")
        let failed = try #require(screen.row(containing: "✗ failed"))
        #expect(screen.text(row: failed).contains("INVALID_FIELD: Birthdate"))
        #expect(screen.role(of: "✗ failed") == .error)
        #expect(screen.role(of: "· staged") == .pending)
        let hints = screen.text(row: 39)
        #expect(hints.contains("<enter> detail") && hints.contains("<space> mark") && hints.contains("<r> retry") && hints.contains("<?> help"))
        #expect(screen.role(of: "<enter>") == .hintKey)
        #expect(screen.role(of: " detail") == .hint)
        let crumb = try #require(screen.column(of: " staged ", row: 37))
        #expect(screen[crumb, 37].role == .crumbActive)
    }

    @Test func theFailuresViewGroupsFailedRowsByCodeLargestFirst() async throws {
        let fixture = try await ConsoleFixture.make(tab: .failures)
        let screen = fixture.screen
        #expect(screen.line(containing: "Failures[40 rows · 5 codes]") != nil)
        let first = try #require(screen.row(containing: "▸"))
        #expect(screen.text(row: first).contains("INVALID_FIELD") && screen.text(row: first).contains("16"))
        #expect(screen.line(containing: "UNABLE_TO_LOCK_ROW")?.contains("↻ auto") == true)
        #expect(screen.line(containing: "MAPPING_INVALID_DATE")?.contains("by hand") == true)
        await fixture.console.press(.enter)
        let rows = fixture.screen
        #expect(rows.line(containing: "Failures(failed code:INVALID_FIELD)[16]") != nil)
        #expect(rows.text(row: 37).contains("failures  ›  INVALID_FIELD"))
        await fixture.console.press(.escape)
        #expect(fixture.screen.line(containing: "Failures[40 rows · 5 codes]") != nil)
    }

    @Test func theDetailShowsTheErrorTheRemoteBodyAndHighlightsTheFailingFieldInThePayload() async throws {
        let fixture = try await ConsoleFixture.make()
        await openRow(fixture.contents.birthdateFailureRowID, in: fixture)
        var screen = fixture.screen
        #expect(screen.line(containing: "Row \(fixture.contents.birthdateFailureRowID) — EMR Patient") != nil)
        #expect(screen.line(containing: "code         INVALID_FIELD") != nil)
        #expect(screen.role(of: "INVALID_FIELD") == .error)
        #expect(screen.line(containing: "fields       Birthdate → birthDate (▶ in the payload)") != nil)
        #expect(screen.line(containing: "remote body  Salesforce's answer, verbatim") != nil)
        #expect(screen.line(containing: #""errorCode": "INVALID_FIELD","#) != nil)
        #expect(screen.role(of: #""errorCode""#) == .jsonKey)
        await fixture.console.press(.character("n"))
        screen = fixture.screen
        let line = try #require(screen.row(containing: #""birthDate": "#))
        #expect(screen.text(row: line).hasPrefix("│▶ "))
        #expect(screen[1, line].role == .error, "the gutter mark")
        #expect(screen[10, line].role == .highlight)
        #expect(screen.role(of: #""gender""#) == .jsonKey, "other lines are coloured by part, not highlighted")
    }

    @Test func aHostileNameIsShownEscapedAndNothingOnScreenIsAControlCharacter() async throws {
        let fixture = try await ConsoleFixture.make()
        await openRow(fixture.contents.hostileRowID, in: fixture)
        await fixture.console.press(.character("]"))
        let screen = fixture.screen
        #expect(screen.line(containing: #""family": "\u001b]0;pwned\u0007\u001b[2J\u009b31m""#) != nil)
        #expect(screen.cells.allSatisfy { cell in cell.character.unicodeScalars.allSatisfy { $0.value >= 0x20 && !(0x7F..<0xA0).contains($0.value) } })
    }

    @Test func wideCharactersInAPayloadTakeTwoCells() async throws {
        let fixture = try await ConsoleFixture.make()
        await openRow(fixture.contents.wangFangRowID, in: fixture)
        await fixture.console.press(.character("]"))
        let screen = fixture.screen
        let row = try #require(screen.row(containing: #""family": "王""#))
        let column = try #require(screen.column(of: "王", row: row))
        #expect(screen[column, row].character == "王")
        #expect(screen[column + 1, row].isContinuation)
        #expect(screen[column + 2, row].character == "\"")
        #expect(screen.line(containing: #""芳""#) != nil)
    }

    @Test func aLinkedRowShowsItsHistoryAttemptsLineageAndConflicts() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.enter)
        await fixture.console.press(.character("G"))
        let screen = fixture.screen
        #expect(screen.line(containing: "Lineage  the values this row wrote") != nil)
        #expect(screen.line(containing: "Contact p0 · LastName = Müller → Salesforce · rule emr") != nil)
        #expect(screen.line(containing: "Conflicts  found while linking this row") != nil)
        #expect(screen.line(containing: "Phone: EMR +1 555 0100 vs Salesforce +1 555 0199 · rule hold · ? open") != nil)
        #expect(screen.role(of: "? open") == .warning)
        await fixture.console.press(.character("g"), .character("]"), .character("]"))
        #expect(fixture.screen.line(containing: "History  every status change, oldest first") != nil)
        #expect(fixture.screen.line(containing: "· staged → ✓ linked") != nil)
        #expect(fixture.screen.line(containing: "#1  ") != nil)
    }

    @Test func thePolicyViewShowsRulesAndTheAuditTrailOfTheSelectedField() async throws {
        let fixture = try await ConsoleFixture.make(tab: .policy)
        var screen = fixture.screen
        #expect(screen.line(containing: "Policy[") != nil)
        #expect(screen.line(containing: "Birthdate")?.contains("file:mapping.yaml") == true)
        await fixture.console.press(.character("/"))
        await fixture.console.type("Phone\n")
        screen = fixture.screen
        let phone = try #require(screen.line(containing: "operator:dana"))
        #expect(phone.contains("Phone") && phone.contains("hold") && phone.contains("front desk"))
        #expect(screen.line(containing: "Policy(Phone)[1 fields]") != nil)
        #expect(screen.line(containing: "Audit trail of Contact.Phone") != nil)
        #expect(screen.line(containing: "salesforce → hold") != nil)
        #expect(screen.role(of: "salesforce → hold") == .pending)
        #expect(screen.line(containing: "(new) → salesforce") != nil)
    }

    @Test func theJobsViewListsNewestFirstWithTheRunningJobsProgress() async throws {
        let fixture = try await ConsoleFixture.make(tab: .jobs)
        let screen = fixture.screen
        let header = try #require(screen.line(containing: "KIND"))
        #expect(header.contains("STATUS") && header.contains("LINKED") && header.contains("FAILED"))
        #expect(
            screen.line(containing: "Jobs[newest first]  inbound ◐ degraded · outbound ◐ degraded") != nil,
            "each direction's health, by the model of the header and `stagelink status`: both last links left rows failed")
        let first = try #require(screen.row(containing: "▸"))
        #expect(screen.text(row: first).contains("▶ running 62%"))
        #expect(screen.role(of: "▶ running") == .cursor)
        #expect(screen.role(of: "◐ partial") == .warning)
        await fixture.console.press(.pageDown, .pageDown, .character("G"))
        #expect(fixture.screen.line(containing: "pull") != nil, "the oldest job is the pull that staged the rows")
        await fixture.console.press(.enter, .enter)
        #expect(fixture.screen.line(containing: "Job 1 pull(job:1)[300]") != nil, "Enter on the job's detail lists its rows")
    }

    @Test func aJobWhoseExportReportedErrorsIsMarkedAndListsThemWhenSelected() async throws {
        let fixture = try await ConsoleFixture.make(tab: .jobs)
        var job = try await fixture.store.startJob(kind: .pull, direction: .inbound, actor: .system)
        job.status = .succeeded
        job.finishedAt = fixture.now
        job.exportErrors = ["forbidden: The token's scopes do not allow exporting Observation", "structure: Patient/split cannot be written as one NDJSON line"]
        try await fixture.store.updateJob(job)
        await fixture.console.poll()
        await fixture.console.press(.character("g"))
        let screen = fixture.screen
        let row = try #require(screen.line(containing: "✓ succeeded !"))
        #expect(row.contains(String(job.id)))
        #expect(screen.line(containing: "Export errors of job \(job.id) (2):") != nil)
        #expect(screen.line(containing: "Patient/split cannot be written as one NDJSON line") != nil)
    }

    @Test func theConflictsViewShowsBothValuesTheRuleAndTheWinner() async throws {
        let fixture = try await ConsoleFixture.make(tab: .conflicts)
        let screen = fixture.screen
        #expect(screen.line(containing: "Conflicts(open)[1 open]") != nil)
        let open = try #require(screen.line(containing: "? open"))
        #expect(open.contains("Phone") && open.contains("+1 555 0100") && open.contains("+1 555 0199") && open.contains("hold"))
        #expect(screen.line(containing: "Selected conflict") != nil)
        await fixture.console.press(.escape)
        let all = fixture.screen
        #expect(all.line(containing: "Conflicts[1 open]") != nil, "Esc clears the filter: all conflicts")
        let decided = try #require(all.line(containing: "⚖ decided"))
        #expect(decided.contains("zoe.m@example.org") && decided.contains("SF"))
    }

    @Test func helpListsTheKeysOfTheViewItWasOpenedFrom() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character("?"))
        let screen = fixture.screen
        #expect(screen.line(containing: "Keys on staged") != nil)
        #expect(screen.line(containing: "space") != nil && screen.line(containing: "retry code") != nil)
        #expect(screen.line(containing: "S/I/O") != nil)
        await fixture.console.press(.escape)
        #expect(fixture.screen.line(containing: "Staged[300]") != nil)
    }

    @Test func anEightyByTwentyFourTerminalHoldsTheLayout() async throws {
        let fixture = try await ConsoleFixture.make(width: 80, height: 24)
        let screen = fixture.screen
        #expect(screen.text(row: 0).contains("…"))
        let header = try #require(screen.line(containing: "STATUS"))
        #expect(header.contains("OBJECT") && header.contains("SOURCE ID") && header.contains("ERROR") && !header.contains("TRIES"))
        #expect(screen.text(row: 4).hasPrefix("┌") && screen.text(row: 20).hasPrefix("└"))
        #expect(screen.text(row: 23).contains("<?> help") && screen.text(row: 23).contains("<q> quit"))
        let footer = screen.text(row: 23)
        #expect(footer.contains("<r> retry") && footer.contains("<i> ignore") && footer.contains("<p> push"), "the view's action keys stay: \(footer)")
    }

    @Test func belowEightyByTwentyFourTheConsoleSaysSoAndResizesBack() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.resize(width: 79, height: 30)
        #expect(fixture.screen.line(containing: "Stagelink needs a terminal of at least 80×24.") != nil)
        #expect(fixture.screen.line(containing: "This one is 79×30") != nil)
        await fixture.console.resize(width: 100, height: 30)
        #expect(fixture.screen.line(containing: "Staged[300]") != nil)
        #expect(fixture.screen.text(row: 29).contains("<q> quit"))
    }
}
