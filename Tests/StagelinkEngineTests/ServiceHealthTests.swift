import Foundation
import StagelinkEngine
import Testing

/// Health is judged per direction from the pull and the link apart, from the jobs of cycles;
/// a person's own actions are reported apart and never change the level.
struct ServiceHealthTests {
    private static let now = Date(timeIntervalSince1970: 1_800_000_000)
    private static let thresholds = ServiceHealth.Thresholds(every: .seconds(900), limitShare: 0.8)

    /// A finished job, `minutesAgo` before `now`.
    private static func job(
        _ id: Int64, _ kind: Job.Kind, _ direction: Job.Direction?, _ status: Job.Status, minutesAgo: Double = 1,
        trigger: Job.Trigger = .scheduled, actor: Actor = .system, message: String? = nil, failedRows: Int = 0
    ) -> Job {
        let finished = now.addingTimeInterval(-minutesAgo * 60)
        return Job(
            id: id, kind: kind, direction: direction, actor: actor, trigger: trigger, startedAt: finished.addingTimeInterval(-5), finishedAt: finished,
            status: status, counts: Job.Counts(failed: failedRows), message: message)
    }

    /// Facts where both directions' last pull and link succeeded a minute ago, changed by `change`.
    private static func facts(_ change: (inout ServiceHealth.Facts) -> Void = { _ in }) -> ServiceHealth.Facts {
        var facts = ServiceHealth.Facts()
        var id: Int64 = 0
        for direction in Job.Direction.allCases {
            for kind in [Job.Kind.pull, .linkStep(of: direction)] {
                id += 1
                let done = job(id, kind, direction, .succeeded)
                facts.steps[direction, default: [:]][kind] = .init(last: done, lastSuccess: done)
            }
        }
        change(&facts)
        return facts
    }

    private static func health(_ facts: ServiceHealth.Facts) -> ServiceHealth {
        ServiceHealth(facts: facts, thresholds: thresholds, now: now)
    }

    @Test func aServiceWhoseStepsAllSucceededIsHealthy() {
        let health = Self.health(Self.facts())
        #expect(health.level == .healthy)
        #expect(health.reasons.isEmpty)
        #expect(health.directions.map(\.level) == [.healthy, .healthy])
    }

    @Test func aFailedPullIsFailingEvenWhenTheLinkAfterItSucceeded() {
        let earlier = Self.job(1, .pull, .inbound, .succeeded, minutesAgo: 20)
        let health = Self.health(
            Self.facts { facts in
                let failed = Self.job(10, .pull, .inbound, .failed, message: "HTTP_5xx: HTTP_503")
                facts.steps[.inbound]![.pull] = .init(last: failed, lastSuccess: earlier)
                // The link after it had nothing to do and succeeded.
                let link = Self.job(11, .link, .inbound, .succeeded, minutesAgo: 0.5)
                facts.steps[.inbound]![.link] = .init(last: link, lastSuccess: link)
            })
        #expect(health.level == .failing)
        let inbound = health.directions.first { $0.direction == .inbound }
        #expect(inbound?.level == .failing)
        #expect(inbound?.pull.level == .failing)
        #expect(inbound?.link.level == .healthy)
        #expect(health.directions.first { $0.direction == .outbound }?.level == .healthy)
        let reason = health.reasons.first
        #expect(reason?.level == .failing && reason?.direction == .inbound && reason?.step == .pull)
        #expect(reason?.message.contains("job 10") == true)
        #expect(reason?.message.contains("HTTP_503") == true)
        #expect(reason?.message.contains("failing until a pull succeeds") == true)
    }

    @Test func aPullThatNeverSucceededAndFailedIsFailing() {
        let health = Self.health(
            Self.facts { facts in
                facts.steps[.inbound]![.pull] = .init(last: Self.job(3, .pull, .inbound, .failed), lastSuccess: nil)
            })
        #expect(health.level == .failing)
    }

    @Test func aPullThatSucceedsAfterFailuresMakesItHealthyAgain() {
        let health = Self.health(
            Self.facts { facts in
                let pull = Self.job(20, .pull, .inbound, .succeeded)
                facts.steps[.inbound]![.pull] = .init(last: pull, lastSuccess: pull)
            })
        #expect(health.level == .healthy)
    }

