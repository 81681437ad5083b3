import Foundation
import StagelinkEngine
import Testing

@testable import StagelinkOperations

/// Each alert rule on a snapshot of the store: it fires when its condition holds and is clear
/// when it does not, with a summary of codes, counts and durations.
struct AlertRuleTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func job(_ id: Int64, _ kind: Job.Kind, _ direction: Job.Direction, status: Job.Status, startedAgo: Double, finishedAgo: Double?, message: String? = nil) -> Job {
        Job(
            id: id, kind: kind, direction: direction, actor: .system, startedAt: now.addingTimeInterval(-startedAgo),
            finishedAt: finishedAgo.map { now.addingTimeInterval(-$0) }, status: status, message: message)
    }

    func conditions(_ rule: AlertRule, _ snapshot: OperationsSnapshot, since: Date? = nil) -> [AlertCondition] {
        AlertEvaluation.conditions([ConfiguredAlertRule(rule)], snapshot: snapshot, since: since ?? now)
    }

    @Test func newErrorCodeFiresOncePerCodeAndClearsWhenNoRowFailsWithIt() {
        let failing = OperationsSnapshot(takenAt: now, failedByCode: ["INVALID_FIELD": 3, "REQUIRED_FIELD_MISSING": 1])
        #expect(conditions(.newErrorCode, failing).map(\.key) == ["INVALID_FIELD", "REQUIRED_FIELD_MISSING"])
        #expect(conditions(.newErrorCode, failing)[0].summary == "error code INVALID_FIELD on 3 failed rows")
        #expect(conditions(.newErrorCode, OperationsSnapshot(takenAt: now, failedByCode: ["INVALID_FIELD": 0])).isEmpty)
    }

    @Test func failedRowsFiresAboveTheLimitOnly() {
        let snapshot = OperationsSnapshot(takenAt: now, failedByCode: ["INVALID_FIELD": 8, "UNABLE_TO_LOCK_ROW": 3])
        #expect(conditions(.failedRows(above: 10), snapshot).map(\.summary) == ["11 failed rows (limit 10); largest codes: INVALID_FIELD 8, UNABLE_TO_LOCK_ROW 3"])
        #expect(conditions(.failedRows(above: 11), snapshot).isEmpty)
    }

    @Test func rowsWaitingOnTheirParentAreNeitherANewCodeNorFailuresToFix() {
        let snapshot = OperationsSnapshot(takenAt: now, failedByCode: ["INVALID_FIELD": 2, ErrorCode.waitingOnParent.rawValue: 40])
        #expect(conditions(.newErrorCode, snapshot).map(\.key) == ["INVALID_FIELD"])
        #expect(conditions(.failedRows(above: 10), snapshot).isEmpty, "40 waiting rows link by themselves once their parents link")
        #expect(conditions(.failedRows(above: 1), snapshot).map(\.summary) == ["2 failed rows (limit 1); largest codes: INVALID_FIELD 2"])
    }

    @Test func noSuccessfulPullFiresPerDirectionPastTheLimitAndCountsFromWhenWatchingBegan() {
        var snapshot = OperationsSnapshot(takenAt: now)
        snapshot.directions[.inbound] = .init(lastSuccessfulPull: job(1, .pull, .inbound, status: .succeeded, startedAgo: 7300, finishedAgo: 7200))
        snapshot.directions[.outbound] = .init(lastSuccessfulPull: job(2, .pull, .outbound, status: .succeeded, startedAgo: 70, finishedAgo: 60))
        let fired = conditions(.noSuccessfulPull(for: .seconds(3600)), snapshot)
        #expect(fired.map(\.key) == ["inbound"])
        #expect(fired.first?.summary == "no successful inbound pull for 2h (limit 1h)")
        #expect(fired.first?.severity == .critical)
        // Never pulled: clear until watching has lasted longer than the limit.
        let never = OperationsSnapshot(takenAt: now)
        #expect(conditions(.noSuccessfulPull(for: .seconds(3600)), never, since: now.addingTimeInterval(-60)).isEmpty)
        #expect(conditions(.noSuccessfulPull(for: .seconds(3600)), never, since: now.addingTimeInterval(-3700)).count == 2)
        snapshot.directions[.inbound] = .init(lastSuccessfulPull: job(3, .pull, .inbound, status: .partial, startedAgo: 20, finishedAgo: 10))
        #expect(conditions(.noSuccessfulPull(for: .seconds(3600)), snapshot).isEmpty)
    }

    @Test func watermarkLagFiresPerResourceType() {
        let snapshot = OperationsSnapshot(
            takenAt: now,
            watermarks: [
                .init(system: .emr, resourceType: "Patient", value: now.addingTimeInterval(-3 * 3600)),
                .init(system: .salesforce, resourceType: "Admission__c", value: now.addingTimeInterval(-60)),
            ])
        let fired = conditions(.watermarkLag(above: .seconds(7200)), snapshot)
        #expect(fired.map(\.key) == ["emr/Patient"])
        #expect(fired.first?.summary == "emr Patient staged up to 3h ago (limit 2h)")
        #expect(conditions(.watermarkLag(above: .seconds(4 * 3600)), snapshot).isEmpty)
    }

    @Test func signInRefusedFiresWhenTheLastJobOfADirectionWasRefusedCredentials() {
        var snapshot = OperationsSnapshot(takenAt: now)
        snapshot.directions[.outbound] = .init(lastFinished: job(9, .pull, .outbound, status: .failed, startedAgo: 5, finishedAgo: 4, message: "unauthorized: invalid_grant"))
        snapshot.directions[.inbound] = .init(lastFinished: job(8, .pull, .inbound, status: .failed, startedAgo: 5, finishedAgo: 4, message: "transient: HTTP_503"))
        let fired = conditions(.signInRefused, snapshot)
        #expect(fired.map(\.key) == ["outbound"])
        #expect(fired.first?.summary == "sign-in refused: the last outbound job (9) stopped with unauthorized:invalid_grant")
        snapshot.directions[.outbound] = .init(lastFinished: job(10, .pull, .outbound, status: .succeeded, startedAgo: 2, finishedAgo: 1))
        #expect(conditions(.signInRefused, snapshot).isEmpty)
    }

    @Test func apiShareFiresAboveTheShare() {
        let snapshot = OperationsSnapshot(takenAt: now, apiUsage: APIUsage(used: 91_000, limit: 100_000))
        #expect(conditions(.apiShare(above: 0.9), snapshot).map(\.summary) == ["Salesforce API usage 91000 of 100000 calls today (91%; limit 90%)"])
        #expect(conditions(.apiShare(above: 0.95), snapshot).isEmpty)
        #expect(conditions(.apiShare(above: 0.5), OperationsSnapshot(takenAt: now)).isEmpty)
    }

    @Test func conflictsHeldFiresAboveTheCount() {
        let snapshot = OperationsSnapshot(takenAt: now, conflicts: [.open: 12], conflictsHeld: 12)
        #expect(conditions(.conflictsHeld(above: 10), snapshot).map(\.summary) == ["12 conflicts wait for a person (limit 10)"])
        #expect(conditions(.conflictsHeld(above: 12), snapshot).isEmpty)
    }

    @Test func exportStuckFiresForAPullRunningLongerThanTheLimit() {
        let snapshot = OperationsSnapshot(
            takenAt: now,
            runningJobs: [job(21, .pull, .inbound, status: .running, startedAgo: 2700, finishedAgo: nil), job(22, .link, .inbound, status: .running, startedAgo: 9000, finishedAgo: nil)])
        let fired = conditions(.exportStuck(for: .seconds(1800)), snapshot)
        #expect(fired.map(\.key) == ["job-21"])
        #expect(fired.first?.summary == "pull job 21 (inbound) running for 45m with 0 records so far (limit 30m)")
        #expect(conditions(.exportStuck(for: .seconds(3600)), snapshot).isEmpty)
    }

    @Test func exportStuckAlsoWatchesABulkExportInFlightBetweenPullJobs() {
        let export = BulkExportProgress(
            system: .emr, statusURL: "https://emr.example.org/fhir/_bulk/status/7?token=secret", since: nil,
            kickedOffAt: now.addingTimeInterval(-3 * 3600), stagedFiles: ["https://emr.example.org/fhir/_bulk/files/7/Patient-1.ndjson"])
        let snapshot = OperationsSnapshot(takenAt: now, runningJobs: [], bulkExports: [export])
        let fired = conditions(.exportStuck(for: .seconds(1800)), snapshot)
        #expect(fired.map(\.key) == ["export-emr"])
        #expect(fired.first?.summary == "bulk export of the emr kicked off 3h ago still in flight, 1 file staged (limit 30m)")
        #expect(fired.first?.summary.contains("token") == false, "the status URL never leaves in an alert")
        #expect(conditions(.exportStuck(for: .seconds(4 * 3600)), snapshot).isEmpty)
        #expect(conditions(.exportStuck(for: .seconds(1800)), OperationsSnapshot(takenAt: now)).isEmpty)
    }

    @Test func aCodeHoldingFreeTextNeverReachesASummary() {
        #expect(AlertText.code("INVALID_FIELD") == "INVALID_FIELD")
        #expect(AlertText.code("unauthorized: invalid_grant") == "unauthorized:invalid_grant")
        #expect(AlertText.code("Name Marisol refused") == "UNREADABLE_CODE")
        #expect(AlertText.code("X\u{1B}[2J") == "UNREADABLE_CODE")
        #expect(AlertText.code(String(repeating: "A", count: 65)) == "UNREADABLE_CODE")
    }
}
