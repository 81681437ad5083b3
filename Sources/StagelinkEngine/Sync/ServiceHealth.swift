import Foundation

/// Whether the service does its work, judged from what the store holds: the jobs of its cycles,
/// failed rows, open conflicts, API usage and the lease. One model for `stagelink status`, the
/// console's header and Jobs view, and the service's health endpoints.
///
/// Each direction is judged by its two steps apart, the *pull* (what changed at the source) and
/// the *link* (into the other system), from the jobs of cycles only (scheduled or asked for now).
/// A direction whose last pull failed is failing until a pull succeeds, whatever its link did
/// after. A person's own actions (a push or a retry by hand) are reported apart and never change
/// the level: an operator's typo must not page anyone.
///
/// For example:
///
/// ```swift
/// let health = try await ServiceHealth.assess(store, thresholds: .init(every: .seconds(900)))
/// if health.level == .failing { … }
/// ```
public struct ServiceHealth: Sendable, Hashable {
    /// How well the service does, worst last; the raw value is `stagelink status`'s exit code.
    public enum Level: Int32, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
        case healthy = 0
        /// Working, with something for a person to look at: failed rows, open conflicts, a step
        /// that was interrupted or left rows failed, API usage near the limit, never synced.
        case degraded = 1
        /// A direction does not work: its last pull or link failed, or no pull succeeded for
        /// `Thresholds.stalePeriods` schedule periods.
        case failing = 2

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .healthy: "healthy"
            case .degraded: "degraded"
            case .failing: "failing"
            }
        }
    }

    /// Something that lowers the level, in words a person acts on. Never patient data: job ids,
    /// times, codes and counts.
    public struct Reason: Sendable, Hashable {
        public var level: Level
        /// The direction it is about, when it is about one.
        public var direction: Job.Direction?
        /// The step it is about (`pull`, `link`, `push`), when it is about one.
        public var step: Job.Kind?
        public var message: String

        public init(_ level: Level, _ message: String, direction: Job.Direction? = nil, step: Job.Kind? = nil) {
            self.level = level
            self.message = message
            self.direction = direction
            self.step = step
        }
    }

    /// One step of a direction's cycles, as its last jobs ended.
    public struct Step: Sendable, Hashable {
        public var kind: Job.Kind
        /// The newest finished job of this step.
        public var last: Job?
        /// The newest job of this step that did its work (succeeded, or partial).
        public var lastSuccess: Job?
        public var level: Level
    }

    /// One direction: its pull and its link step.
    public struct Direction: Sendable, Hashable {
        public var direction: Job.Direction
        public var pull: Step
        public var link: Step
        public var level: Level

        /// The steps, in the order a cycle runs them.
        public var steps: [Step] { [pull, link] }
    }

    /// A person's own actions (pushes and retries by hand), reported apart from the service.
    public struct ManualActions: Sendable, Hashable {
        /// The newest finished one.
        public var last: Job?
        /// The newest one that failed or was stopped, if it is newer than the last that did its work.
        public var unresolvedFailure: Job?

        public init(last: Job? = nil, unresolvedFailure: Job? = nil) {
            self.last = last
            self.unresolvedFailure = unresolvedFailure
        }
    }

    /// What health is judged from, read from a store by ``read(from:)``.
    public struct Facts: Sendable, Hashable {
        /// Per direction: the newest finished job of each cycle step, and the newest that did its work.
        public var steps: [Job.Direction: [Job.Kind: StepJobs]]
        public var manual: ManualActions
        public var failedRows: Int
        public var openConflicts: Int
        public var apiUsage: APIUsage?
        public var lease: Lease?

        public struct StepJobs: Sendable, Hashable {
            public var last: Job?
            public var lastSuccess: Job?

            public init(last: Job? = nil, lastSuccess: Job? = nil) {
                self.last = last
                self.lastSuccess = lastSuccess
            }
        }

        public init(
            steps: [Job.Direction: [Job.Kind: StepJobs]] = [:], manual: ManualActions = ManualActions(), failedRows: Int = 0, openConflicts: Int = 0,
            apiUsage: APIUsage? = nil, lease: Lease? = nil
        ) {
            self.steps = steps
            self.manual = manual
            self.failedRows = failedRows
            self.openConflicts = openConflicts
            self.apiUsage = apiUsage
            self.lease = lease
        }
    }

    /// Where the levels change: the schedule and the share of the API limit the service may use.
    public struct Thresholds: Sendable, Hashable {
        /// The schedule: a pull older than `stalePeriods` of it is stale.
        public var every: Duration
        /// The share of the other system's daily API limit the service may use; within 90% of it is degraded.
        public var limitShare: Double
        public var stalePeriods: Int

        public init(every: Duration = .seconds(900), limitShare: Double = 0.8, stalePeriods: Int = 3) {
            self.every = every
            self.limitShare = limitShare
            self.stalePeriods = stalePeriods
        }
    }

    public var level: Level
    /// Why the level is what it is, worst first.
    public var reasons: [Reason]
    public var directions: [Direction]
    public var manual: ManualActions
    public var failedRows: Int
    public var openConflicts: Int
    public var apiUsage: APIUsage?
    public var lease: Lease?
    public var assessedAt: Date

    /// Reads the facts from `store` and judges them.
    public static func assess(_ store: any RowReader & HistoryReader & LeaseReader, thresholds: Thresholds, now: Date = Date()) async throws -> ServiceHealth {
        ServiceHealth(facts: try await read(from: store), thresholds: thresholds, now: now)
    }

    /// The facts, in a few indexed reads: two per step, two for manual actions, two counts.
    public static func read(from store: any RowReader & HistoryReader & LeaseReader) async throws -> Facts {
        var facts = Facts()
        let cycles = Set(Job.Trigger.allCases.filter(\.isCycle))
        for direction in Job.Direction.allCases {
            for kind in [Job.Kind.pull, .linkStep(of: direction)] {
                let last = try await store.lastJob(JobSelection(kinds: [kind], direction: direction, triggers: cycles, statuses: JobSelection.finished))
                var success = last
                if let last, !JobSelection.completed.contains(last.status) {
                    success = try await store.lastJob(JobSelection(kinds: [kind], direction: direction, triggers: cycles, statuses: JobSelection.completed))
                }
                facts.steps[direction, default: [:]][kind] = Facts.StepJobs(last: last, lastSuccess: success)
            }
        }
        let lastManual = try await store.lastJob(JobSelection(triggers: [.manual], statuses: JobSelection.finished))
        if let lastManual, !JobSelection.completed.contains(lastManual.status) {
            facts.manual = ManualActions(last: lastManual, unresolvedFailure: lastManual)
        } else {
            facts.manual = ManualActions(last: lastManual)
        }
        // Rows waiting on their parent link by themselves: not failures to fix by hand.
        facts.failedRows = try await store.countRows(RowFilter(statuses: [.failed]))
            - store.countRows(RowFilter(statuses: [.failed], errorCode: ErrorCode.waitingOnParent.rawValue))
        facts.openConflicts = try await store.countConflicts(status: .open)
        facts.apiUsage = try await store.jobs(before: nil, limit: 50).compactMap(\.apiUsage).first
        facts.lease = try await store.currentLease()
        return facts
    }

    /// Judges the facts.
    public init(facts: Facts, thresholds: Thresholds, now: Date) {
        var reasons: [Reason] = []
        var directions: [Direction] = []
        for direction in Job.Direction.allCases {
            let jobs = facts.steps[direction] ?? [:]
            let pull = Self.judge(.pull, jobs[.pull] ?? .init(), direction: direction, thresholds: thresholds, now: now, into: &reasons)
            let link = Self.judge(.linkStep(of: direction), jobs[.linkStep(of: direction)] ?? .init(), direction: direction, thresholds: thresholds, now: now, into: &reasons)
            var level = max(pull.level, link.level)
            if pull.last == nil && link.last == nil {
                reasons.append(Reason(.degraded, "never synced \(direction.rawValue)", direction: direction))
                level = .degraded
            }
            directions.append(Direction(direction: direction, pull: pull, link: link, level: level))
        }
        if facts.failedRows > 0 {
            reasons.append(Reason(.degraded, "\(facts.failedRows) failed rows (see `stagelink rows --status failed`)"))
        }
        if facts.openConflicts > 0 {
            reasons.append(Reason(.degraded, "\(facts.openConflicts) conflicts wait for a person (see `stagelink conflicts --open`)"))
        }
        if let usage = facts.apiUsage, usage.share >= thresholds.limitShare * 0.9 {
            reasons.append(Reason(.degraded, "Salesforce API usage \(usage) is near the configured share \(Int((thresholds.limitShare * 100).rounded()))%"))
        }
        self.level = reasons.map(\.level).max() ?? .healthy
        // Worst first, in the order found within a level.
        self.reasons = Level.allCases.reversed().flatMap { level in reasons.filter { $0.level == level } }
        self.directions = directions
        self.manual = facts.manual
        self.failedRows = facts.failedRows
        self.openConflicts = facts.openConflicts
        self.apiUsage = facts.apiUsage
        self.lease = facts.lease
        self.assessedAt = now
    }

    private static func judge(
        _ kind: Job.Kind, _ jobs: Facts.StepJobs, direction: Job.Direction, thresholds: Thresholds, now: Date, into reasons: inout [Reason]
    ) -> Step {
        var level = Level.healthy
        func raise(_ to: Level, _ message: String) {
            level = max(level, to)
            reasons.append(Reason(to, message, direction: direction, step: kind))
        }
        let name = "\(direction.rawValue) \(kind.rawValue)"
        if let last = jobs.last {
            let which = "the last \(name) (job \(last.id), \(Timestamp.format(last.finishedAt ?? last.startedAt)))"
            let why = last.message.map { ": \($0)" } ?? ""
            switch last.status {
            case .failed:
                raise(
                    .failing,
                    kind == .pull
                        ? "\(which) failed\(why); \(direction.rawValue) is failing until a pull succeeds"
                        : "\(which) failed\(why)")
            case .interrupted:
                raise(.degraded, "\(which) was interrupted\(why)")
            case .partial:
                raise(.degraded, "\(which) left \(last.counts.failed) rows failed")
            case .succeeded, .running:
                break
            }
        }
        let stale = thresholds.every.seconds * Double(thresholds.stalePeriods)
        if kind == .pull, let success = jobs.lastSuccess, let finished = success.finishedAt, now.timeIntervalSince(finished) > stale {
            raise(.failing, "no \(name) succeeded since \(Timestamp.format(finished)) (schedule: every \(thresholds.every.compactText))")
        }
        return Step(kind: kind, last: jobs.last, lastSuccess: jobs.lastSuccess, level: level)
    }
}

