import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

// The staging role: pages staged verbatim with their watermark, Bulk Data exports in flight.
extension PostgresStore {
    public func watermark(system: SourceSystem, resourceType: String) async throws -> Date? {
        let rows = try await client.query(
            "SELECT value FROM watermark WHERE system = \(system.rawValue) AND resourceType = \(resourceType)", logger: logger
        ).decode(Double.self).collect()
        return rows.first.map(Date.init(timeIntervalSince1970:))
    }

    public func newestStaged(system: SourceSystem, resourceType: String, sourceIDs: [String]) async throws -> [String: Date] {
        guard !sourceIDs.isEmpty else { return [:] }
        let rows = try await client.query(
            """
            SELECT sourceID, MAX(lastUpdated) FROM staged_row
            WHERE system = \(system.rawValue) AND resourceType = \(resourceType) AND sourceID = ANY(\(sourceIDs)::text[])
            GROUP BY sourceID
            """, logger: logger
        ).decode((String, Double?).self).collect()
        var newest: [String: Date] = [:]
        for (id, seconds) in rows { if let seconds { newest[id] = Date(timeIntervalSince1970: seconds) } }
        return newest
    }

    /// Stages a page in one statement whatever its size, which PostgreSQL runs as a transaction of
    /// its own: one round trip, where `BEGIN`, the data key's check, the statement and `COMMIT` were
    /// four. The statement checks the store's data key and, in a fenced store, holds the lease's
    /// row `FOR SHARE` (``transaction(fenced:notifying:_:)``'s checks), and writes only if both
    /// hold; it stages the rows and their payloads from arrays (`unnest`) with the person documents
    /// of the rows without a parent, moves the watermark, and notifies the store's change channel.
    /// A page with rows that have a parent takes a transaction: their documents are written by a
    /// second statement (``writeChildren(_:created:in:)``), which sees the rows of the first, so that
    /// a child staged in the same page as its parent finds its name.
    ///
    /// Round trips, not rows, are what a page costs beyond the server's work: each waits for the
    /// network (1–2 ms to a database in another availability zone) and, on a busy host, for both
    /// processes to be scheduled again. The page's hashes, sealed payloads and person documents
    /// (each payload read as JSON) are worked out over every core first, by the SQLite store's
    /// code (``StoreSealing/preparingPage(_:startingNow:)``), and, when the puller said which page
    /// it stages next, that page is prepared while this one is on the server
    /// (``prepareToStage(_:)``; docs/scale.md, "How the store on PostgreSQL is fast").
    public func stage(_ records: [IncomingRecord], job: Int64?, advancing watermark: WatermarkAdvance?) async throws -> StageResult {
        let now = Date().timeIntervalSince1970
        // Prepared while the page before was on the server, when the puller said this page came
        // next; and the page said to come after it is prepared while this one is.
        let preparing = upcoming.page(for: records, preparedBy: sealing)
        var prepared: [StoreSealing.PreparedRecord] = []
        prepared.reserveCapacity(records.count)
        for chunk in preparing.chunks.indices { prepared += try preparing.chunk(chunk) }
        upcoming.startNext()
        let page = StagingPage(records, hashes: prepared.map(\.hash), payloads: prepared.map(\.payload))
        let documents = prepared.map(\.document)
        // The person documents of the rows sent, in the page's order (`ord`); children are written apart.
        var orphans = PersonColumns()
        for index in page.origin { orphans.append(documents[index], orphan: documents[index].parent == nil) }
        let statement = pageStatement(page, orphans: orphans, job: job, at: now, advancing: watermark)
        let created: [(index: Int, id: Int64)]
        if page.origin.contains(where: { documents[$0].parent != nil }) {
            // The statement checks the lease and the data key itself.
            created = try await transaction(fenced: false, notifying: false) { connection in
                let created = try await self.created(by: statement, page: page, in: connection)
                try await writeChildren(documents, created: created, in: connection)
                return created
            }
        } else {
            do {
                created = try await client.withConnection { connection in try await self.created(by: statement, page: page, in: connection) }
            } catch {
                throw PostgresServerError.wrapping(error, location: location)
            }
        }
        if statistics.staged(created.count) { takeStatisticsBeside() }
        return StageResult(staged: created.count, deduplicated: records.count - created.count, rowIDs: created.map(\.id))
    }