    @Test func aFailedPushByHandIsReportedApartAndLeavesTheServiceHealthy() {
        let push = Self.job(30, .push, .outbound, .failed, trigger: .manual, actor: .operator("dana"), message: "Salesforce record 001XX was not found")
        let health = Self.health(Self.facts { $0.manual = ServiceHealth.ManualActions(last: push, unresolvedFailure: push) })
        #expect(health.level == .healthy)
        #expect(health.reasons.isEmpty)
        #expect(health.manual.unresolvedFailure?.id == 30)
        let json = health.json
        #expect(json["level"]?.stringValue == "healthy")
        #expect(json["manual"]?["unresolvedFailure"]?["id"] == .number("30"))
        #expect(json["manual"]?["unresolvedFailure"]?["trigger"]?.stringValue == "manual")
    }

    @Test func aFailedLinkIsFailingAndAPartialOneDegraded() {
        let failed = Self.health(
            Self.facts { facts in
                facts.steps[.outbound]![.push] = .init(last: Self.job(40, .push, .outbound, .failed), lastSuccess: nil)
            })
        #expect(failed.level == .failing)
        #expect(failed.reasons.first?.step == .push)
        let partial = Self.health(
            Self.facts { facts in
                let job = Self.job(41, .link, .inbound, .partial, failedRows: 3)
                facts.steps[.inbound]![.link] = .init(last: job, lastSuccess: job)
            })
        #expect(partial.level == .degraded)
        #expect(partial.reasons.first?.message.contains("left 3 rows failed") == true)
    }

    @Test func anInterruptedStepIsDegradedUntilItsPullIsStale() {
        let interrupted = Self.job(50, .pull, .inbound, .interrupted, message: "limit: REQUEST_LIMIT_EXCEEDED")
        let recent = Self.health(
            Self.facts { $0.steps[.inbound]![.pull] = .init(last: interrupted, lastSuccess: Self.job(5, .pull, .inbound, .succeeded, minutesAgo: 20)) })
        #expect(recent.level == .degraded)
        let stale = Self.health(
            Self.facts { $0.steps[.inbound]![.pull] = .init(last: interrupted, lastSuccess: Self.job(5, .pull, .inbound, .succeeded, minutesAgo: 46)) })
        #expect(stale.level == .failing, "no pull succeeded for more than three 15-minute periods")
        #expect(stale.reasons.first?.message.contains("no inbound pull succeeded since") == true)
    }

    @Test func rowsConflictsUsageAndNeverSyncedAreDegraded() {
        #expect(Self.health(Self.facts { $0.failedRows = 2 }).level == .degraded)
        #expect(Self.health(Self.facts { $0.openConflicts = 1 }).level == .degraded)
        #expect(Self.health(Self.facts { $0.apiUsage = APIUsage(used: 73, limit: 100) }).level == .degraded)
        #expect(Self.health(Self.facts { $0.apiUsage = APIUsage(used: 71, limit: 100) }).level == .healthy)
        let never = Self.health(Self.facts { $0.steps[.outbound] = nil })
        #expect(never.level == .degraded)
        #expect(never.reasons.map(\.message) == ["never synced outbound"])
    }

    @Test func theJSONFormCarriesTheLevelTheExitCodeAndEachStep() throws {
        let health = Self.health(
            Self.facts { facts in
                facts.steps[.inbound]![.pull] = .init(last: Self.job(10, .pull, .inbound, .failed), lastSuccess: nil)
            })
        let text = JSONWriter.prettyString(health.json)
        let parsed = try JSONValue(parsing: Array(text.utf8))
        #expect(parsed["level"]?.stringValue == "failing")
        #expect(parsed["exitCode"] == .number("2"))
        #expect(parsed["inbound"]?["pull"]?["level"]?.stringValue == "failing")
        #expect(parsed["inbound"]?["pull"]?["lastJob"]?["id"] == .number("10"))
        #expect(parsed["inbound"]?["link"]?["level"]?.stringValue == "healthy")
        #expect(parsed["reasons"]?[0]?["step"]?.stringValue == "pull")
    }
}
