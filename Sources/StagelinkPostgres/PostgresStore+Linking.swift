import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The linking role: claims, what linking did to each row, links, field states and lineage.
extension PostgresStore {
    /// Claims with `FOR UPDATE SKIP LOCKED`: two processes (or workers) claiming at the same moment
    /// take different rows and never wait on each other's. A worker's ``ClaimPartition`` is the
    /// share `hashtext` gives the row's person (its parent's source id, or its own).
    ///
    /// One statement picks the rows, marks them claimed and returns them with their payloads. The
    /// rows are updated by their ids (`= ANY(ARRAY(…))`, an index scan): joined to the picked rows
    /// instead, the planner hashed the whole table on every claim, which grew with the store.
    public func claimRows(_ request: ClaimRequest, limit: Int, actor: Actor) async throws -> [StagedRow] {
        if let rowIDs = request.rowIDs, rowIDs.isEmpty { return [] }
        if let codes = request.errorCodes, codes.isEmpty { return [] }
        let now = Date().timeIntervalSince1970
        let until = now + RowClaim.lifetime.seconds
        let statuses = request.statuses.map(\.rawValue).sorted()
        let codes = request.errorCodes.map { Array($0).sorted() }
        return try await transaction { connection in
            let claimed = try await connection.rows(
                """
                WITH picked AS (
                    SELECT id FROM staged_row
                    WHERE status = ANY(\(statuses)::text[])
                        AND (claimedUntil IS NULL OR claimedUntil < \(now) OR claimedBy = \(actor.description))
                        AND (\(request.system?.rawValue)::text IS NULL OR system = \(request.system?.rawValue))
                        AND (\(request.resourceType)::text IS NULL OR resourceType = \(request.resourceType))
                        AND (\(request.rowIDs)::int8[] IS NULL OR id = ANY(\(request.rowIDs)::int8[]))
                        AND (\(codes)::text[] IS NULL OR errorCode = ANY(\(codes)::text[]))
                        AND (\(request.afterRowID)::int8 IS NULL OR id > \(request.afterRowID))
                        AND (\(request.maximumAttempts)::int8 IS NULL OR attemptCount < \(request.maximumAttempts))
                        AND (\(request.partition?.count)::int4 IS NULL OR mod(abs(hashtext(
                            COALESCE((SELECT row_parent.sourceID FROM row_parent WHERE row_parent.rowID = staged_row.id), staged_row.sourceID))::int8),
                            \(request.partition?.count)) = \(request.partition?.index))
                    ORDER BY id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                ), claimed AS (
                    UPDATE staged_row SET claimedBy = \(actor.description), claimedUntil = \(until)
                    WHERE staged_row.id = ANY(ARRAY(SELECT id FROM picked))
                    RETURNING staged_row.*
                )
                \(unescaped: Self.selectClaimed) ORDER BY claimed.id
                """, logger: logger
            ).decode(StagedRowRecord.Values.self).collect()
            return try claimed.map { try StagedRowRecord($0).row(sealing.cipher) }
        }
    }

    /// ``StagedRowRecord/select``'s columns read from the `claimed` rows an `UPDATE … RETURNING`
    /// gave (every column of `staged_row`), with their payloads.
    static let selectClaimed = StagedRowRecord.select
        .replacingOccurrences(of: "staged_row.id", with: "claimed.id")
        .replacingOccurrences(of: "FROM staged_row JOIN staged_payload ON staged_payload.rowID = claimed.id", with: "FROM claimed JOIN staged_payload ON staged_payload.rowID = claimed.id")

    public func releaseClaims(rowIDs: [Int64], actor: Actor) async throws {
        guard !rowIDs.isEmpty else { return }
        try await run(
            "UPDATE staged_row SET claimedBy = NULL, claimedUntil = NULL WHERE claimedBy = \(actor.description) AND id = ANY(\(rowIDs)::int8[])",
            logger: logger)
    }

    public func releaseClaims(heldBy actor: Actor) async throws {
        try await run("UPDATE staged_row SET claimedBy = NULL, claimedUntil = NULL WHERE claimedBy = \(actor.description)", logger: logger)
    }