    /// Two pages of a pull in flight (``PageStaging``): while the server writes one, the next is
    /// prepared, sent, and written beside it by a second connection's backend, where one page at
    /// a time left both cores idle a third of the time, each side waiting for the other's turn
    /// (docs/scale.md, "Two pages of a pull in flight"). Each is a transaction of its own, and
    /// `PageStaging` keeps the watermark behind any page not committed yet.
    public var pagesInFlight: Int { 2 }

    /// `records` come next: they are prepared while the page before is on the server (``UpcomingPages``).
    public func prepareToStage(_ records: [IncomingRecord]) {
        upcoming.expect(records, preparedBy: sealing)
    }

    /// Takes the planner's statistics of `staged_row` again (``StagedRowStatistics``) beside the
    /// staging, on a connection of its own: `ANALYZE` samples the table and blocks neither reads
    /// nor writes, so the page just committed returns at once and the next is staged while it runs
    /// (55 ms a time on a table of 100,000 rows, five times in a first load of that size: 5% of
    /// staging it when it ran in line). One at a time; the page is staged whatever happens here: a
    /// failure is logged, and the next page staged tries again.
    private func takeStatisticsBeside() {
        Task { await self.takeStatistics() }
    }

    private func takeStatistics() async {
        do {
            let rows = try await client.withConnection { connection in
                try await connection.run("ANALYZE staged_row", logger: logger)
                return try await connection.rows("SELECT reltuples::int8 FROM pg_class WHERE oid = 'staged_row'::regclass", logger: logger)
                    .decode(Int64.self).collect()
            }
            guard let count = rows.first else { throw StoreError.unreadable("pg_class has no row for staged_row") }
            statistics.taken(rows: Int(count))
        } catch {
            statistics.notTaken()
            // Closing the store ends its connections, and an `ANALYZE` under way with them.
            guard !isClosed else { return }
            logger.warning("the planner's statistics of staged_row were not taken", metadata: ["error": "\(PostgresServerError.wrapping(error, location: location))"])
        }
    }

    /// Runs a page's statement (``pageStatement(_:orphans:job:at:advancing:)``): the rows it
    /// created, each with its index in the page given, in that order; or, when the statement
    /// wrote nothing because the lease changed hands or the store's data key is not this
    /// process's, the error that says so.
    private func created(by statement: PostgresQuery, page: StagingPage, in connection: PostgresConnection) async throws -> [(index: Int, id: Int64)] {
        var created: [(index: Int, id: Int64)] = []
        var refused: (dataKeyID: String?, previous: String?)?
        let rows = try await connection.rows(statement, logger: logger).decode((Bool, String?, String?, [Int64]?, [Int64]?).self)
        for try await (written, dataKeyID, previous, ords, ids) in rows {
            guard written else {
                refused = (dataKeyID, previous)
                continue
            }
            guard let ords, let ids else { continue }
            guard ords.count == ids.count else {
                throw StoreError.unreadable("a page's statement answered \(ords.count) places for \(ids.count) rows created")
            }
            for (ord, id) in zip(ords, ids) { created.append((page.origin[Int(ord) - 1], id)) }
        }
        if let refused {
            try checkDataKey(refused.dataKeyID, previous: refused.previous)
            // The data key holds: the lease is what changed.
            guard let fence else { throw StoreError.unreadable("the store wrote no row of a page, its data key and lease as this process expects") }
            throw StaleLease(epoch: fence, current: try await leases("name = \(Self.serviceLease)", in: connection).first)
        }
        return created
    }

