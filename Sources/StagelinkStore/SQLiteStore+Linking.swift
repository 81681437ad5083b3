import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func claimRows(_ request: ClaimRequest, limit: Int, actor: Actor) async throws -> [StagedRow] {
        let now = Date()
        let until = now.addingTimeInterval(RowClaim.lifetime.seconds)
        let records: [StagedRowRecord] = try await write { db in
            var conditions = ["status IN (\(request.statuses.map { _ in "?" }.joined(separator: ",")))"]
            var arguments = StatementArguments(request.statuses.map(\.rawValue).sorted())
            conditions.append("(claimedUntil IS NULL OR claimedUntil < ? OR claimedBy = ?)")
            arguments += [now.seconds, actor.description]
            if let system = request.system {
                conditions.append("system = ?")
                arguments += [system.rawValue]
            }
            if let resourceType = request.resourceType {
                conditions.append("resourceType = ?")
                arguments += [resourceType]
            }
            if let rowIDs = request.rowIDs {
                guard !rowIDs.isEmpty else { return [] }
                conditions.append("id IN (\(rowIDs.map { _ in "?" }.joined(separator: ",")))")
                arguments += StatementArguments(rowIDs)
            }
            if let codes = request.errorCodes {
                guard !codes.isEmpty else { return [] }
                conditions.append("errorCode IN (\(codes.map { _ in "?" }.joined(separator: ",")))")
                arguments += StatementArguments(codes.sorted())
            }
            if let afterRowID = request.afterRowID {
                conditions.append("id > ?")
                arguments += [afterRowID]
            }
            if let maximumAttempts = request.maximumAttempts {
                conditions.append("attemptCount < ?")
                arguments += [maximumAttempts]
            }
            if let partition = request.partition {
                // The person: the row's parent when it has one, else its own record.
                conditions.append("stagelink_partition(COALESCE((SELECT sourceID FROM row_parent WHERE rowID = staged_row.id), sourceID), ?) = ?")
                arguments += [partition.count, partition.index]
            }
            let ids = try Int64.fetchAll(
                db, sql: "SELECT id FROM staged_row WHERE \(conditions.joined(separator: " AND ")) ORDER BY id LIMIT ?",
                arguments: arguments + [limit])
            guard !ids.isEmpty else { return [] }
            try db.execute(
                sql: "UPDATE staged_row SET claimedBy = ?, claimedUntil = ? WHERE id IN (\(Self.placeholders(ids.count)))",
                arguments: [actor.description, until.seconds] + StatementArguments(ids))
            return try Self.stagedRecords(db, ids: ids)
        }
        // Opened after the write lock is released.
        return try opened(records)
    }

    /// The rows with these ids with their payloads (still sealed in an encrypted store), in id
    /// order: what a claim and ``rows(ids:)`` read.
    static func stagedRecords(_ db: Database, ids: [Int64]) throws -> [StagedRowRecord] {
        try StagedRowRecord.fetchAll(
            db, sql: "\(StagedRowRecord.select) WHERE staged_row.id IN (\(placeholders(ids.count))) ORDER BY staged_row.id",
            arguments: StatementArguments(ids))
    }

    /// Rows with their payloads opened. An encrypted store's page is opened over every core (one
    /// AES-GCM open per payload, ``PageLanes``), as staging seals it.
    func opened(_ records: [StagedRowRecord]) throws -> [StagedRow] {
        try PageLanes.map(records.count, minimum: cipher == nil ? .max : 64, state: {}) { index, _ in try records[index].row(cipher) }
    }

    /// `stagelink_partition(person, count)`: the share of ``ClaimPartition`` a person falls in.
    static let partitionFunction = DatabaseFunction("stagelink_partition", argumentCount: 2, pure: true) { values in
        guard let key = String.fromDatabaseValue(values[0]), let count = Int.fromDatabaseValue(values[1]), count > 0 else { return nil }
        return ClaimPartition.share(of: key, count: count)
    }

    public func releaseClaims(rowIDs: [Int64], actor: Actor) async throws {
        guard !rowIDs.isEmpty else { return }
        try await write { db in
            try db.execute(
                sql: "UPDATE staged_row SET claimedBy = NULL, claimedUntil = NULL WHERE claimedBy = ? AND id IN (\(rowIDs.map { _ in "?" }.joined(separator: ",")))",
                arguments: [actor.description] + StatementArguments(rowIDs))
        }
    }

    public func releaseClaims(heldBy actor: Actor) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE staged_row SET claimedBy = NULL, claimedUntil = NULL WHERE claimedBy = ?", arguments: [actor.description])
        }
    }

    public func record(_ outcomes: [LinkOutcome]) async throws {
        guard !outcomes.isEmpty else { return }
        let outcomes = outcomes.map(\.storable)
        // Encoded (and sealed, in an encrypted store: over every core, ``PageLanes``) before taking
        // the write lock, so that the writer mostly executes statements.
        let encoded = try PageLanes.map(outcomes.count, minimum: cipher == nil ? .max : 64, state: StoreCipher.Nonces.init) { index, nonces in
            let lineage = try RecordWriteRow<[UInt8]>.encode(outcomes[index].writes).map { write in
                (write, try sealedText(write.fields, label: SealLabel.recordWrite(object: write.object, recordKey: write.recordKey), nonces: &nonces))
            }
            return (lineage, try FieldStateBatch(outcomes[index].fieldStates, store: self, nonces: &nonces))
        }
        let lineage = encoded.map(\.0)
        let states = encoded.map(\.1)
        try await write { db in
            try self.checkDataKey(db)
            // The status trigger writes the transition; RETURNING gives the attempt's number.
            let updateRow = try RawStatement(db.cachedStatement(sql: """
                UPDATE staged_row SET status = ?, errorCode = ?, errorMessage = ?, errorFields = ?, errorBody = ?, errorFurther = ?, attemptCount = attemptCount + 1,
                    note = ?, updatedAt = ?, updatedBy = ?, claimedBy = NULL, claimedUntil = NULL
                WHERE id = ? RETURNING attemptCount
                """), in: db)
            let insertAttempt = try RawStatement(db.cachedStatement(sql: """
                INSERT INTO link_attempt (rowID, number, at, actor, outcome, errorCode, errorMessage, errorFields, errorBody)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """), in: db)
            let upsertLink = try RawStatement(db.cachedStatement(sql: """
                INSERT OR REPLACE INTO record_link (system, resourceType, sourceID, targetType, targetID, recordKey, linkedRowID, linkedVersion,
                    linkedLastUpdated, updatedAt, retired, mergedInto) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """), in: db)
            let insertWrite = try RawStatement(db.cachedStatement(sql: """
                INSERT INTO record_write (object, recordKey, writtenTo, rowID, jobID, actor, at, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """), in: db)
            let stateStatements = try FieldStateStatements(db, store: self)
            let supersede = try RawStatement(db.cachedStatement(sql: Self.supersedeStagedRowsSQL), in: db)
            for ((outcome, writes), fieldStates) in zip(zip(outcomes, lineage), states) {
                let at = outcome.at.seconds
                let error = outcome.error
                let actor = outcome.actor.description
                // A failed row keeps its last error visible after it is superseded or ignored; a
                // linked one no longer has one.
                let keepsError = outcome.status == .failed || error != nil
                let kept = keepsError ? error : nil
                guard
                    let attemptNumber = try updateRow.run(
                        .text(outcome.status.rawValue), .text(kept?.code), .text(kept?.message), .text(LinkErrorColumns.fields(kept)),
                        .text(kept?.remoteBody), .text(LinkErrorColumns.further(kept)), .text(outcome.note), .real(at), .text(actor), .integer(outcome.rowID))
                else { throw StoreError.noSuchRow(outcome.rowID) }
                try insertAttempt.run(
                    .integer(outcome.rowID), .integer(attemptNumber), .real(at), .text(actor), .text(outcome.attempt.rawValue), .text(error?.code),
                    .text(error?.message), .text(LinkErrorColumns.fields(error)), .text(error?.remoteBody))
                for link in outcome.links {
                    let retirement = RecordLinkRecord.columns(link.retirement)
                    try upsertLink.run(
                        .text(link.source.system.rawValue), .text(link.source.resourceType), .text(link.source.sourceID), .text(link.targetType),
                        .text(link.targetID), .text(link.recordKey), .integer(link.linkedRowID), .text(link.linkedVersion.version),
                        .real(link.linkedVersion.lastUpdated?.seconds), .real(link.updatedAt.seconds), .text(retirement.retired),
                        .text(retirement.mergedInto))
                }
                try stateStatements.apply(fieldStates, at: at)
                for (write, fields) in writes {
                    try insertWrite.run(
                        .text(write.object), .text(write.recordKey), .text(write.writtenTo), .integer(write.rowID), .integer(write.jobID),
                        .text(write.actor), .real(write.at), fields)
                }
                for conflict in outcome.conflicts {
                    try self.insertConflict(conflict, at: at, in: db)
                }
                for key in outcome.supersedes {
                    // The trigger records each row's transition.
                    try supersede.run(
                        .text(Self.supersededNote), .real(at), .text(actor), .text(key.system.rawValue), .text(key.resourceType), .text(key.sourceID),
                        .real(at), .real(at))
                }
                for resolution in outcome.resolvedConflicts {
                    try resolve(resolution, at: at, in: db)
                }
            }
            CrashPoints.reach(.recordBeforeCommit)
        }
    }

    public func updateFieldStates(_ changes: [FieldStateChange]) async throws {
        guard !changes.isEmpty else { return }
        var nonces = StoreCipher.Nonces()
        let batch = try FieldStateBatch(changes, store: self, nonces: &nonces)
        try await write { db in
            try self.checkDataKey(db)
            try FieldStateStatements(db, store: self).apply(batch, at: Date().seconds)
        }
    }

    /// Rows of a record still waiting to be linked that Stagelink's own write made stale.
    private static let supersedeStagedRowsSQL = """
        UPDATE staged_row SET status = 'superseded', note = ?, updatedAt = ?, updatedBy = ?
        WHERE system = ? AND resourceType = ? AND sourceID = ? AND status = 'staged' AND receivedAt <= ?
            AND (claimedUntil IS NULL OR claimedUntil < ?)
        """
    private static let supersededNote = "Stagelink wrote this record after this version was received; its next version carries these changes"

    /// Marks a conflict resolved and links every row held only by it.
    private func resolve(_ resolution: ConflictResolution, at: Double, in db: Database) throws {
        try db.execute(
            sql: "UPDATE conflict SET status = 'resolved', winner = ?, resolvedBy = ?, resolvedAt = ?, reason = ? WHERE id = ?",
            arguments: [resolution.winner.rawValue, resolution.actor.description, at, resolution.reason, resolution.conflictID])
        try db.execute(
            sql: """
                UPDATE staged_row SET status = 'linked', note = ?, updatedAt = ?, updatedBy = ?
                WHERE status = 'held' AND id IN (SELECT rowID FROM conflict_row WHERE conflictID = ?)
                    AND NOT EXISTS (
                        SELECT 1 FROM conflict_row JOIN conflict ON conflict.id = conflict_row.conflictID
                        WHERE conflict_row.rowID = staged_row.id AND conflict.status = 'open')
                """,
            arguments: ["conflict \(resolution.conflictID) resolved by \(resolution.actor)", at, resolution.actor.description, resolution.conflictID])
    }

    private func insertConflict(_ conflict: ConflictRecord, at: Double, in db: Database) throws {
        // Sealed deterministically when the store is encrypted: the same values seal the same.
        let label = SealLabel.conflict(object: conflict.record.object, recordKey: conflict.record.key, field: conflict.field)
        let emrValue = try sealedValue(conflict.emrValue.storageText, label: label)
        let salesforceValue = try sealedValue(conflict.salesforceValue.storageText, label: label)
        // The same collision seen again (by the other direction, or a retry) is the same conflict.
        try db.cachedStatement(
            sql: """
                INSERT INTO conflict (object, recordKey, field, rowID, emrValue, salesforceValue, rule, status, winner, createdAt, kind, merge)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (object, recordKey, field, emrValue, salesforceValue) DO NOTHING
                """
        ).execute(
            arguments: [
                conflict.record.object, conflict.record.key, conflict.field, conflict.rowID, emrValue, salesforceValue, conflict.rule.rawValue,
                conflict.winner == nil ? Conflict.Status.open.rawValue : Conflict.Status.decided.rawValue, conflict.winner?.rawValue, at,
                (conflict.merge == nil ? Conflict.Kind.field : Conflict.Kind.merge).rawValue, try ConflictRow.text(conflict.merge),
            ])
        guard let rowID = conflict.rowID,
            let id = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM conflict WHERE object = ? AND recordKey = ? AND field = ? AND emrValue = ? AND salesforceValue = ?"),
                arguments: [conflict.record.object, conflict.record.key, conflict.field, emrValue, salesforceValue])
        else { return }
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO conflict_row (conflictID, rowID) VALUES (?, ?)").execute(arguments: [id, rowID])
    }

    public func links(for keys: [SourceKey]) async throws -> [SourceKey: RecordLink] {
        guard !keys.isEmpty else { return [:] }
        // One query per source and resource type (a batch has one of each), not one per key.
        let sourceIDs = Dictionary(grouping: Set(keys), by: { [$0.system.rawValue, $0.resourceType] }).mapValues { $0.map(\.sourceID).sorted() }
        return try await pool.read { db in
            var links: [SourceKey: RecordLink] = [:]
            for (type, ids) in sourceIDs {
                for part in ids.chunked(Self.maximumListSize) {
                    let records = try RecordLinkRecord.fetchAll(
                        db, sql: "\(RecordLinkRecord.select) WHERE system = ? AND resourceType = ? AND sourceID IN (\(Self.placeholders(part.count)))",
                        arguments: StatementArguments(type + Array(part)))
                    for record in records {
                        let link = try record.link()
                        links[link.source] = link
                    }
                }
            }
            return links
        }
    }

    public func link(targetType: String, targetID: String) async throws -> RecordLink? {
        try await pool.read { db in
            // A live link first: a retired one (its source merged away) may name the same counterpart;
            // of the live ones the newest, which a merge's relink moved to the survivor (an older
            // link, such as an episode's, may still carry the loser's key).
            try RecordLinkRecord.fetchOne(
                db, sql: "\(RecordLinkRecord.select) WHERE targetType = ? AND targetID = ? ORDER BY retired IS NOT NULL, updatedAt DESC LIMIT 1",
                arguments: [targetType, targetID]
            )?.link()
        }
    }

    /// The deletions and merges among `count` source ids. Few rows are deletions or merges: their
    /// partial index finds them and the ids narrow them. Named, because SQLite's planner does not
    /// take a partial index for a `!=` on its own and scanned the whole table instead, once per
    /// batch linked: in a first load of 385,000 rows, 737 scans of about 110 ms, 80 s of a 67 s link
    /// on two cores (`StoreTests.removalRowsAreFoundThroughTheirPartialIndex`).
    static func removalRowsSQL(_ count: Int) -> String {
        "SELECT * FROM staged_row INDEXED BY staged_row_kind WHERE kind != 'record' AND sourceID IN (\(placeholders(count))) ORDER BY id"
    }

    public func removalRows(of keys: [SourceKey]) async throws -> [SourceKey: [StagedRowSummary]] {
        guard !keys.isEmpty else { return [:] }
        let wanted = Set(keys)
        return try await pool.read { db in
            var result: [SourceKey: [StagedRowSummary]] = [:]
            for part in Array(wanted.map(\.sourceID)).chunked(Self.maximumListSize) {
                let rows = try Row.fetchAll(db, sql: Self.removalRowsSQL(part.count), arguments: StatementArguments(Array(part)))
                for row in rows {
                    let summary = try StagedRowRecord.summary(row)
                    let key = SourceKey(system: summary.system, resourceType: summary.resourceType, sourceID: summary.sourceID)
                    if wanted.contains(key) { result[key, default: []].append(summary) }
                }
            }
            return result
        }
    }

    public func retiredLinks(recordKeys: [String], targetType: String) async throws -> [String: RecordLink] {
        guard !recordKeys.isEmpty else { return [:] }
        return try await pool.read { db in
            var links: [String: RecordLink] = [:]
            for part in Array(Set(recordKeys)).chunked(Self.maximumListSize) {
                let records = try RecordLinkRecord.fetchAll(
                    db,
                    sql: "\(RecordLinkRecord.select) WHERE targetType = ? AND recordKey IN (\(Self.placeholders(part.count))) AND retired IS NOT NULL",
                    arguments: StatementArguments([targetType] + Array(part)))
                for record in records {
                    let link = try record.link()
                    links[link.recordKey] = link
                }
            }
            return links
        }
    }

    public func links(recordKey: String, targetType: String) async throws -> [RecordLink] {
        try await pool.read { db in
            try RecordLinkRecord.fetchAll(db, sql: "\(RecordLinkRecord.select) WHERE targetType = ? AND recordKey = ?", arguments: [targetType, recordKey])
                .map { try $0.link() }
        }
    }

    public func fieldStates(for records: [MappedRecordKey]) async throws -> [MappedRecordKey: [String: FieldState]] {
        guard !records.isEmpty else { return [:] }
        let keys = Dictionary(grouping: Set(records), by: \.object).mapValues { $0.map(\.key).sorted() }
        return try await pool.read { db in
            var states: [MappedRecordKey: [String: FieldState]] = [:]
            for (object, recordKeys) in keys {
                for part in recordKeys.chunked(Self.maximumListSize) {
                    let rows = try Row.fetchCursor(
                        db, sql: "SELECT recordKey, fields FROM record_state WHERE object = ? AND recordKey IN (\(Self.placeholders(part.count)))",
                        arguments: StatementArguments([object] + Array(part)))
                    while let row = try rows.next() {
                        let key: String = row[0]
                        let text = try SealedFields.opened(
                            row[1], sealing: self.sealing, label: SealLabel.recordState(object: object, recordKey: key),
                            what: "the field values of \(object) \(key)")
                        states[MappedRecordKey(object: object, key: key)] = RecordStateRecord.decode(text)
                    }
                }
            }
            return states
        }
    }

    /// Values in one `IN (…)` list, well under SQLite's limit on parameters.
    static let maximumListSize = 500

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    public func lastWrite(record: MappedRecordKey, field: String) async throws -> FieldWrite? {
        try await pool.read { db in
            let cursor = try RecordWriteRecord.fetchCursor(
                db, sql: "SELECT * FROM record_write WHERE object = ? AND recordKey = ? ORDER BY id DESC", arguments: [record.object, record.key])
            while let write = try cursor.next() {
                if let found = try self.opened(write).writes.first(where: { $0.field == field }) { return found }
            }
            return nil
        }
    }
}

