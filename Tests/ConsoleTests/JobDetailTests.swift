import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// Enter on a job opens it: why it ended as it did, its counts, API calls, watermarks, duration,
/// events, and its rows a key away.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct JobDetailTests {
    /// A job that ran for `took` seconds and ended 3 seconds ago.
    static func finishedJob(
        _ kind: Job.Kind, _ direction: Job.Direction, _ status: Job.Status, message: String, took: TimeInterval, counts: Job.Counts, apiCalls: Int,
        in fixture: ConsoleFixture, _ adjust: (inout Job) -> Void = { _ in }
    ) async throws -> Job {
        var job = try await fixture.store.startJob(kind: kind, direction: direction, actor: .system)
        job.status = status
        job.message = message
        job.startedAt = fixture.now.addingTimeInterval(-3 - took)
        job.finishedAt = fixture.now.addingTimeInterval(-3)
        job.counts = counts
        job.apiCalls = apiCalls
        adjust(&job)
        try await fixture.store.updateJob(job)
        return job
    }

    @Test func enterOnAFailedJobShowsItsReasonCountsWatermarksAndEventsAndThenItsRows() async throws {
        let fixture = try await ConsoleFixture.make(tab: .jobs)
        let job = try await Self.finishedJob(
            .pull, .inbound, .failed, message: "MALFORMED_RESPONSE: the EMR's search page is not a Bundle", took: 72,
            counts: Job.Counts(pulled: 400, staged: 398, deduplicated: 2), apiCalls: 9, in: fixture
        ) { $0.watermarkBefore = fixture.now.addingTimeInterval(-900) }
        try await fixture.store.appendEvents([
            SyncEvent(at: fixture.now.addingTimeInterval(-3), jobID: job.id, level: .error, message: "pull inbound stopped: MALFORMED_RESPONSE")
        ])
        await fixture.console.press(.control("r"), .character("g"), .enter)
        let screen = fixture.screen
        #expect(screen.line(containing: "Job \(job.id) — pull inbound — ✗ failed") != nil)
        #expect(screen.line(containing: "reason       MALFORMED_RESPONSE: the EMR's search page is not a Bundle") != nil)
        #expect(screen.role(of: "MALFORMED_RESPONSE: the EMR") == .error)
        #expect(screen.line(containing: "took         1m 12s") != nil)
        #expect(screen.line(containing: "records      pulled 400 · staged 398 · deduplicated 2") != nil)
        #expect(screen.line(containing: "API          9 calls") != nil)
        #expect(screen.line(containing: "→ not advanced") != nil, "a failed pull leaves the watermark where it was")
        #expect(screen.line(containing: "✗ pull inbound stopped: MALFORMED_RESPONSE") != nil, "its events")
        #expect(screen.text(row: 37).contains("jobs  ›  job \(job.id)"))
        await fixture.console.press(.enter)
        #expect(fixture.screen.line(containing: "Job \(job.id) pull(job:\(job.id))[0]") != nil, "Enter lists the rows it staged")
        await fixture.console.press(.character("q"), .character("q"))
        #expect(fixture.screen.line(containing: "Jobs[newest first]") != nil)
    }

    @Test func colonJobOpensTheSameDetail() async throws {
        let fixture = try await ConsoleFixture.make()
        await fixture.console.press(.character(":"))
        await fixture.console.type("job 1\n")
        #expect(fixture.screen.line(containing: "Job 1 — pull") != nil)
        #expect(fixture.screen.line(containing: "300 staged by this job (enter lists them)") != nil)
        await fixture.console.press(.character(":"))
        await fixture.console.type("job 999999\n")
        #expect(fixture.screen.line(containing: "no job has id 999999") != nil)
    }
}

/// The Jobs view shows a reconciliation's findings: in the list, what waits for a person; in the
/// detail, what it checked, found changed and found missing, and why it ran.
@MainActor
@Suite(.timeLimit(.minutes(3)))
struct ReconciliationJobViewTests {
    @Test func aReconciliationJobShowsItsCheckedChangedAndMissingCountsAndWhy() async throws {
        let fixture = try await ConsoleFixture.make(tab: .jobs)
        let job = try await JobDetailTests.finishedJob(
            .reconcile, .outbound, .succeeded, message: "schedule.reconcile: every 24h", took: 38,
            counts: Job.Counts(pulled: 12, staged: 13, checked: 100_000, changed: 12, missing: 1), apiCalls: 51, in: fixture)
        await fixture.console.press(.control("r"))
        // The records it found missing are its failed rows, held for a person.
        let line = try #require(fixture.screen.line(containing: "reconcile out"))
        #expect(line.contains("✓ succeeded"))
        await fixture.console.press(.character("g"), .enter)
        let screen = fixture.screen
        #expect(screen.line(containing: "Job \(job.id) — reconcile outbound") != nil)
        #expect(screen.line(containing: "reason       schedule.reconcile: every 24h") != nil)
        #expect(screen.line(containing: "reconciled   checked 100,000 · changed 12 · missing 1") != nil)
        #expect(screen.role(of: "missing 1") == .warning)
        #expect(screen.line(containing: "API          51 calls") != nil)
    }
}
