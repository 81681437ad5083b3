import GRDB

/// The store's schema, one named migration per change, each in its own transaction.
///
/// The schema's version is the number of migrations; it is also written to SQLite's
/// `user_version` so that any tool can read it. A store whose version or migrations this build
/// does not know was written by a newer Stagelink: it is refused before anything writes to it.
public enum StoreMigrations {
    /// The schema version this build writes.
    public static var version: Int { migrator.migrations.count }

    /// Where a store file stands against this build.
    struct Standing: Sendable, Hashable {
        /// The store's schema version (0 for a new, empty file).
        var version: Int
        /// Migrations the store has that this build does not know.
        var unknownMigrations: [String]

        /// Written by a newer Stagelink: never to be opened by this build.
        var isNewer: Bool { version > StoreMigrations.version || !unknownMigrations.isEmpty }
        /// Needs this build's migrations before this build can read it.
        var needsUpgrade: Bool { !isNewer && version < StoreMigrations.version }
    }

    /// Reads a store's standing without writing anything.
    static func standing(_ db: Database) throws -> Standing {
        let applied = try migrator.appliedIdentifiers(db)
        let known = Set(migrator.migrations)
        let userVersion = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        // Stores from before `user_version` was written count their migrations.
        let version = max(userVersion, applied.count)
        return Standing(version: version, unknownMigrations: applied.subtracting(known).sorted())
    }

