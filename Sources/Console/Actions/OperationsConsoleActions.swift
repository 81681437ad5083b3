import StagelinkEngine

/// The console's actions over the engine's `Operations`, by the same code the CLI runs: retry,
/// ignore, policy changes, push and conflict resolution, each available when the operations have
/// what it needs (a linker, a Salesforce lookup, an EMR writer). Sync-now runs a cycle, which
/// `Operations` does not: the executable wraps this type to add it.
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
        case .ignore, .unignore:
            nil
        case .setPolicy:
            operations.mapping.declaredPolicy.isEmpty ? "policy changes need the mapping file, which this console was started without" : nil
        case .push:
            operations.salesforceLookup == nil || !(operations.outbound is OutboundLinker)
                ? "pushing needs the Salesforce and EMR connections, and this console was started without them" : nil
        case .sync:
            "sync-now runs a cycle of the service, and this console was started without it"
        case .resolveConflict:
            operations.inbound == nil && operations.emrWriter == nil
                ? "resolving writes the value taken into the other system, and this console has no connection to either" : nil
        case .settleMerge:
            // Settling a held merge writes into neither system: the store alone records it.
            nil
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
            return try await statusOutcome("ignored", requested: ids, changed: changed, otherwise: "not failed")
        case .unignore(let ids, let reason):
            let changed = try await operations.unignore(rows: ids, reason: reason, by: operatorName)
            return try await statusOutcome("un-ignored", requested: ids, changed: changed, otherwise: "not ignored")
        case .setPolicy(let object, let field, let rule, let reason):
            let entry = try await operations.setPolicy("\(object).\(field)", to: rule, reason: reason, by: operatorName)
            guard let entry else { return ActionOutcome(summary: "\(object).\(field) already has rule \(rule)", severity: .partial) }
            return ActionOutcome(summary: "\(object).\(field): \(entry.oldRule?.rawValue ?? "none") → \(entry.newRule) (audited)")
        case .push(let target):
            let salesforceID = try await salesforceID(of: target)
            let report = try await operations.push(salesforceID: salesforceID, by: operatorName)
            let rows = try await summaries([report.rowID])
            let references = report.emrReferences
            if report.outcome.status == .failed, let error = report.outcome.error {
                return ActionOutcome(summary: "push of \(salesforceID) failed (job \(report.job.id)): \(error.code): \(error.message)", severity: .failure, rows: rows, jobID: report.job.id)
            }
            let summary = "pushed Salesforce \(salesforceID) (job \(report.job.id))" + (references.isEmpty ? ": nothing to create" : " → EMR " + references.joined(separator: ", "))
            return ActionOutcome(summary: summary, rows: rows, emrIDs: references, jobID: report.job.id)
        case .resolveConflict(let id, let side, let reason):
            let conflict = try await operations.resolve(conflict: id, take: side, reason: reason, by: operatorName)
            let value = side == .emr ? conflict.emrValue : conflict.salesforceValue
            return ActionOutcome(
                summary: "conflict \(id) resolved: \(conflict.object) \(conflict.recordKey) \(conflict.field) takes the \(side.rawValue) value \(value) (audited)")
        case .resolveConflicts(let ids, let side, let reason):
            var failures: [String] = []
            for id in ids {
                do {
                    _ = try await operations.resolve(conflict: id, take: side, reason: reason, by: operatorName)
                } catch {
                    failures.append("\(id): \(error)")
                }
            }
            let resolved = ids.count - failures.count
            var summary = "resolved \(resolved) of \(ids.count) conflicts: the \(side.rawValue) value taken (audited)"
            if !failures.isEmpty { summary += "; not resolved: " + failures.prefix(3).joined(separator: "; ") + (failures.count > 3 ? "; …" : "") }
            return ActionOutcome(summary: summary, severity: failures.isEmpty ? .success : (resolved == 0 ? .failure : .partial))
        case .settleMerge(let id, let decision, let reason):
            let conflict = try await operations.settle(merge: id, decision, reason: reason, by: operatorName)
            let what = conflict.merge.map { decision == .merged ? $0.merged : $0.apart } ?? "\(conflict.object) \(conflict.recordKey)"
            return ActionOutcome(summary: "held merge \(id) settled, \(decision.rawValue): \(what) (audited)")
        case .syncNow:
            throw ConsoleActionError.unavailable(action.kind, unavailability(of: action.kind) ?? "")
        }
    }

    /// The Salesforce id a push sends: given, or the source id of a staged Salesforce row.
    private func salesforceID(of target: PushTarget) async throws -> String {
        switch target {
        case .salesforceID(let id):
            return id
        case .row(let id):
            guard let row = try await operations.store.row(id: id), row.system == .salesforce else {
                throw ConsoleActionError("row \(id) is not a Salesforce record: only those are pushed to the EMR")
            }
            return row.sourceID
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

    /// `ignored 2 rows; 1 row not failed, left as they were`, with the rows as they are now.
    private func statusOutcome(_ verb: String, requested ids: [Int64], changed: [Int64], otherwise: String) async throws -> ActionOutcome {
        let rows = try await summaries(changed)
        let skipped = ids.count - changed.count
        let summary = "\(verb) \(Self.rows(changed.count))" + (skipped > 0 ? "; \(Self.rows(skipped)) \(otherwise), left as they were" : "")
        return ActionOutcome(summary: summary, severity: changed.isEmpty ? .failure : (skipped > 0 ? .partial : .success), rows: rows)
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