    /// The one statement that stages a page: one row of (written, the store's data key, the key a
    /// rotation replaces, the `ord` of each row created and its id, in the page's order; both NULL
    /// when it created none). `written` is false, and nothing is written, when the
    /// store's data key is not this process's (or a rotation is under way) or, in a fenced store,
    /// the lease is not held at its epoch; the lease's row stays share-locked to the statement's end.
    private func pageStatement(
        _ page: StagingPage, orphans: PersonColumns, job: Int64?, at now: Double, advancing watermark: WatermarkAdvance?
    ) -> PostgresQuery {
        let expectedKey = sealing.cipher?.dataKeyID
        return """
            WITH standing AS (
                SELECT stored.dataKeyID, stored.previousDataKeyID,
                    stored.dataKeyID IS NOT DISTINCT FROM \(expectedKey)::text AND stored.previousDataKeyID IS NULL
                        AND (\(fence)::int8 IS NULL OR held.epoch IS NOT DISTINCT FROM \(fence)::int8) AS written
                FROM (SELECT 1) AS one
                LEFT JOIN store_key AS stored ON stored.id = 1
                LEFT JOIN (SELECT epoch FROM lease WHERE name = \(Self.serviceLease) AND \(fence != nil) FOR SHARE) AS held ON true
            ), input AS (
                SELECT * FROM unnest(\(page.systems)::text[], \(page.types)::text[], \(page.sourceIDs)::text[], \(page.versions)::text[],
                    \(page.hasVersion)::bool[], \(page.lastUpdated)::float8[], \(page.hasLastUpdated)::bool[], \(page.hashes)::text[],
                    \(page.kinds)::text[], \(page.survivors)::text[], \(page.hasSurvivor)::bool[], \(page.payloads)::bytea[])
                    WITH ORDINALITY AS t(system, resourceType, sourceID, version, hasVersion, lastUpdated, hasLastUpdated, contentHash,
                        kind, survivorID, hasSurvivor, payload, ord)
            ), inserted AS (
                INSERT INTO staged_row (system, resourceType, sourceID, version, lastUpdated, contentHash, jobID, receivedAt, status,
                    updatedAt, kind, survivorID)
                SELECT system, resourceType, sourceID, CASE WHEN hasVersion THEN version END, CASE WHEN hasLastUpdated THEN lastUpdated END,
                    contentHash, \(job), \(now), 'staged', \(now), kind, CASE WHEN hasSurvivor THEN survivorID END
                FROM input WHERE (SELECT written FROM standing) ORDER BY ord
                ON CONFLICT (system, resourceType, sourceID, contentHash) DO NOTHING
                RETURNING id, system, resourceType, sourceID, contentHash
            ), matched AS (
                SELECT inserted.id, input.ord, input.payload FROM inserted
                JOIN input USING (system, resourceType, sourceID, contentHash)
            ), payloads AS (
                INSERT INTO staged_payload (rowID, payload) SELECT id, payload FROM matched
            ), persons AS (
                INSERT INTO person_search (rowID, name, identifiers, birthDate, words)
                SELECT matched.id, person.name, person.identifiers, person.birthDate, string_to_array(person.words, ' ') FROM matched
                JOIN unnest(\(orphans.names)::text[], \(orphans.identifiers)::text[], \(orphans.birthDates)::text[], \(orphans.words)::text[],
                    \(orphans.orphan)::bool[])
                    WITH ORDINALITY AS person(name, identifiers, birthDate, words, orphan, ord) USING (ord)
                WHERE person.orphan
            ), watermarked AS (
                INSERT INTO watermark (system, resourceType, value, jobID, updatedAt)
                SELECT \(watermark?.system.rawValue), \(watermark?.resourceType), \(watermark?.to.timeIntervalSince1970), \(job), \(now)
                WHERE \(watermark != nil) AND (SELECT written FROM standing)
                \(unescaped: Self.watermarkForward)
            )
            -- The notification joins the standing rather than standing as a CTE of its own (a SELECT
            -- CTE nobody reads is not run). One row: the rows created as two arrays (one row each
            -- took the client longer to read), NULL when the page staged nothing new.
            SELECT standing.written, standing.dataKeyID, standing.previousDataKeyID,
                (SELECT array_agg(ord ORDER BY ord) FROM matched), (SELECT array_agg(id ORDER BY ord) FROM matched)
            FROM standing
            LEFT JOIN LATERAL (SELECT pg_notify(\(Self.changeChannel), \(schema)) WHERE standing.written) AS notified ON true
            """
    }

