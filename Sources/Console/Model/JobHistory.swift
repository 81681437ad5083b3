import Foundation
import StagelinkEngine

/// The jobs of the last few hours, kept up to date cheaply: finished jobs never change, so a
/// refresh reads only the newest page and the jobs still running.
///
/// The live view draws its cycles and sparklines from it; a job counts as a cycle of its
/// direction when it moves records (`link` and `push` jobs).
@MainActor
final class JobHistory {
    /// Newest first.
    private(set) var jobs: [Job] = []
    /// How far back the sparklines look.
    let span: TimeInterval
    /// An upper bound on what is kept, whatever the schedule.
    static let maximumJobs = 2_000
    private static let page = 50

    init(span: TimeInterval) {
        self.span = span
    }

    /// Reads back page by page until the span is covered.
    func load(store: any ConsoleStore, now: Date) async throws {
        var loaded: [Job] = []
        var before: Int64?
        while loaded.count < Self.maximumJobs {
            let page = try await store.jobs(before: before, limit: Self.page)
            loaded += page
            guard let oldest = page.last, page.count == Self.page, oldest.startedAt > now.addingTimeInterval(-span) else { break }
            before = oldest.id
        }
        jobs = trimmed(loaded, now: now)
    }

    /// Reads the newest page and every job still running, and merges them in.
    func refresh(store: any ConsoleStore, now: Date) async throws {
        var byID = Dictionary(jobs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let newest = try await store.jobs(before: nil, limit: Self.page)
        for job in newest { byID[job.id] = job }
        let newestIDs = Set(newest.map(\.id))
        for job in jobs where job.status == .running && !newestIDs.contains(job.id) {
            byID[job.id] = try await store.job(id: job.id) ?? job
        }
        jobs = trimmed(byID.values.sorted { $0.id > $1.id }, now: now)
    }

    /// The newest running job of a direction: the cycle in progress.
    func running(_ direction: Job.Direction) -> Job? {
        jobs.first { $0.direction == direction && $0.status == .running }
    }

    /// The newest job that reported the other system's API usage.
    /// When the service's last cycle ended: the newest finish among the steps of cycles (scheduled
    /// or asked for), not a person's retry or push. The service waits its schedule from there.
    var lastCycleEnd: Date? {
        jobs.prefix(Self.page).filter { $0.trigger != .manual && $0.status != .running }.compactMap(\.finishedAt).max()
    }

    var latestUsage: APIUsage? { jobs.first { $0.apiUsage != nil }?.apiUsage }

    /// Records moved and failures per cycle of a direction, oldest first.
    func series(_ direction: Job.Direction) -> (records: [Int], failures: [Int], starts: [Date]) {
        let cycles = jobs.reversed().filter { $0.direction == direction && ($0.kind == .link || $0.kind == .push) }
        return (cycles.map { $0.counts.linked + $0.counts.failed + $0.counts.superseded }, cycles.map { $0.counts.failed }, cycles.map(\.startedAt))
    }

    private func trimmed(_ jobs: [Job], now: Date) -> [Job] {
        let horizon = now.addingTimeInterval(-span)
        return Array(jobs.filter { $0.startedAt >= horizon || $0.status == .running }.prefix(Self.maximumJobs))
    }
}