    public func setStatus(rowIDs: [Int64], to status: RowStatus, from: Set<RowStatus>, actor: Actor, note: String) async throws -> [Int64] {
        guard !rowIDs.isEmpty else { return [] }
        let now = Date().timeIntervalSince1970
        // The status trigger records each row's transition.
        let changed = try await transaction { connection in
            try await connection.rows(
                """
                UPDATE staged_row SET status = \(status.rawValue), note = \(note), updatedAt = \(now), updatedBy = \(actor.description),
                    claimedBy = NULL, claimedUntil = NULL
                WHERE id = ANY(\(rowIDs)::int8[]) AND status = ANY(\(from.map(\.rawValue))::text[])
                RETURNING id
                """, logger: logger
            ).decode(Int64.self).collect()
        }
        let set = Set(changed)
        return rowIDs.filter { set.contains($0) }
    }

    /// Everything an outcome says, all of a batch in one transaction: the row's status (the
    /// trigger records the transition), the attempt, links, field states, lineage, conflicts.
    ///
    /// A batch costs three statements whatever its size (``OutcomeBatch``): the field states of its
    /// records locked and read, then one statement that updates the rows, appends their attempts
    /// and lineage, upserts the links and writes the merged field states, then one that supersedes
    /// the staged rows the outcomes wrote over (``supersede(_:in:)``: nearly every linked row names
    /// its counterpart's echo). Conflicts and resolutions, which few outcomes carry, follow one by
    /// one; they touch held rows and conflicts, never a staged row a supersession takes.
    public func record(_ outcomes: [LinkOutcome]) async throws {
        guard !outcomes.isEmpty else { return }
        let outcomes = outcomes.map(\.storable)
        let segments = try OutcomeBatch.segments(outcomes).map { segment in (segment, try OutcomeBatch(segment, sealing: sealing)) }
        try await transaction { connection in
            try await checkDataKey(in: connection)
            for (segment, batch) in segments {
                try await record(batch, in: connection)
                for outcome in segment {
                    let at = outcome.at.timeIntervalSince1970
                    for conflict in outcome.conflicts { try await insert(conflict, at: at, in: connection) }
                    for resolution in outcome.resolvedConflicts { try await resolve(resolution, at: at, in: connection) }
                }
                try await supersede(segment, in: connection)
            }
        }
    }

