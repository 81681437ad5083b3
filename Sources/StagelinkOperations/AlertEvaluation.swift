import Foundation
import StagelinkEngine

/// The alert rules applied to a snapshot of the store: what is wrong now, one condition per rule
/// and key. A pure function of its inputs, so that each rule can be shown to fire and to clear.
///
/// Every summary is built from codes, counts, resource types, job ids and durations through
/// ``AlertText``; none carries a value of a record.
///
/// For example:
///
/// ```swift
/// let conditions = AlertEvaluation.conditions(settings.rules, snapshot: try await store.operationsSnapshot(), since: started)
/// ```
public enum AlertEvaluation {
    /// - Parameters:
    ///   - since: when watching began; a direction that never pulled fires `noSuccessfulPull` only
    ///     once it has been watched for longer than the rule's limit.
    ///   - directions: the directions that are configured (the others are not expected to pull).
    public static func conditions(
        _ rules: [ConfiguredAlertRule], snapshot: OperationsSnapshot, since: Date, directions: Set<Job.Direction> = Set(Job.Direction.allCases)
    ) -> [AlertCondition] {
        let now = snapshot.takenAt
        var found: [AlertCondition] = []
        for configured in rules {
            func add(_ key: String, _ summary: String) {
                found.append(AlertCondition(rule: configured.rule.kind.rawValue, key: key, severity: configured.severity, summary: summary))
            }
            switch configured.rule {
            case .newErrorCode:
                for (code, count) in snapshot.failuresByCode.sorted(by: { $0.key < $1.key }) where count > 0 {
                    let code = AlertText.code(code)
                    add(code, "error code \(code) on \(count) failed row\(count == 1 ? "" : "s")")
                }
            case .failedRows(let limit):
                let failed = snapshot.failedRows
                if failed > limit {
                    let largest = snapshot.failuresByCode.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(3)
                        .map { "\(AlertText.code($0.key)) \($0.value)" }.joined(separator: ", ")
                    add("all", "\(failed) failed rows (limit \(limit)); largest codes: \(largest)")
                }
            case .noSuccessfulPull(let limit):
                for direction in Job.Direction.allCases where directions.contains(direction) {
                    let last = snapshot.directions[direction]?.lastSuccessfulPull?.finishedAt
                    let age = now.timeIntervalSince(last ?? since)
                    guard age > limit.seconds else { continue }
                    let what = last.map { "no successful \(direction.rawValue) pull for \(AlertText.duration(now.timeIntervalSince($0)))" }
                        ?? "no successful \(direction.rawValue) pull since watching began \(AlertText.duration(age)) ago"
                    add(direction.rawValue, "\(what) (limit \(limit.compactText))")
                }
            case .watermarkLag(let limit):
                for watermark in snapshot.watermarks {
                    let lag = now.timeIntervalSince(watermark.value)
                    guard lag > limit.seconds else { continue }
                    let type = AlertText.code(watermark.resourceType)
                    add("\(watermark.system.rawValue)/\(type)", "\(watermark.system.rawValue) \(type) staged up to \(AlertText.duration(lag)) ago (limit \(limit.compactText))")
                }
            case .signInRefused:
                for direction in Job.Direction.allCases {
                    guard let job = snapshot.directions[direction]?.lastFinished, OperationsSnapshot.isSignInFailure(job.message) else { continue }
                    add(direction.rawValue, "sign-in refused: the last \(direction.rawValue) job (\(job.id)) stopped with \(AlertText.code(job.message ?? ""))")
                }
            case .apiShare(let limit):
                if let usage = snapshot.apiUsage, usage.share > limit {
                    add("salesforce", "Salesforce API usage \(usage.used) of \(usage.limit) calls today (\(AlertText.percent(usage.share)); limit \(AlertText.percent(limit)))")
                }
            case .conflictsHeld(let limit):
                if snapshot.conflictsHeld > limit {
                    add("hold", "\(snapshot.conflictsHeld) conflicts wait for a person (limit \(limit))")
                }
            case .exportStuck(let limit):
                for job in snapshot.runningJobs where job.kind == .pull && now.timeIntervalSince(job.startedAt) > limit.seconds {
                    add("job-\(job.id)", "pull job \(job.id) (\(job.direction?.rawValue ?? "-")) running for \(AlertText.duration(now.timeIntervalSince(job.startedAt))) with \(job.progress.done) records so far (limit \(limit.compactText))")
                }
                // An export outlives the pull job that kicked it off (one that gave up waiting leaves it for the next).
                for export in snapshot.bulkExports where now.timeIntervalSince(export.kickedOffAt) > limit.seconds {
                    let files = export.stagedFiles.count
                    add(
                        "export-\(export.system.rawValue)",
                        "bulk export of the \(export.system.rawValue) kicked off \(AlertText.duration(now.timeIntervalSince(export.kickedOffAt))) ago still in flight, "
                            + "\(files) file\(files == 1 ? "" : "s") staged (limit \(limit.compactText))")
                }
            }
        }
        return found
    }
}

/// The one place an alert's words are made safe to leave the store: codes are reduced to the
/// characters codes have, durations and shares are formatted. Nothing else reaches a summary.
public enum AlertText {
    /// A code as it may appear in an alert: letters, digits and `_ . : -`, at most 64 characters.
    /// Anything else (a code a remote system filled with free text) becomes `UNREADABLE_CODE`.
    public static func code(_ text: String) -> String {
        let trimmed = text.replacingOccurrences(of: ": ", with: ":")
        guard (1...64).contains(trimmed.count), trimmed.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.:-".contains($0)) }) else {
            return ErrorCode.unreadableCode.rawValue
        }
        return trimmed
    }

    public static func duration(_ seconds: TimeInterval) -> String {
        Duration.seconds(max(0, seconds.rounded())).compactText
    }

    public static func percent(_ share: Double) -> String {
        "\(Int((share * 100).rounded()))%"
    }
}