extension ServiceHealth {
    /// The form monitors read (`stagelink status --json`, the service's health endpoint): stable
    /// keys, ISO 8601 instants, and the exit code `status` ends with.
    public var json: JSONValue {
        func step(_ step: Step) -> JSONValue {
            [
                "level": .string(step.level.description), "lastJob": step.last?.json ?? .null,
                "lastSuccess": step.lastSuccess.map { JSONValue.string(Timestamp.format($0.finishedAt ?? $0.startedAt)) } ?? .null,
                "lastSuccessJob": step.lastSuccess.map { JSONValue.number(String($0.id)) } ?? .null,
            ]
        }
        var object: JSONObject = [
            "level": .string(level.description), "exitCode": .number(String(level.rawValue)), "assessedAt": .string(Timestamp.format(assessedAt)),
            "reasons": .array(
                reasons.map { reason in
                    [
                        "level": .string(reason.level.description), "direction": reason.direction.map { JSONValue.string($0.rawValue) } ?? .null,
                        "step": reason.step.map { JSONValue.string($0.rawValue) } ?? .null, "message": .string(reason.message),
                    ]
                }),
            "failedRows": .number(String(failedRows)), "openConflicts": .number(String(openConflicts)),
            "apiUsage": apiUsage.map { JSONValue.string($0.description) } ?? .null,
        ]
        for direction in directions {
            object[direction.direction.rawValue] = [
                "level": .string(direction.level.description), "pull": step(direction.pull), "link": step(direction.link),
            ]
        }
        object["manual"] = [
            "lastJob": manual.last?.json ?? .null, "unresolvedFailure": manual.unresolvedFailure?.json ?? .null,
        ]
        object["service"] =
            lease.map { lease -> JSONValue in
                [
                    "holder": .string(lease.holder.description), "since": .string(Timestamp.format(lease.since)),
                    "expiresAt": .string(Timestamp.format(lease.expiresAt)),
                ]
            } ?? .null
        return .object(object)
    }
}