    /// One segment's rows, attempts, links, lineage and field states: two statements.
    private func record(_ batch: OutcomeBatch, in connection: PostgresConnection) async throws {
        let states = try await mergedStates(batch.fieldStates, in: connection)
        let (rows, links, writes) = (batch.rows, batch.links, batch.writes)
        let query: PostgresQuery = """
            WITH o AS (
                SELECT * FROM unnest(\(rows.map(\.id))::int8[], \(rows.map(\.status))::text[], \(rows.map(\.attempt))::text[],
                    \(rows.map(\.at))::float8[], \(rows.map(\.actor))::text[], \(NullableArray(rows.map(\.note)))::text[],
                    \(NullableArray(rows.map(\.keptCode)))::text[], \(NullableArray(rows.map(\.keptMessage)))::text[],
                    \(NullableArray(rows.map(\.keptFields)))::text[], \(NullableArray(rows.map(\.keptBody)))::text[],
                    \(NullableArray(rows.map(\.keptFurther)))::text[], \(NullableArray(rows.map(\.code)))::text[],
                    \(NullableArray(rows.map(\.message)))::text[], \(NullableArray(rows.map(\.fields)))::text[],
                    \(NullableArray(rows.map(\.body)))::text[])
                    AS o(id, status, attempt, at, actor, note, keptcode, keptmessage, keptfields, keptbody, keptfurther, code, message, fields, body)
            ), updated AS (
                UPDATE staged_row SET status = o.status, errorCode = o.keptcode, errorMessage = o.keptmessage, errorFields = o.keptfields,
                    errorBody = o.keptbody, errorFurther = o.keptfurther, attemptCount = staged_row.attemptCount + 1, note = o.note,
                    updatedAt = o.at, updatedBy = o.actor, claimedBy = NULL, claimedUntil = NULL
                FROM o WHERE staged_row.id = o.id
                RETURNING staged_row.id, staged_row.attemptCount
            ), attempts AS (
                INSERT INTO link_attempt (rowID, number, at, actor, outcome, errorCode, errorMessage, errorFields, errorBody)
                SELECT o.id, updated.attemptCount, o.at, o.actor, o.attempt, o.code, o.message, o.fields, o.body
                FROM o JOIN updated ON updated.id = o.id ORDER BY o.id
            ), links AS (
                INSERT INTO record_link (system, resourceType, sourceID, targetType, targetID, recordKey, linkedRowID, linkedVersion,
                    linkedLastUpdated, updatedAt, retired, mergedInto)
                SELECT * FROM unnest(\(links.map(\.system))::text[], \(links.map(\.resourceType))::text[], \(links.map(\.sourceID))::text[],
                    \(links.map(\.targetType))::text[], \(links.map(\.targetID))::text[], \(links.map(\.recordKey))::text[],
                    \(NullableArray(links.map(\.linkedRowID)))::int8[], \(NullableArray(links.map(\.linkedVersion)))::text[],
                    \(NullableArray(links.map(\.linkedLastUpdated)))::float8[], \(links.map(\.updatedAt))::float8[],
                    \(NullableArray(links.map(\.retired)))::text[], \(NullableArray(links.map(\.mergedInto)))::text[])
                ON CONFLICT (system, resourceType, sourceID) DO UPDATE SET targetType = excluded.targetType, targetID = excluded.targetID,
                    recordKey = excluded.recordKey, linkedRowID = excluded.linkedRowID, linkedVersion = excluded.linkedVersion,
                    linkedLastUpdated = excluded.linkedLastUpdated, updatedAt = excluded.updatedAt, retired = excluded.retired,
                    mergedInto = excluded.mergedInto
            ), writes AS (
                INSERT INTO record_write (object, recordKey, writtenTo, rowID, jobID, actor, at, fields)
                SELECT * FROM unnest(\(writes.map(\.object))::text[], \(writes.map(\.recordKey))::text[], \(writes.map(\.writtenTo))::text[],
                    \(NullableArray(writes.map(\.rowID)))::int8[], \(NullableArray(writes.map(\.jobID)))::int8[], \(writes.map(\.actor))::text[],
                    \(writes.map(\.at))::float8[], \(writes.map(\.fields))::text[])
            ), states AS (
                INSERT INTO record_state (object, recordKey, fields, updatedAt)
                SELECT * FROM unnest(\(states.objects)::text[], \(states.keys)::text[], \(states.fields)::text[], \(states.at)::float8[])
                ON CONFLICT (object, recordKey) DO UPDATE SET fields = excluded.fields, updatedAt = excluded.updatedAt
            )
            SELECT id FROM updated
            """
        let updated = Set(try await connection.rows(query, logger: logger).decode(Int64.self).collect())
        if let missing = batch.rows.first(where: { !updated.contains($0.id) }) { throw StoreError.noSuchRow(missing.id) }
    }

    /// Supersedes, in one statement, the rows each outcome names (``LinkOutcome/supersedes``):
    /// a record's rows still staged that were received at or before the outcome and are not
    /// claimed then, as the outcomes would one after the other (a row two outcomes name is
    /// superseded by the first). Each key's rows are found through `staged_row_content`, one index
    /// probe a key (`LATERAL … OFFSET 0`, ``recordLinks(keyedBy:)``), never a join of the whole
    /// table (the status trigger records each transition).
    private func supersede(_ outcomes: some Collection<LinkOutcome>, in connection: PostgresConnection) async throws {
        var keys = SourceKeyColumns()
        var at: [Double] = [], actors: [String] = []
        for outcome in outcomes {
            for key in outcome.supersedes {
                keys.append(key)
                at.append(outcome.at.timeIntervalSince1970)
                actors.append(outcome.actor.description)
            }
        }
        guard !at.isEmpty else { return }
        try await connection.run(
            """
            WITH named AS (
                SELECT * FROM unnest(\(keys.systems)::text[], \(keys.types)::text[], \(keys.ids)::text[], \(at)::float8[], \(actors)::text[])
                    WITH ORDINALITY AS k(system, resourceType, sourceID, at, actor, ord)
            ), taken AS (
                SELECT DISTINCT ON (found.id) found.id, named.at, named.actor FROM named
                CROSS JOIN LATERAL (
                    SELECT id FROM staged_row
                    WHERE staged_row.system = named.system AND staged_row.resourceType = named.resourceType AND staged_row.sourceID = named.sourceID
                        AND status = 'staged' AND receivedAt <= named.at AND (claimedUntil IS NULL OR claimedUntil < named.at)
                    OFFSET 0
                ) AS found
                ORDER BY found.id, named.ord
            )
            UPDATE staged_row SET status = 'superseded', note = \(Self.supersededNote),
                (updatedAt, updatedBy) = (SELECT taken.at, taken.actor FROM taken WHERE taken.id = staged_row.id)
            WHERE staged_row.id = ANY(ARRAY(SELECT id FROM taken))
            """, logger: logger)
    }

