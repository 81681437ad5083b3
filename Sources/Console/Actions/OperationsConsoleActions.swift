import StagelinkEngine

/// The console's actions over the engine's `Operations`: retry, ignore and policy changes, by
/// the same code the CLI runs. Push, sync-now and conflict resolution need the service and are
/// reported unavailable here; the executable wraps this type to add them.
///
/// For example:
///
/// ```swift
/// let actions = OperationsConsoleActions(operations: Operations(store: store, mapping: mapping, inbound: nil))
/// actions.unavailability(of: .retry)   // "retry needs a Salesforce or EMR connection, …"
/// ```
public struct OperationsConsoleActions: ConsoleActions {
    public var operations: Operations

    public init(operations: Operations) {
        self.operations = operations
    }

    public func unavailability(of kind: ConsoleAction.Kind) -> String? {
        switch kind {
        case .retry:
            operations.inbound == nil && operations.outbound == nil
                ? "retry needs a Salesforce or EMR connection, and this console was started without one" : nil
        case .ignore:
            nil
        case .setPolicy:
            operations.mapping.declaredPolicy.isEmpty ? "policy changes need the mapping file, which this console was started without" : nil
        case .push:
            "pushing needs the service's EMR and Salesforce connections, which this console was started without"
        case .sync:
            "sync-now needs the service, which this console was started without"
        case .resolveConflict:
            "resolving a conflict needs the service's connections, which this console was started without"
        }
    }

    public func perform(_ action: ConsoleAction, by operatorName: String) async throws -> ActionOutcome {
        if let reason = unavailability(of: action.kind) { throw ConsoleActionError.unavailable(action.kind, reason) }
        switch action {
        case .retryRows(let ids):
            return Self.outcome(of: try await operations.retry(.rows(ids), by: operatorName))
        case .retryErrorCode(let code):
            return Self.outcome(of: try await operations.retry(.errorCode(code), by: operatorName))
        case .ignore(let ids, let reason):
            let changed = try await operations.ignore(rows: ids, reason: reason, by: operatorName)
            let rows = try await summaries(changed)
            let skipped = ids.count - changed.count
            let summary = "ignored \(Self.rows(changed.count))" + (skipped > 0 ? "; \(Self.rows(skipped)) not failed, left as they were" : "")
            return ActionOutcome(summary: summary, severity: changed.isEmpty ? .failure : (skipped > 0 ? .partial : .success), rows: rows)
        case .setPolicy(let object, let field, let rule, let reason):
            let entry = try await operations.setPolicy("\(object).\(field)", to: rule, reason: reason, by: operatorName)
            guard let entry else { return ActionOutcome(summary: "\(object).\(field) already has rule \(rule)", severity: .partial) }
            return ActionOutcome(summary: "\(object).\(field): \(entry.oldRule?.rawValue ?? "none") → \(entry.newRule) (audited)")
        case .push, .syncNow, .resolveConflict:
            throw ConsoleActionError.unavailable(action.kind, unavailability(of: action.kind) ?? "")
        }
    }

    /// A retry report in a line: `retried 3 rows (job 58): 2 linked, 1 failed (INVALID_FIELD)`.
    static func outcome(of report: Operations.RetryReport) -> ActionOutcome {
        let tried = report.rows.filter { !report.skipped.contains($0.id) }
        var counts: [RowStatus: Int] = [:]
        for row in tried { counts[row.status, default: 0] += 1 }
        var parts = RowStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
        let codes = Set(tried.compactMap { $0.status == .failed ? $0.errorCode : nil }).sorted()
        if !codes.isEmpty, let index = parts.firstIndex(where: { $0.hasSuffix(RowStatus.failed.rawValue) }) {
            parts[index] += " (\(codes.joined(separator: ", ")))"
        }
        if !report.skipped.isEmpty { parts.append("\(report.skipped.count) skipped (not failed, or taken by another linker)") }
        let failed = counts[.failed] ?? 0
        let severity: ActionOutcome.Severity = tried.isEmpty || failed == tried.count ? .failure : (failed > 0 || !report.skipped.isEmpty ? .partial : .success)
        let summary = "retried \(rows(tried.count)) (job \(report.job.id))" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
        return ActionOutcome(summary: summary, severity: severity, rows: report.rows, jobID: report.job.id)
    }

    private func summaries(_ ids: [Int64]) async throws -> [StagedRowSummary] {
        var rows: [StagedRowSummary] = []
        for id in ids {
            if let row = try await operations.store.row(id: id) { rows.append(row.summary) }
        }
        return rows
    }

    static func rows(_ count: Int) -> String { count == 1 ? "1 row" : "\(count) rows" }
}

extension StagedRow {
    /// The row as a list shows it.
    var summary: StagedRowSummary {
        StagedRowSummary(
            id: id, system: system, resourceType: resourceType, sourceID: sourceID, version: version, lastUpdated: lastUpdated, jobID: jobID,
            receivedAt: receivedAt, status: status, errorCode: error?.code, errorMessage: error?.message, attemptCount: attemptCount,
            updatedAt: updatedAt)
    }
}
