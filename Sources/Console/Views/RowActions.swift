import Foundation
import StagelinkEngine

/// The row actions, shared by the lists and the detail pane: what to ask first, and what to hand
/// to the console's actions.
@MainActor
enum RowActions {
    /// `r`: the marked rows, or the selected one when it is failed or staged.
    static func retry(selected: StagedRowSummary, marked: Set<Int64>, context: any ConsoleContext) {
        if marked.isEmpty && ![.failed, .staged].contains(selected.status) {
            context.flash("row \(selected.id) is \(selected.status.rawValue): only failed or staged rows are retried", .warning)
            return
        }
        let targets = marked.isEmpty ? [selected.id] : marked.sorted()
        let what = marked.isEmpty ? "row \(selected.id)" : "\(targets.count) marked rows"
        context.perform(.retryRows(targets), progress: "retrying \(what) as \(context.operatorName)")
    }

    /// `R`: every failed row with the selected row's error code, after saying how many.
    static func retryErrorCode(of selected: StagedRowSummary?, context: any ConsoleContext) async {
        guard let code = selected?.errorCode else {
            context.flash("the selected row has no error code to retry", .warning)
            return
        }
        do {
            let count = try await context.store.countRows(RowFilter(statuses: [.failed], errorCode: code))
            confirmRetry(code: code, count: count, context: context)
        } catch {
            context.flash("could not count the rows failing with \(code): \(error)", .failure)
        }
    }

    /// Asks y/n before retrying every failed row with an error code, saying how many there are.
    static func confirmRetry(code: String, count: Int, context: any ConsoleContext) {
        guard count > 0 else {
            context.flash("no failed rows have error code \(code)", .info)
            return
        }
        let rows = "\(context.format.grouped(count)) failed \(count == 1 ? "row" : "rows")"
        context.confirm(
            "Retry \(code)",
            [StyledLine("Retry all \(rows) with error code"), StyledLine(code, .error), StyledLine("as \(context.operatorName)?", .muted)]
        ) {
            context.perform(.retryErrorCode(code), progress: "retrying \(rows) with \(code) as \(context.operatorName)")
        }
    }

    /// `i`: the marked rows, or the selected one, with a typed reason. A selected row that is not
    /// failed cannot be ignored: that is said at once, before any reason is asked for.
    static func ignore(selected: StagedRowSummary, marked: Set<Int64>, context: any ConsoleContext) {
        setStatus(
            selected: selected, marked: marked, requires: .failed, refusal: "only failed rows are ignored", verb: ("Ignore", "ignoring"),
            placeholder: "why these rows are set aside (goes into the audit trail)", context: context
        ) { targets, reason in .ignore(rows: targets, reason: reason) }
    }

    /// `u`: puts the marked rows, or the selected ignored one, back among the failures, with a
    /// typed reason; a selected row that is not ignored is refused without asking.
    static func unignore(selected: StagedRowSummary, marked: Set<Int64>, context: any ConsoleContext) {
        setStatus(
            selected: selected, marked: marked, requires: .ignored, refusal: "nothing to un-ignore", verb: ("Un-ignore", "un-ignoring"),
            placeholder: "why these rows need fixing after all (goes into the audit trail)", context: context
        ) { targets, reason in .unignore(rows: targets, reason: reason) }
    }

    /// An audited status change of the marked rows, or of the selected one when it has the status
    /// the change starts from (otherwise refused at once, saying why), after asking for a reason.
    private static func setStatus(
        selected: StagedRowSummary, marked: Set<Int64>, requires status: RowStatus, refusal: String, verb: (title: String, progress: String),
        placeholder: String, context: any ConsoleContext, action: @escaping @MainActor ([Int64], String) -> ConsoleAction
    ) {
        if marked.isEmpty && selected.status != status {
            context.flash("row \(selected.id) is \(selected.status.rawValue), not \(status.rawValue): \(refusal)", .warning)
            return
        }
        let targets = marked.isEmpty ? [selected.id] : marked.sorted()
        let what = marked.isEmpty ? "row \(selected.id)" : "\(targets.count) marked rows"
        context.performWithReason("\(verb.title) \(what) — reason:", placeholder: placeholder, progress: "\(verb.progress) \(what)") { reason in
            action(targets, reason)
        }
    }

    /// An error as `y` copies it: the code, fields and message, then the other system's answer.
    static func errorText(_ error: LinkError) -> String {
        error.description + (error.remoteBody.map { "\n\n" + $0 } ?? "") + "\n"
    }

    /// A payload as `y` copies it and `o` pages it: the bytes as received, as text (invalid UTF-8
    /// shown as U+FFFD rather than dropped).
    static func payloadText(_ row: StagedRow) -> String {
        String(decoding: row.payload, as: UTF8.self)
    }

    /// `y` on a list: the selected row's error line.
    static func copyError(of selected: StagedRowSummary, context: any ConsoleContext) {
        guard let code = selected.errorCode else {
            context.flash("row \(selected.id) has no error to copy (Enter opens it: y there copies the payload)", .info)
            return
        }
        context.copy(code + (selected.errorMessage.map { ": " + $0 } ?? "") + "\n", describing: "the error of row \(selected.id)")
    }

    /// `p`: a Salesforce row is pushed as it is; anywhere else, the Salesforce id is asked for.
    static func push(_ selected: StagedRowSummary?, context: any ConsoleContext) {
        if let selected, selected.system == .salesforce {
            context.perform(.push(.row(selected.id)), progress: "pushing \(selected.resourceType) \(selected.sourceID) to the EMR as \(context.operatorName)")
            return
        }
        context.ask("Push to the EMR — Salesforce id:", placeholder: "an Admission or Contact id, for example a0B5g00000XyZ12") { id in
            let trimmed = id.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { return }
            context.perform(.push(.salesforceID(trimmed)), progress: "pushing Salesforce \(trimmed) to the EMR as \(context.operatorName)")
        }
    }
}