    static let supersededNote = "Stagelink wrote this record after this version was received; its next version carries these changes"

    private func upsert(_ link: RecordLink, in connection: PostgresConnection) async throws {
        let retirement = RecordLinkRecord.columns(link.retirement)
        try await connection.run(
            """
            INSERT INTO record_link (system, resourceType, sourceID, targetType, targetID, recordKey, linkedRowID, linkedVersion,
                linkedLastUpdated, updatedAt, retired, mergedInto)
            VALUES (\(link.source.system.rawValue), \(link.source.resourceType), \(link.source.sourceID), \(link.targetType), \(link.targetID),
                \(link.recordKey), \(link.linkedRowID), \(link.linkedVersion.version), \(link.linkedVersion.lastUpdated?.timeIntervalSince1970),
                \(link.updatedAt.timeIntervalSince1970), \(retirement.retired), \(retirement.mergedInto))
            ON CONFLICT (system, resourceType, sourceID) DO UPDATE SET targetType = excluded.targetType, targetID = excluded.targetID,
                recordKey = excluded.recordKey, linkedRowID = excluded.linkedRowID, linkedVersion = excluded.linkedVersion,
                linkedLastUpdated = excluded.linkedLastUpdated, updatedAt = excluded.updatedAt, retired = excluded.retired, mergedInto = excluded.mergedInto
            """, logger: logger)
    }

    /// The field states of the records `changes` touch, merged with them (other mappings and
    /// processes write other fields of the same records), as the columns of one `UPDATE`.
    ///
    /// One statement locks and reads them: each record's row is made if it has none yet, and
    /// locked either way (`ON CONFLICT … DO UPDATE`), so that a process writing the same record at
    /// the same moment waits for this transaction and then merges into what it wrote.
    private func mergedStates(_ changes: [(change: FieldStateChange, at: Double)], in connection: PostgresConnection) async throws -> StateColumns {
        var columns = StateColumns()
        guard !changes.isEmpty else { return columns }
        var lastAt: [MappedRecordKey: Double] = [:]
        for (change, at) in changes { lastAt[change.record] = at }
        // In one order in every process, so that two never wait on each other's records.
        let records = lastAt.keys.sorted { ($0.object, $0.key) < ($1.object, $1.key) }
        let current = try await connection.rows(
            """
            INSERT INTO record_state (object, recordKey, fields, updatedAt)
            SELECT object, recordKey, '{}', 0 FROM unnest(\(records.map(\.object))::text[], \(records.map(\.key))::text[]) AS r(object, recordKey)
            ON CONFLICT (object, recordKey) DO UPDATE SET updatedAt = record_state.updatedAt
            RETURNING object, recordKey, fields
            """, logger: logger
        ).decode((String, String, String).self).collect()
        var states = try openedStates(current)
        for (change, _) in changes { states[change.record, default: [:]][change.field] = change.state }
        var nonces = StoreCipher.Nonces()
        for record in records {
            let merged = states[record, default: [:]].sorted { $0.key < $1.key }.lazy.map { ($0.key, $0.value) }
            columns.objects.append(record.object)
            columns.keys.append(record.key)
            columns.fields.append(
                try sealing.sealedString(
                    RecordStateRecord.encode(merged), label: SealLabel.recordState(object: record.object, recordKey: record.key), nonces: &nonces))
            columns.at.append(lastAt[record]!)
        }
        return columns
    }

    /// Merged field states as the arrays one `INSERT … SELECT FROM unnest(…)` takes. Every record's
    /// row exists and is locked by then (``mergedStates(_:in:)``): `ON CONFLICT … DO UPDATE` finds
    /// each through the primary key, where an `UPDATE … FROM unnest(…)` was planned as a hash join
    /// over the whole of `record_state`, which grew with the store.
    struct StateColumns {
        var objects: [String] = [], keys: [String] = [], fields: [String] = [], at: [Double] = []
    }

