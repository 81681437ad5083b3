import Foundation
import StagelinkEngine
import StagelinkStore
import Testing

@testable import Console

/// Enter on a job opens it: why it ended as it did, its counts, API calls, watermarks, duration,
/// events, and its rows a key away.
@MainActor
@Suite(.timeLimit(.minutes(1)))
struct JobDetailTests {
    @Test func enterOnAFailedJobShowsItsReasonCountsWatermarksAndEventsAndThenItsRows() async throws {
        let fixture = try await ConsoleFixture.make(tab: .jobs)
        var job = try await fixture.store.startJob(kind: .pull, direction: .inbound, actor: .system)
        job.status = .failed
        job.message = "MALFORMED_RESPONSE: the EMR's search page is not a Bundle"
        job.startedAt = fixture.now.addingTimeInterval(-75)
        job.finishedAt = fixture.now.addingTimeInterval(-3)
        job.counts = Job.Counts(pulled: 400, staged: 398, deduplicated: 2)
        job.apiCalls = 9
        job.watermarkBefore = fixture.now.addingTimeInterval(-900)
        try await fixture.store.updateJob(job)
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