/// Field state changes grouped by record, each group also encoded as it would be stored if the
/// record had no state yet (the common case of a first sync), ahead of the write transaction.
struct FieldStateBatch {
    var records: [(record: MappedRecordKey, changes: [FieldStateChange], fresh: RawStatement.Value)] = []

    /// Sealed by `store` when it is encrypted.
    init(_ changes: [FieldStateChange], store: SQLiteStore, nonces: inout StoreCipher.Nonces) throws {
        let groups = changes.positionsGrouped { $0.record == $1.record }
        records = try groups.map { group in
            let byField = group.sorted { changes[$0].field < changes[$1].field }
            let record = changes[group[0]].record
            let fresh = try store.sealedText(
                RecordStateRecord.encode(byField.lazy.map { (changes[$0].field, changes[$0].state) }),
                label: SealLabel.recordState(object: record.object, recordKey: record.key), nonces: &nonces)
            return (record, group.map { changes[$0] }, fresh)
        }
    }
}

/// The two statements that keep `record_state`, prepared once per transaction.
private struct FieldStateStatements {
    let select: Statement
    let upsert: RawStatement
    let store: SQLiteStore

    init(_ db: Database, store: SQLiteStore) throws {
        self.store = store
        select = try db.cachedStatement(sql: "SELECT fields FROM record_state WHERE object = ? AND recordKey = ?")
        upsert = RawStatement(
            try db.cachedStatement(sql: """
                INSERT INTO record_state (object, recordKey, fields, updatedAt) VALUES (?, ?, ?, ?)
                ON CONFLICT (object, recordKey) DO UPDATE SET fields = excluded.fields, updatedAt = excluded.updatedAt
                """), in: db)
    }

    func apply(_ batch: FieldStateBatch, at: Double) throws {
        var nonces = StoreCipher.Nonces()
        for entry in batch.records {
            // Merge: other mappings (and other processes) write other fields of the same record.
            let text: RawStatement.Value
            if let existing = try DatabaseValue.fetchOne(select, arguments: [entry.record.object, entry.record.key]) {
                let label = SealLabel.recordState(object: entry.record.object, recordKey: entry.record.key)
                var states = RecordStateRecord.decode(
                    try SealedFields.opened(
                        existing, sealing: store.sealing, label: label, what: "the field values of \(entry.record.object) \(entry.record.key)"))
                for change in entry.changes { states[change.field] = change.state }
                text = try store.sealedText(
                    RecordStateRecord.encode(states.sorted { $0.key < $1.key }.lazy.map { ($0.key, $0.value) }), label: label, nonces: &nonces)
            } else {
                text = entry.fresh
            }
            try upsert.run(.text(entry.record.object), .text(entry.record.key), text, .real(at))
        }
    }
}