    public func updateFieldStates(_ changes: [FieldStateChange]) async throws {
        guard !changes.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        try await transaction { connection in
            try await checkDataKey(in: connection)
            let states = try await mergedStates(changes.map { ($0, now) }, in: connection)
            try await connection.run(
                """
                INSERT INTO record_state (object, recordKey, fields, updatedAt)
                SELECT * FROM unnest(\(states.objects)::text[], \(states.keys)::text[], \(states.fields)::text[], \(states.at)::float8[])
                ON CONFLICT (object, recordKey) DO UPDATE SET fields = excluded.fields, updatedAt = excluded.updatedAt
                """, logger: logger)
        }
    }

    /// The same collision seen again (by the other direction, or a retry) is the same conflict.
    private func insert(_ conflict: ConflictRecord, at: Double, in connection: PostgresConnection) async throws {
        let label = SealLabel.conflict(object: conflict.record.object, recordKey: conflict.record.key, field: conflict.field)
        let emrValue = try sealing.sealedValue(conflict.emrValue.storageText, label: label)
        let salesforceValue = try sealing.sealedValue(conflict.salesforceValue.storageText, label: label)
        let status = conflict.winner == nil ? Conflict.Status.open.rawValue : Conflict.Status.decided.rawValue
        try await connection.run(
            """
            INSERT INTO conflict (object, recordKey, field, rowID, emrValue, salesforceValue, rule, status, winner, createdAt, kind, merge)
            VALUES (\(conflict.record.object), \(conflict.record.key), \(conflict.field), \(conflict.rowID), \(emrValue), \(salesforceValue),
                \(conflict.rule.rawValue), \(status), \(conflict.winner?.rawValue), \(at),
                \((conflict.merge == nil ? Conflict.Kind.field : Conflict.Kind.merge).rawValue), \(try StoredColumns.mergeText(conflict.merge)))
            ON CONFLICT (object, recordKey, field, md5(emrValue), md5(salesforceValue)) DO NOTHING
            """, logger: logger)
        guard let rowID = conflict.rowID else { return }
        try await connection.run(
            """
            INSERT INTO conflict_row (conflictID, rowID)
            SELECT id, \(rowID) FROM conflict
            WHERE object = \(conflict.record.object) AND recordKey = \(conflict.record.key) AND field = \(conflict.field)
                AND md5(emrValue) = md5(\(emrValue)) AND md5(salesforceValue) = md5(\(salesforceValue))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// Marks a conflict resolved and links every row held only by it.
    private func resolve(_ resolution: ConflictResolution, at: Double, in connection: PostgresConnection) async throws {
        try await connection.run(
            """
            UPDATE conflict SET status = 'resolved', winner = \(resolution.winner.rawValue), resolvedBy = \(resolution.actor.description),
                resolvedAt = \(at), reason = \(resolution.reason)
            WHERE id = \(resolution.conflictID)
            """, logger: logger)
        let note = "conflict \(resolution.conflictID) resolved by \(resolution.actor)"
        try await connection.run(
            """
            UPDATE staged_row SET status = 'linked', note = \(note), updatedAt = \(at),
                updatedBy = \(resolution.actor.description)
            WHERE status = 'held' AND id IN (SELECT rowID FROM conflict_row WHERE conflictID = \(resolution.conflictID))
                AND NOT EXISTS (
                    SELECT 1 FROM conflict_row JOIN conflict ON conflict.id = conflict_row.conflictID
                    WHERE conflict_row.rowID = staged_row.id AND conflict.status = 'open')
            """, logger: logger)
    }

    // MARK: - Links and field states

    public func links(for keys: [SourceKey]) async throws -> [SourceKey: RecordLink] {
        guard !keys.isEmpty else { return [:] }
        var unique = SourceKeyColumns()
        for key in Set(keys) { unique.append(key) }
        // One primary-key probe a key: as `IN (SELECT … FROM unnest(…))` the planner hashed the
        // whole table on every call while it grew faster than its statistics.
        let found = try await recordLinks(
            keyedBy: """
                FROM unnest(\(unique.systems)::text[], \(unique.types)::text[], \(unique.ids)::text[]) AS k(keySystem, keyType, keyID)
                CROSS JOIN LATERAL (
                    SELECT * FROM record_link WHERE system = k.keySystem AND resourceType = k.keyType AND sourceID = k.keyID OFFSET 0
                ) AS record_link
                """)
        return Dictionary(found.map { ($0.source, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func link(targetType: String, targetID: String) async throws -> RecordLink? {
        // A live link first: a retired one (its source merged away) may name the same counterpart;
        // of the live ones the newest, as in the SQLite store.
        try await recordLinks("targetType = \(targetType) AND targetID = \(targetID) ORDER BY retired IS NOT NULL, updatedAt DESC LIMIT 1").first
    }

    public func links(recordKey: String, targetType: String) async throws -> [RecordLink] {
        try await recordLinks("targetType = \(targetType) AND recordKey = \(recordKey)")
    }

    public func retiredLinks(recordKeys: [String], targetType: String) async throws -> [String: RecordLink] {
        guard !recordKeys.isEmpty else { return [:] }
        // One index probe a key (`record_link_record`): as `recordKey = ANY(…)` the planner read
        // every link of the type and filtered them.
        let found = try await recordLinks(
            keyedBy: """
                FROM unnest(\(Array(Set(recordKeys)))::text[]) AS k(keyRecord)
                CROSS JOIN LATERAL (
                    SELECT * FROM record_link WHERE targetType = \(targetType) AND recordKey = k.keyRecord AND retired IS NOT NULL OFFSET 0
                ) AS record_link
                """)
        return Dictionary(found.map { ($0.recordKey, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func fieldStates(for records: [MappedRecordKey]) async throws -> [MappedRecordKey: [String: FieldState]] {
        guard !records.isEmpty else { return [:] }
        let unique = Array(Set(records))
        let rows = try await client.query(
            """
            SELECT object, recordKey, fields FROM record_state
            WHERE (object, recordKey) IN (SELECT * FROM unnest(\(unique.map(\.object))::text[], \(unique.map(\.key))::text[]))
            """, logger: logger
        ).decode((String, String, String).self).collect()
        return try openedStates(rows)
    }

    /// Field states as `record_state` rows hold them (object, record key, fields), opened.
    private func openedStates(_ rows: [(String, String, String)]) throws -> [MappedRecordKey: [String: FieldState]] {
        var states: [MappedRecordKey: [String: FieldState]] = [:]
        for (object, key, fields) in rows {
            let text = try sealing.openText(
                fields, label: SealLabel.recordState(object: object, recordKey: key), what: "the field values of \(object) \(key)")
            states[MappedRecordKey(object: object, key: key)] = RecordStateRecord.decode(text)
        }
        return states
    }

    public func lastWrite(record: MappedRecordKey, field: String) async throws -> FieldWrite? {
        let rows = try await client.query(
            """
            SELECT id, writtenTo, rowID, jobID, actor, at, fields FROM record_write
            WHERE object = \(record.object) AND recordKey = \(record.key) ORDER BY id DESC
            """, logger: logger
        ).decode((Int64, String, Int64?, Int64?, String, Double, String).self).collect()
        for (id, writtenTo, rowID, jobID, actor, at, fields) in rows {
            let write = RecordWriteRecord(
                id: id, object: record.object, recordKey: record.key, writtenTo: writtenTo, rowID: rowID, jobID: jobID, actor: actor, at: at, fields: fields)
            if let found = try sealing.opened(write).writes.first(where: { $0.field == field }) { return found }
        }
        return nil
    }

    /// Links read with a condition (and an order) on `record_link` that follows `WHERE`.
    private func recordLinks(_ condition: PostgresQuery) async throws -> [RecordLink] {
        try await recordLinks(keyedBy: PostgresQuery(unsafeSQL: "FROM record_link WHERE \(condition.sql)", binds: condition.binds))
    }

    /// Links read from `source`, the rest of the statement after the columns: for a batch, a
    /// `FROM` of the keys (a set-returning function) `CROSS JOIN LATERAL` a `SELECT * FROM
    /// record_link … OFFSET 0` of each key's links aliased `record_link`, so that each key is its
    /// own index probe whatever the planner's statistics say of the table's size. (`OFFSET 0`
    /// keeps the planner from pulling the subquery up into a join of its own choosing: without it,
    /// a table grown faster than its statistics was hashed whole on every call.)
    private func recordLinks(keyedBy source: PostgresQuery) async throws -> [RecordLink] {
        let query = PostgresQuery(unsafeSQL: "SELECT \(RecordLinkRecord.columns) \(source.sql)", binds: source.binds)
        return try await client.query(query, logger: logger).decode(RecordLinkRecord.Values.self).collect().map { try RecordLinkRecord($0).link() }
    }

    // MARK: - Create intents

    public func createIntent(resourceType: String, identifier: ResourceIdentifier) async throws -> CreateIntent? {
        try await createIntents(
            "resourceType = \(resourceType) AND identifierSystem = \(identifier.system) AND identifierValue = \(identifier.value)"
        ).first
    }

    public func recordCreateIntent(_ intent: CreateIntent) async throws {
        try await run(
            """
            INSERT INTO create_intent (resourceType, identifierSystem, identifierValue, rowID, recordedAt)
            VALUES (\(intent.resourceType), \(intent.identifier.system), \(intent.identifier.value), \(intent.rowID), \(intent.recordedAt.timeIntervalSince1970))
            ON CONFLICT (resourceType, identifierSystem, identifierValue) DO UPDATE SET rowID = excluded.rowID, recordedAt = excluded.recordedAt
            """, logger: logger)
    }

    public func clearCreateIntent(resourceType: String, identifier: ResourceIdentifier) async throws {
        try await run(
            """
            DELETE FROM create_intent
            WHERE resourceType = \(resourceType) AND identifierSystem = \(identifier.system) AND identifierValue = \(identifier.value)
            """, logger: logger)
    }

    public func createIntents() async throws -> [CreateIntent] {
        try await createIntents("true ORDER BY recordedAt, rowID")
    }

    private func createIntents(_ condition: PostgresQuery) async throws -> [CreateIntent] {
        let query = PostgresQuery(
            unsafeSQL: "SELECT resourceType, identifierSystem, identifierValue, rowID, recordedAt FROM create_intent WHERE \(condition.sql)",
            binds: condition.binds)
        return try await client.query(query, logger: logger).decode((String, String, String, Int64, Double).self).collect().map { row in
            CreateIntent(
                resourceType: row.0, identifier: ResourceIdentifier(system: row.1, value: row.2), rowID: row.3, recordedAt: Date(timeIntervalSince1970: row.4))
        }
    }
}

// Rows the linkers come back to.
extension PostgresStore {
    public func rowsWaitingOnLinkedParents(system: SourceSystem, limit: Int) async throws -> [Int64] {
        try await client.query(
            """
            SELECT staged_row.id FROM staged_row JOIN row_parent ON row_parent.rowID = staged_row.id
            WHERE staged_row.errorCode = \(ErrorCode.waitingOnParent.rawValue) AND staged_row.status = 'failed' AND staged_row.system = \(system.rawValue)
                AND \(unescaped: Self.parentIsLinked)
            ORDER BY staged_row.id LIMIT \(limit)
            """, logger: logger
        ).decode(Int64.self).collect()
    }

    public func withheldRows(of keys: [SourceKey]) async throws -> [SourceKey: [StagedRowSummary]] {
        try await summaries(of: keys, where: "status = 'withheld'")
    }

    public func removalRows(of keys: [SourceKey]) async throws -> [SourceKey: [StagedRowSummary]] {
        try await summaries(of: keys, where: "kind <> 'record'")
    }

    /// The rows of these records that `condition` (a fixed SQL text, never a value) takes, oldest first.
    private func summaries(of keys: [SourceKey], where condition: StaticString) async throws -> [SourceKey: [StagedRowSummary]] {
        guard !keys.isEmpty else { return [:] }
        let wanted = Array(Set(keys))
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(StagedRowRecord.summaryColumns) FROM staged_row
                    WHERE \(condition) AND (system, resourceType, sourceID) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
                    ORDER BY staged_row.id
                    """,
                binds: Self.binds(wanted.map(\.system.rawValue), wanted.map(\.resourceType), wanted.map(\.sourceID))),
            logger: logger
        ).decode(StagedRowRecord.SummaryColumns.self).collect()
        var result: [SourceKey: [StagedRowSummary]] = [:]
        for columns in rows {
            let summary = try StagedRowRecord.summary(columns)
            result[SourceKey(system: summary.system, resourceType: summary.resourceType, sourceID: summary.sourceID), default: []].append(summary)
        }
        return result
    }

    static func binds(_ arrays: [String]...) -> PostgresBindings {
        var binds = PostgresBindings(capacity: arrays.count)
        for array in arrays { binds.append(array) }
        return binds
    }
}

/// Source keys as the column arrays an `unnest(…)` takes.
struct SourceKeyColumns {
    var systems: [String] = [], types: [String] = [], ids: [String] = []

    mutating func append(_ key: SourceKey) {
        systems.append(key.system.rawValue)
        types.append(key.resourceType)
        ids.append(key.sourceID)
    }
}
