import Foundation
import StagelinkEngine

/// The store's tables read column for column by another store (PostgreSQL) that keeps the same
/// schema: each table's columns turned into the engine's values by this store's own record types,
/// strictly (``StoredValue``: an unknown status, rule or kind is an error naming the column and
/// the value, never a default), whichever database the columns came from.
package enum StoredColumns {
    /// `row_transition`: rowID, fromStatus, toStatus, at, actor, note.
    package typealias Transition = (Int64, String?, String, Double, String, String?)

    package static func transition(_ c: Transition) throws -> RowTransition {
        try RowTransitionRecord(id: nil, rowID: c.0, fromStatus: c.1, toStatus: c.2, at: c.3, actor: c.4, note: c.5).transition
    }

    /// The first step of a row's history, staging itself: it is not written as a transition (it
    /// would double the cost of staging), the row's own receipt time and job say it.
    package static func received(rowID: Int64, receivedAt: Double, jobID: Int64?) -> RowTransition {
        RowTransition(
            rowID: rowID, from: nil, to: .staged, at: Date(timeIntervalSince1970: receivedAt), actor: jobID.map(Actor.job) ?? .system, note: "received")
    }

    /// `link_attempt`: rowID, number, at, actor, outcome, errorCode, errorMessage, errorFields, errorBody.
    package typealias Attempt = (Int64, Int, Double, String, String, String?, String?, String?, String?)

    package static func attempt(_ c: Attempt) throws -> LinkAttempt {
        try LinkAttemptRecord(
            id: nil, rowID: c.0, number: c.1, at: c.2, actor: c.3, outcome: c.4, errorCode: c.5, errorMessage: c.6, errorFields: c.7, errorBody: c.8
        ).attempt
    }

    /// `policy_rule`: object, field, rule, fileRule, changedBy, changedAt, reason.
    package typealias Rule = (String, String, String, String?, String, Double, String?)

    package static func policyRule(_ c: Rule) throws -> PolicyRule {
        try PolicyRuleRecord(object: c.0, field: c.1, rule: c.2, fileRule: c.3, changedBy: c.4, changedAt: c.5, reason: c.6).policyRule
    }

    /// `policy_audit`: id, at, actor, object, field, oldRule, newRule, reason.
    package typealias Audit = (Int64, Double, String, String, String, String?, String, String?)

    package static func policyAudit(_ c: Audit) throws -> PolicyAuditEntry {
        try PolicyAuditRecord(id: c.0, at: c.1, actor: c.2, object: c.3, field: c.4, oldRule: c.5, newRule: c.6, reason: c.7).entry
    }

    /// The columns of ``Conflict`` in its order, on `conflict`.
    package static let conflictColumns = """
        conflict.id, conflict.object, conflict.recordKey, conflict.field, conflict.rowID, conflict.emrValue, conflict.salesforceValue, \
        conflict.rule, conflict.status, conflict.winner, conflict.createdAt, conflict.resolvedBy, conflict.resolvedAt, conflict.reason, \
        conflict.kind, conflict.merge
        """

    /// `conflict`, as ``conflictColumns`` lists its columns.
    package typealias Conflict = (
        Int64, String, String, String, Int64?, String, String, String, String, String?, Double, String?, Double?, String?, String, String?
    )

    package static func conflict(_ c: Conflict) throws -> StagelinkEngine.Conflict {
        try ConflictRow(
            id: c.0, object: c.1, recordKey: c.2, field: c.3, rowID: c.4, emrValue: c.5, salesforceValue: c.6, rule: c.7, status: c.8, winner: c.9,
            createdAt: c.10, resolvedBy: c.11, resolvedAt: c.12, reason: c.13, kind: c.14, merge: c.15
        ).conflict
    }

    /// The conflicts whose values the retention purge empties with the rows `purging` selects (a
    /// subquery, used three times): field conflicts decided by a rule or resolved by a person (an
    /// open one still waits for a person; a merge holds ids only), found by a row purged now, and
    /// by no row whose payload stays. The same SQL on SQLite and PostgreSQL; run before the rows
    /// are marked purged.
    package static func purgedConflicts(_ purging: String) -> String {
        """
        kind = 'field' AND status != 'open' AND emrValue NOT LIKE '{%'
            AND (rowID IN (\(purging)) OR id IN (SELECT conflictID FROM conflict_row WHERE rowID IN (\(purging))))
            AND NOT EXISTS (
                SELECT 1 FROM staged_row WHERE payloadPurgedAt IS NULL AND id NOT IN (\(purging))
                    AND (id = conflict.rowID OR id IN (SELECT rowID FROM conflict_row WHERE conflictID = conflict.id)))
        """
    }

    /// What the purge writes in place of a purged conflict's two values, as SQL expressions over
    /// the conflict's row (``ConflictRow`` reads them back as "value purged on …").
    package static func purgedConflictValues(at: Double) -> (emr: String, salesforce: String) { ConflictRow.purgedValuesSQL(at: at) }

    /// A held merge as its `conflict.merge` column holds it (JSON), nil for a conflict of one field.
    package static func mergeText(_ merge: HeldMerge?) throws -> String? { try ConflictRow.text(merge) }

    /// `sync_request`: directions (comma-separated), actor, at. A direction this build does not
    /// know is an error naming it, never dropped from the request.
    package static func syncRequest(directions: String, actor: String, at: Double) throws -> SyncRequest {
        let known = try directions.split(separator: ",").map { try StoredValue.decode(String($0), "sync_request.directions") as Job.Direction }
        return SyncRequest(directions: Set(known), actor: Actor(actor), at: Date(timeIntervalSince1970: at))
    }

    /// `row_access`: id, at, rowID, operator, process, via.
    package typealias Access = (Int64, Double, Int64, String, String, String)

    package static func access(_ c: Access) throws -> RowAccess {
        RowAccess(
            id: c.0, at: Date(timeIntervalSince1970: c.1), rowID: c.2, operatorName: c.3, process: c.4, via: try StoredValue.decode(c.5, "row_access.via"))
    }
}