    /// Migrates a store this build may write, and records the version.
    static func migrate(_ writer: some DatabaseWriter) throws {
        try migrator.migrate(writer)
        try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA user_version = \(version)") }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: staging, links, jobs, policy, conflicts, lineage") { db in
            try db.execute(sql: schemaV1)
        }
        migrator.registerMigration("v2: failure groups read from an index of failed rows") { db in
            // The console groups failed rows by error code on every change; without this it reads
            // every failed row from the table (90 ms for 50,000 in a million), with it 10 ms. Only
            // failed rows are in it, so staging pays nothing for it.
            try db.execute(sql: "CREATE INDEX staged_row_failure_group ON staged_row(status, errorCode, resourceType) WHERE status = 'failed'")
        }
        migrator.registerMigration("v3: each job's trigger, so that health follows cycles and reports manual actions apart") { db in
            try db.execute(sql: "ALTER TABLE job ADD COLUMN trigger TEXT NOT NULL DEFAULT 'scheduled'")
            // Jobs from before: a retry is a person's; a push by a person that is not preceded by
            // another step of the same person's cycle is a push by hand; the rest of a person's
            // jobs are the steps of a cycle they asked for.
            try db.execute(
                sql: """
                    UPDATE job SET trigger = 'manual' WHERE kind = 'retry' OR (kind = 'push' AND actor LIKE 'operator:%' AND NOT EXISTS (
                        SELECT 1 FROM job AS step WHERE step.id = job.id - 1 AND step.actor = job.actor AND step.kind IN ('pull', 'link')));
                    UPDATE job SET trigger = 'on-demand' WHERE trigger = 'scheduled' AND actor LIKE 'operator:%';
                    CREATE INDEX job_step ON job(kind, direction, trigger, status, id);
                    """)
        }
        migrator.registerMigration("v4: the Bulk Data export in flight, and manifest errors on the job") { db in
            // One export in flight per source system, so that a restart resumes it rather than kicking off another.
            try db.execute(
                sql: """
                    CREATE TABLE bulk_export (
                        system TEXT PRIMARY KEY,
                        statusURL TEXT NOT NULL,
                        since REAL,
                        kickedOffAt REAL NOT NULL,
                        stagedFiles TEXT NOT NULL DEFAULT '[]'
                    );
                    ALTER TABLE job ADD COLUMN exportErrors TEXT;
                    """)
        }
        migrator.registerMigration("v5: alerts and their webhook delivery attempts") { db in
            try db.execute(sql: alertsSchema)
        }
        migrator.registerMigration("v6: an append-only access log of who read which row") { db in
            try db.execute(
                sql: """
                    CREATE TABLE row_access (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at REAL NOT NULL,
                        rowID INTEGER NOT NULL,
                        operator TEXT NOT NULL,
                        process TEXT NOT NULL,
                        via TEXT NOT NULL
                    );
                    CREATE INDEX row_access_row ON row_access(rowID, id);
                    CREATE INDEX row_access_operator ON row_access(operator, id);
                    CREATE TRIGGER row_access_no_update BEFORE UPDATE ON row_access
                        BEGIN SELECT RAISE(ABORT, 'row_access is append-only'); END;
                    CREATE TRIGGER row_access_no_delete BEFORE DELETE ON row_access
                        BEGIN SELECT RAISE(ABORT, 'row_access is append-only'); END;
                    """)
        }
        migrator.registerMigration("v7: payloads purged after the retention period, and the purge's audit") { db in
            try db.execute(
                sql: """
                    ALTER TABLE staged_row ADD COLUMN payloadPurgedAt REAL;
                    CREATE TABLE payload_purge (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at REAL NOT NULL,
                        actor TEXT NOT NULL,
                        cutoff REAL NOT NULL,
                        rows INTEGER NOT NULL,
                        bytes INTEGER NOT NULL
                    );
                    CREATE TRIGGER payload_purge_no_update BEFORE UPDATE ON payload_purge
                        BEGIN SELECT RAISE(ABORT, 'payload_purge is append-only'); END;
                    CREATE TRIGGER payload_purge_no_delete BEFORE DELETE ON payload_purge
                        BEGIN SELECT RAISE(ABORT, 'payload_purge is append-only'); END;
                    """)
        }
        migrator.registerMigration("v8: every error of a row, not only the first") { db in
            // The record's further problems (the mapping reports every field's at once); the
            // first stays in errorCode/errorMessage/errorFields, which lists and groups read.
            try db.execute(sql: "ALTER TABLE staged_row ADD COLUMN errorFurther TEXT")
        }
        migrator.registerMigration("v9: create intents recorded before a POST without conditional create") { db in
            // One intent per resource type and identifier: the create that may be in flight for it.
            try db.execute(
                sql: """
                    CREATE TABLE create_intent (
                        resourceType TEXT NOT NULL,
                        identifierSystem TEXT NOT NULL,
                        identifierValue TEXT NOT NULL,
                        rowID INTEGER NOT NULL,
                        recordedAt REAL NOT NULL,
                        PRIMARY KEY (resourceType, identifierSystem, identifierValue)
                    );
                    """)
        }
        migrator.registerMigration("v10: the person index and each row's parent, so that rows are found by person and wait on their parent") { db in
            try db.execute(sql: PersonIndex.schema)
            try db.execute(sql: RowParents.schema)
            try PersonIndex.backfill(db)
        }
        migrator.registerMigration("v11: deletions and merges staged as rows of their own, and retired links") { db in
            try db.execute(
                sql: """
                    ALTER TABLE staged_row ADD COLUMN kind TEXT NOT NULL DEFAULT 'record';
                    ALTER TABLE staged_row ADD COLUMN survivorID TEXT;
                    CREATE INDEX staged_row_kind ON staged_row(kind, id) WHERE kind != 'record';
                    ALTER TABLE record_link ADD COLUMN retired TEXT;
                    ALTER TABLE record_link ADD COLUMN mergedInto TEXT;
                    """)
        }
        migrator.registerMigration("v12: encryption at rest (the wrapped data key and its audit), and withheld counts on jobs") { db in
            // One row at most: the data key wrapped by the key-encryption key (`encryption.keyFile`).
            // No row: the store keeps payloads and values in the clear.
            try db.execute(
                sql: """
                    CREATE TABLE store_key (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        wrappedKey BLOB NOT NULL,
                        keyID TEXT NOT NULL,
                        dataKeyID TEXT NOT NULL,
                        createdAt REAL NOT NULL,
                        rewrappedAt REAL NOT NULL
                    );
                    CREATE TABLE store_key_audit (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at REAL NOT NULL,
                        actor TEXT NOT NULL,
                        event TEXT NOT NULL,
                        keyID TEXT NOT NULL,
                        previousKeyID TEXT
                    );
                    CREATE TRIGGER store_key_audit_no_update BEFORE UPDATE ON store_key_audit
                        BEGIN SELECT RAISE(ABORT, 'store_key_audit is append-only'); END;
                    CREATE TRIGGER store_key_audit_no_delete BEFORE DELETE ON store_key_audit
                        BEGIN SELECT RAISE(ABORT, 'store_key_audit is append-only'); END;
                    ALTER TABLE job ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        migrator.registerMigration("v13: lease epoch (a fencing token) and the lease's grants") { db in
            // Every change of hands of the lease, append-only: its id is the epoch that fences the
            // holder's writes, and only grows (a release deletes the lease, never a grant).
            try db.create(table: "lease_grant") { table in
                table.autoIncrementedPrimaryKey("epoch")
                table.column("name", .text).notNull()
                table.column("holderName", .text).notNull()
                table.column("host", .text).notNull()
                table.column("pid", .integer).notNull()
                table.column("at", .double).notNull()
            }
            for operation in ["UPDATE", "DELETE"] {
                try db.execute(
                    sql: "CREATE TRIGGER lease_grant_no_\(operation.lowercased()) BEFORE \(operation) ON lease_grant BEGIN SELECT RAISE(ABORT, 'lease_grant is append-only'); END")
            }
            try db.alter(table: "lease") { table in table.add(column: "epoch", .integer).notNull().defaults(to: 0) }
        }
        migrator.registerMigration("v14: reconciliation counts on jobs") { db in
            // What a reconciliation compared, found changed, and found missing at the source.
            try db.execute(
                sql: """
                    ALTER TABLE job ADD COLUMN checked INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE job ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE job ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        migrator.registerMigration("v15: conflicts of kind merge, held for a person with the records the merge would join") { db in
            // `merge`: the held merge as JSON (ids only: which system merged which records, and
            // their two distinct counterparts on the other side); NULL for a field conflict.
            try db.execute(
                sql: """
                    ALTER TABLE conflict ADD COLUMN kind TEXT NOT NULL DEFAULT 'field';
                    ALTER TABLE conflict ADD COLUMN merge TEXT;
                    CREATE INDEX conflict_kind ON conflict(kind, status, id) WHERE kind != 'field';
                    """)
        }
        migrator.registerMigration("v16: the conflicts each purge emptied, and the data key a rotation replaces with its progress") { db in
            // While `stagelink store rekey --data-key` re-seals: the data key being replaced (wrapped
            // by the same key file), its fingerprint, and the last staged row re-sealed; all NULL otherwise.
            try db.execute(
                sql: """
                    ALTER TABLE payload_purge ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE store_key ADD COLUMN previousWrappedKey BLOB;
                    ALTER TABLE store_key ADD COLUMN previousDataKeyID TEXT;
                    ALTER TABLE store_key ADD COLUMN rotationCursor INTEGER;
                    """)
        }
        migrator.registerMigration("v17: the person index takes a page of staged rows without merging its index at once") { _ in
            // Nothing to do here: SQLite's FTS5 index merges its segments itself. The PostgreSQL twin
            // (PostgresMigrations) gives the GIN index a larger pending list.
        }
        migrator.registerMigration("v18: an encrypted store keeps sealed field values as bytes") { _ in
            // Nothing to rewrite: values sealed as `enc1:` text still open, and are written as
            // bytes when they next change (SealedFields). The version is what matters: a build
            // from before reads a `String` from each of these columns, which a BLOB is not, so it
            // must refuse such a store as a newer one rather than misread it.
        }
        migrator.registerMigration("v19: rows naming a staged row are checked, and status changes recorded, once a statement") { _ in
            // Nothing to do here: the SQLite store keeps its foreign keys and row trigger, which
            // run inside the writing process without a query or a row lock of their own. The
            // PostgreSQL twin (PostgresMigrations.statementChecks) replaces its per-row checks with
            // statement-level triggers.
        }
        migrator.registerMigration("v20: a staged row's page keeps room for its claim") { _ in
            // Nothing to do here: SQLite rewrites a row in place. The PostgreSQL twin
            // (PostgresMigrations.roomForClaims) leaves room on each page for a claim's new version.
        }
        migrator.registerMigration("v21: the person index keeps each document's words as Stagelink folds them") { _ in
            // Nothing to do here: FTS5's unicode61 tokenizer folds the words in SQLite. The PostgreSQL
            // twin (PostgresMigrations.foldedWords) indexes the words PersonIndex.foldedWords makes,
            // the same words, where PostgreSQL's text parser split them otherwise and cost its server.
        }
        return migrator
    }

    /// Alerts fired by the rules of `alerts:` and every attempt to deliver them (issue 17). Codes,
    /// counts and ids only: an alert never holds patient data.
    static let alertsSchema = """
        CREATE TABLE alert (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rule TEXT NOT NULL,
            key TEXT NOT NULL,
            severity TEXT NOT NULL,
            summary TEXT NOT NULL,
            status TEXT NOT NULL,
            firedAt REAL NOT NULL,
            resolvedAt REAL,
            lastNotifiedAt REAL,
            notifications INTEGER NOT NULL DEFAULT 0
        );
        -- At most one firing alert per rule and key: it fires once and resolves once.
        CREATE UNIQUE INDEX alert_firing ON alert(rule, key) WHERE status = 'firing';
        CREATE TABLE alert_delivery (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alertID INTEGER NOT NULL REFERENCES alert(id),
            event TEXT NOT NULL,
            webhook TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            at REAL NOT NULL,
            httpStatus INTEGER,
            error TEXT,
            delivered INTEGER NOT NULL
        );
        CREATE INDEX alert_delivery_alert ON alert_delivery(alertID, id);
        """

    /// Dates are seconds since 1970 (REAL) so that they sort and compare cheaply.
    ///
    /// Public so that a benchmark can measure raw sqlite3 inserts into exactly this schema.
    public static let schemaV1 = """
        CREATE TABLE job (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            direction TEXT,
            actor TEXT NOT NULL,
            startedAt REAL NOT NULL,
            finishedAt REAL,
            status TEXT NOT NULL,
            pulled INTEGER NOT NULL DEFAULT 0,
            staged INTEGER NOT NULL DEFAULT 0,
            deduplicated INTEGER NOT NULL DEFAULT 0,
            linked INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            superseded INTEGER NOT NULL DEFAULT 0,
            conflicts INTEGER NOT NULL DEFAULT 0,
            apiCalls INTEGER NOT NULL DEFAULT 0,
            apiUsed INTEGER,
            apiLimit INTEGER,
            watermarkBefore REAL,
            watermarkAfter REAL,
            phase TEXT NOT NULL DEFAULT '',
            progressDone INTEGER NOT NULL DEFAULT 0,
            progressTotal INTEGER,
            progressAt REAL,
            message TEXT
        );
        CREATE INDEX job_direction ON job(direction, status, id);

        CREATE TABLE staged_row (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            system TEXT NOT NULL,
            resourceType TEXT NOT NULL,
            sourceID TEXT NOT NULL,
            version TEXT,
            lastUpdated REAL,
            contentHash TEXT NOT NULL,
            jobID INTEGER REFERENCES job(id),
            receivedAt REAL NOT NULL,
            status TEXT NOT NULL,
            errorCode TEXT,
            errorMessage TEXT,
            errorFields TEXT,
            errorBody TEXT,
            attemptCount INTEGER NOT NULL DEFAULT 0,
            note TEXT,
            updatedAt REAL NOT NULL,
            updatedBy TEXT,
            claimedBy TEXT,
            claimedUntil REAL
        );
        -- The verbatim bytes, apart from the row: status changes then rewrite small rows, not payloads.
        CREATE TABLE staged_payload (
            rowID INTEGER PRIMARY KEY REFERENCES staged_row(id),
            payload BLOB NOT NULL
        );
        CREATE UNIQUE INDEX staged_row_content ON staged_row(system, resourceType, sourceID, contentHash);
        CREATE INDEX staged_row_status ON staged_row(status, id);
        CREATE INDEX staged_row_type ON staged_row(resourceType, id);
        CREATE INDEX staged_row_error ON staged_row(errorCode, id) WHERE errorCode IS NOT NULL;
        CREATE INDEX staged_row_job ON staged_row(jobID, id);

        CREATE TABLE row_transition (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rowID INTEGER NOT NULL REFERENCES staged_row(id),
            fromStatus TEXT,
            toStatus TEXT NOT NULL,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            note TEXT
        );
        CREATE INDEX row_transition_row ON row_transition(rowID, id);
        -- Every status change is recorded by the database itself, whichever code path made it.
        CREATE TRIGGER staged_row_transition AFTER UPDATE OF status ON staged_row WHEN old.status IS NOT new.status
            BEGIN
                INSERT INTO row_transition (rowID, fromStatus, toStatus, at, actor, note)
                VALUES (new.id, old.status, new.status, new.updatedAt, COALESCE(new.updatedBy, 'system'), new.note);
            END;

        CREATE TABLE link_attempt (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rowID INTEGER NOT NULL REFERENCES staged_row(id),
            number INTEGER NOT NULL,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            outcome TEXT NOT NULL,
            errorCode TEXT,
            errorMessage TEXT,
            errorFields TEXT,
            errorBody TEXT
        );
        CREATE INDEX link_attempt_row ON link_attempt(rowID, number);

        CREATE TABLE record_link (
            system TEXT NOT NULL,
            resourceType TEXT NOT NULL,
            sourceID TEXT NOT NULL,
            targetType TEXT NOT NULL,
            targetID TEXT NOT NULL,
            recordKey TEXT NOT NULL,
            linkedRowID INTEGER REFERENCES staged_row(id),
            linkedVersion TEXT,
            linkedLastUpdated REAL,
            updatedAt REAL NOT NULL,
            PRIMARY KEY (system, resourceType, sourceID)
        ) WITHOUT ROWID;
        CREATE INDEX record_link_target ON record_link(targetType, targetID);
        CREATE INDEX record_link_record ON record_link(targetType, recordKey);

        CREATE TABLE watermark (
            system TEXT NOT NULL,
            resourceType TEXT NOT NULL,
            value REAL NOT NULL,
            jobID INTEGER,
            updatedAt REAL NOT NULL,
            PRIMARY KEY (system, resourceType)
        ) WITHOUT ROWID;

        CREATE TABLE policy_rule (
            object TEXT NOT NULL,
            field TEXT NOT NULL,
            rule TEXT NOT NULL,
            fileRule TEXT,
            changedBy TEXT NOT NULL,
            changedAt REAL NOT NULL,
            reason TEXT,
            PRIMARY KEY (object, field)
        ) WITHOUT ROWID;

        CREATE TABLE policy_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            object TEXT NOT NULL,
            field TEXT NOT NULL,
            oldRule TEXT,
            newRule TEXT NOT NULL,
            reason TEXT
        );
        CREATE INDEX policy_audit_field ON policy_audit(object, field, id);
        CREATE TRIGGER policy_audit_no_update BEFORE UPDATE ON policy_audit
            BEGIN SELECT RAISE(ABORT, 'policy_audit is append-only'); END;
        CREATE TRIGGER policy_audit_no_delete BEFORE DELETE ON policy_audit
            BEGIN SELECT RAISE(ABORT, 'policy_audit is append-only'); END;

        CREATE TABLE record_state (
            object TEXT NOT NULL,
            recordKey TEXT NOT NULL,
            fields TEXT NOT NULL,
            updatedAt REAL NOT NULL,
            PRIMARY KEY (object, recordKey)
        ) WITHOUT ROWID;

        CREATE TABLE record_write (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            object TEXT NOT NULL,
            recordKey TEXT NOT NULL,
            writtenTo TEXT NOT NULL,
            rowID INTEGER REFERENCES staged_row(id),
            jobID INTEGER,
            actor TEXT NOT NULL,
            at REAL NOT NULL,
            fields TEXT NOT NULL
        );
        CREATE INDEX record_write_record ON record_write(object, recordKey, id);
        CREATE INDEX record_write_row ON record_write(rowID);

        CREATE TABLE conflict (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            object TEXT NOT NULL,
            recordKey TEXT NOT NULL,
            field TEXT NOT NULL,
            rowID INTEGER REFERENCES staged_row(id),
            emrValue TEXT NOT NULL,
            salesforceValue TEXT NOT NULL,
            rule TEXT NOT NULL,
            status TEXT NOT NULL,
            winner TEXT,
            createdAt REAL NOT NULL,
            resolvedBy TEXT,
            resolvedAt REAL,
            reason TEXT
        );
        CREATE UNIQUE INDEX conflict_values ON conflict(object, recordKey, field, emrValue, salesforceValue);
        CREATE INDEX conflict_status ON conflict(status, id);
        -- Every row that ran into a conflict: both directions may meet the same one.
        CREATE TABLE conflict_row (
            conflictID INTEGER NOT NULL REFERENCES conflict(id),
            rowID INTEGER NOT NULL REFERENCES staged_row(id),
            PRIMARY KEY (conflictID, rowID)
        ) WITHOUT ROWID;
        CREATE INDEX conflict_row_row ON conflict_row(rowID);

        CREATE TABLE lease (
            name TEXT PRIMARY KEY,
            holderName TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            since REAL NOT NULL,
            expiresAt REAL NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE sync_request (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            directions TEXT NOT NULL,
            actor TEXT NOT NULL,
            at REAL NOT NULL
        );

        CREATE TABLE event (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            jobID INTEGER,
            level TEXT NOT NULL,
            message TEXT NOT NULL
        );
        """
}