    /// The person documents and parents of the rows just created that have a parent
    /// (``PersonSearch``; `documents` by index in the page given), as the SQLite store writes them
    /// (``PersonIndex/document(_:under:parentName:)``): a row about a person without a name of its
    /// own takes its parent's name, identifiers and birth date when the parent's newest row has a
    /// document (staged before, or in this page's first statement, which this transaction sees).
    /// Two statements: the parents' documents are read, and the children's written with the
    /// words of each (``PersonWords``), which are folded here.
    private func writeChildren(_ documents: [PersonDocument], created: [(index: Int, id: Int64)], in connection: PostgresConnection) async throws {
        let children = created.compactMap { index, id in documents[index].parent.map { (id: id, document: documents[index], parent: $0) } }
        guard !children.isEmpty else { return }
        let found = try await newestDocuments(of: Array(Set(children.map(\.parent))), in: connection)
        var columns = PersonColumns()
        for child in children {
            let indexed = PersonIndex.document(child.document, under: found[child.parent], parentName: sealing.indexedParentID(child.parent.sourceID))
            columns.append(child.id, indexed, parent: child.parent)
        }
        try await connection.run(
            """
            WITH input AS (
                SELECT * FROM unnest(\(columns.ids)::int8[], \(columns.names)::text[], \(columns.identifiers)::text[], \(columns.birthDates)::text[],
                    \(columns.words)::text[], \(columns.parentSystems)::text[], \(columns.parentTypes)::text[], \(columns.parentIDs)::text[])
                    AS t(rowID, name, identifiers, birthDate, words, parentSystem, parentType, parentID)
            ), parents AS (
                INSERT INTO row_parent (rowID, system, resourceType, sourceID) SELECT rowID, parentSystem, parentType, parentID FROM input
            )
            INSERT INTO person_search (rowID, name, identifiers, birthDate, words)
            SELECT rowID, name, identifiers, birthDate, string_to_array(words, ' ') FROM input
            """, logger: logger)
    }

    /// The person document of each record's newest row that has one indexed: records whose newest
    /// row has none (not staged yet, or staged in this page with a parent of its own) are left out.
    private func newestDocuments(of keys: [SourceKey], in connection: PostgresConnection) async throws -> [SourceKey: PersonDocument] {
        let rows = try await connection.rows(
            """
            SELECT key.ord, person_search.name, person_search.identifiers, person_search.birthDate
            FROM unnest(\(keys.map(\.system.rawValue))::text[], \(keys.map(\.resourceType))::text[], \(keys.map(\.sourceID))::text[])
                WITH ORDINALITY AS key(system, resourceType, sourceID, ord)
            JOIN person_search ON person_search.rowID = (SELECT MAX(id) FROM staged_row
                WHERE staged_row.system = key.system AND staged_row.resourceType = key.resourceType AND staged_row.sourceID = key.sourceID)
            """, logger: logger
        ).decode((Int64, String, String, String).self).collect()
        var found: [SourceKey: PersonDocument] = [:]
        for (ord, name, identifiers, birthDate) in rows {
            found[keys[Int(ord) - 1]] = PersonDocument(name: name, identifiers: identifiers, birthDate: birthDate)
        }
        return found
    }

    /// Moves a watermark (a Bulk Data export's, when it ends; a page's moves in the page's statement).
    static func advance(_ watermark: WatermarkAdvance, job: Int64?, at now: Double, in connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run(
            """
            INSERT INTO watermark (system, resourceType, value, jobID, updatedAt)
            VALUES (\(watermark.system.rawValue), \(watermark.resourceType), \(watermark.to.timeIntervalSince1970), \(job), \(now))
            \(unescaped: Self.watermarkForward)
            """, logger: logger)
    }

    /// How a watermark written again moves: never backwards, so that a page re-read through the
    /// overlap does not undo progress. The end of every `INSERT INTO watermark`.
    static let watermarkForward = """
        ON CONFLICT (system, resourceType) DO UPDATE SET value = GREATEST(watermark.value, excluded.value), jobID = excluded.jobID, \
        updatedAt = excluded.updatedAt
        """

    // MARK: - Bulk Data exports

    public func bulkExport(system: SourceSystem) async throws -> BulkExportProgress? {
        let rows = try await client.query(
            "SELECT statusURL, since, kickedOffAt, stagedFiles FROM bulk_export WHERE system = \(system.rawValue)", logger: logger
        ).decode((String, Double?, Double, String).self).collect()
        guard let (statusURL, since, kickedOffAt, stagedText) = rows.first else { return nil }
        guard let staged = try? JSONDecoder().decode([String].self, from: Data(stagedText.utf8)) else {
            throw StoreError.unreadable("bulk_export.stagedFiles of \(system.rawValue) is not a JSON array of URLs")
        }
        return BulkExportProgress(
            system: system, statusURL: statusURL, since: since.map(Date.init(timeIntervalSince1970:)),
            kickedOffAt: Date(timeIntervalSince1970: kickedOffAt), stagedFiles: staged)
    }

