import Foundation
import Logging
import StagelinkEngine
import StagelinkStore

/// The retention purge that the service (`stagelink run`) runs by itself when `retention.payloads`
/// is set: after a cycle, when no purge (by the service or by `stagelink purge`) ran in the last
/// day, so at most once a day whatever the schedule, and at the first cycle after a start.
///
/// For example:
///
/// ```swift
/// let purge = try await ScheduledPurge(store: store, period: .seconds(90 * 86_400)).runIfDue()
/// ```
struct ScheduledPurge {
    var store: any RetentionStore
    /// `retention.payloads`.
    var period: Duration

    /// How long after any purge the next one is due.
    static let interval: TimeInterval = 86_400

    /// Purges the payloads received before `now - period` when a purge is due, recorded as the
    /// system's; nil when none is due.
    func runIfDue(now: Date = Date()) async throws -> PayloadPurge? {
        if let last = try await store.payloadPurges(limit: 1).first, now.timeIntervalSince(last.at) < Self.interval { return nil }
        return try await store.purgePayloads(receivedBefore: now.addingTimeInterval(-period.seconds), actor: .system, dryRun: false)
    }

    /// After a cycle: runs it when due, and logs what it did; a purge that fails is logged and the
    /// service goes on (the next cycle tries again).
    static func afterCycle(_ context: Context) async {
        guard let period = context.configuration?.payloadRetention else { return }
        do {
            guard let purge = try await ScheduledPurge(store: context.store, period: period).runIfDue() else { return }
            context.logger.notice(
                "retention purge", metadata: ["purge.id": "\(purge.id ?? 0)", "purge.rows": "\(purge.rows)", "purge.bytes": "\(purge.bytes)", "purge.conflicts": "\(purge.conflicts)"])
        } catch {
            context.logger.error("retention purge failed; it is tried again after the next cycle", metadata: ["error": "\(error)"])
        }
    }
}