extension Job {
    /// The job as scripts and monitors read it (`stagelink jobs --json`, health).
    public var json: JSONValue {
        func instant(_ date: Date?) -> JSONValue { date.map { JSONValue.string(Timestamp.format($0)) } ?? .null }
        func number(_ value: Int) -> JSONValue { .number(String(value)) }
        return [
            "id": .number(String(id)), "kind": .string(kind.rawValue), "direction": direction.map { JSONValue.string($0.rawValue) } ?? .null,
            "actor": .string(actor.description), "trigger": .string(trigger.rawValue), "status": .string(status.rawValue),
            "startedAt": instant(startedAt), "finishedAt": instant(finishedAt),
            "counts": [
                "pulled": number(counts.pulled), "staged": number(counts.staged), "deduplicated": number(counts.deduplicated),
                "linked": number(counts.linked), "failed": number(counts.failed), "superseded": number(counts.superseded),
                "conflicts": number(counts.conflicts), "withheld": number(counts.withheld), "checked": number(counts.checked),
                "changed": number(counts.changed), "missing": number(counts.missing),
            ],
            "apiCalls": number(apiCalls), "apiUsage": apiUsage.map { JSONValue.string($0.description) } ?? .null,
            "watermarkBefore": instant(watermarkBefore), "watermarkAfter": instant(watermarkAfter),
            "progress": ["phase": .string(progress.phase), "done": number(progress.done), "total": progress.total.map(number) ?? .null],
            "message": message.map { JSONValue.string($0) } ?? .null, "exportErrors": .array(exportErrors.map(JSONValue.string)),
        ]
    }
}