    public func saveBulkExport(_ progress: BulkExportProgress) async throws {
        let staged = String(decoding: try JSONEncoder().encode(progress.stagedFiles), as: UTF8.self)
        try await run(
            """
            INSERT INTO bulk_export (system, statusURL, since, kickedOffAt, stagedFiles)
            VALUES (\(progress.system.rawValue), \(progress.statusURL), \(progress.since?.timeIntervalSince1970), \(progress.kickedOffAt.timeIntervalSince1970), \(staged))
            ON CONFLICT (system) DO UPDATE SET statusURL = excluded.statusURL, since = excluded.since,
                kickedOffAt = excluded.kickedOffAt, stagedFiles = excluded.stagedFiles
            """, logger: logger)
    }

    public func finishBulkExport(system: SourceSystem, job: Int64?, advancing watermarks: [WatermarkAdvance]) async throws {
        let now = Date().timeIntervalSince1970
        try await transaction { connection in
            for watermark in watermarks { try await Self.advance(watermark, job: job, at: now, in: connection, logger: logger) }
            try await connection.run("DELETE FROM bulk_export WHERE system = \(system.rawValue)", logger: logger)
        }
    }
}

/// A page of records as the column arrays one `INSERT … SELECT FROM unnest(…)` takes. A record
/// whose (system, type, id, hash) appears earlier in the same page is left out: the first is
/// staged and the others count as deduplicated, as when they are staged one by one.
struct StagingPage {
    /// The records sent, and for each its index in the page given.
    var records: [IncomingRecord] = []
    var origin: [Int] = []
    var systems: [String] = [], types: [String] = [], sourceIDs: [String] = []
    var versions: [String] = [], hasVersion: [Bool] = []
    var lastUpdated: [Double] = [], hasLastUpdated: [Bool] = []
    var hashes: [String] = [], kinds: [String] = []
    var survivors: [String] = [], hasSurvivor: [Bool] = []
    var payloads: [ByteBuffer] = []

    /// - Parameters:
    ///   - hashes: each record's stored hash, and `payloads` its stored payload
    ///     (``StoreSealing/prepared(_:lane:)``: keyed and sealed in an encrypted store).
    init(_ given: [IncomingRecord], hashes storedHashes: [String], payloads stored: [[UInt8]]) {
        struct Key: Hashable { var system: String, type: String, id: String, hash: String }
        var seen = Set<Key>()
        for (index, record) in given.enumerated() {
            let hash = storedHashes[index]
            guard seen.insert(Key(system: record.system.rawValue, type: record.resourceType, id: record.sourceID, hash: hash)).inserted else { continue }
            records.append(record)
            origin.append(index)
            systems.append(record.system.rawValue)
            types.append(record.resourceType)
            sourceIDs.append(record.sourceID)
            versions.append(record.version ?? "")
            hasVersion.append(record.version != nil)
            lastUpdated.append(record.lastUpdated?.timeIntervalSince1970 ?? 0)
            hasLastUpdated.append(record.lastUpdated != nil)
            hashes.append(hash)
            kinds.append(record.kind.rawValue)
            survivors.append(record.survivorID ?? "")
            hasSurvivor.append(record.survivorID != nil)
            payloads.append(ByteBuffer(bytes: stored[index]))
        }
    }
}

/// Person documents as columns, each with its words (``PersonWords``).
struct PersonColumns {
    var ids: [Int64] = [], names: [String] = [], identifiers: [String] = [], birthDates: [String] = [], words: [String] = []
    var parentSystems: [String] = [], parentTypes: [String] = [], parentIDs: [String] = []
    /// Whether each document is written with the page's rows (a row without a parent).
    var orphan: [Bool] = []

    /// A document of a row not yet created (its id comes from the statement that creates it);
    /// a child's (`orphan` false) is written apart, and stands here as an empty one.
    mutating func append(_ document: PersonDocument, orphan isOrphan: Bool) {
        orphan.append(isOrphan)
        append(isOrphan ? document : PersonDocument())
    }

    /// The document of row `id`, which belongs to the record `parent`.
    mutating func append(_ id: Int64, _ document: PersonDocument, parent: SourceKey) {
        ids.append(id)
        append(document)
        parentSystems.append(parent.system.rawValue)
        parentTypes.append(parent.resourceType)
        parentIDs.append(parent.sourceID)
    }

    private mutating func append(_ document: PersonDocument) {
        let stored = PersonDocument(
            name: StoredText.storable(document.name), identifiers: StoredText.storable(document.identifiers),
            birthDate: StoredText.storable(document.birthDate))
        names.append(stored.name)
        identifiers.append(stored.identifiers)
        birthDates.append(stored.birthDate)
        words.append(PersonWords.of(stored))
    }
}
