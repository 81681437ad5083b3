import Crypto
import Foundation
import Logging
import PostgresNIO
import StagelinkEngine
import StagelinkStore

/// `stagelink store copy`: a SQLite store moved into an empty PostgreSQL store with everything it
/// holds (payloads byte for byte, hashes, row history, attempts, lineage, conflicts, the audit
/// tables, jobs), table by table in key order with ids kept, each identity set past the highest id
/// copied, and then verified: each table's row count and a digest of its rows read back from
/// PostgreSQL must equal the SQLite store's.
///
/// For example:
///
/// ```swift
/// let report = try await StoreCopy(from: sqlite, to: postgres).run()
/// ```
public struct StoreCopy: Sendable {
    /// A table the copy moves, and the columns that order it (its primary key).
    struct Table: Sendable {
        var name: String
        var key: [String]
    }

    /// Every table of the store, parents before the tables that refer to them. Not copied: `lease`
    /// (the live lock of a process that runs on the SQLite store; its grants are, so epochs keep
    /// growing); `store_key` only from an encrypted store (``keyTable``).
    static let tables: [Table] = [
        Table(name: "job", key: ["id"]),
        Table(name: "staged_row", key: ["id"]),
        Table(name: "staged_payload", key: ["rowID"]),
        Table(name: "row_transition", key: ["id"]),
        Table(name: "link_attempt", key: ["id"]),
        Table(name: "record_link", key: ["system", "resourceType", "sourceID"]),
        Table(name: "watermark", key: ["system", "resourceType"]),
        Table(name: "policy_rule", key: ["object", "field"]),
        Table(name: "policy_audit", key: ["id"]),
        Table(name: "record_state", key: ["object", "recordKey"]),
        Table(name: "record_write", key: ["id"]),
        Table(name: "conflict", key: ["id"]),
        Table(name: "conflict_row", key: ["conflictID", "rowID"]),
        Table(name: "sync_request", key: ["id"]),
        Table(name: "event", key: ["id"]),
        Table(name: "bulk_export", key: ["system"]),
        Table(name: "alert", key: ["id"]),
        Table(name: "alert_delivery", key: ["id"]),
        Table(name: "row_access", key: ["id"]),
        Table(name: "payload_purge", key: ["id"]),
        Table(name: "create_intent", key: ["resourceType", "identifierSystem", "identifierValue"]),
        Table(name: "store_key_audit", key: ["id"]),
        Table(name: "lease_grant", key: ["epoch"]),
        Table(name: "row_parent", key: ["rowID"]),
        // The SQLite store's person index is an FTS5 table whose rowid is the row's id.
        Table(name: "person_search", key: ["rowID"]),
    ]

    /// An encrypted store's wrapped data key, copied as it is: the PostgreSQL store then opens with
    /// the same key file, and every sealed value, keyed hash and blind token copied with it opens
    /// and matches there as it did in SQLite (both stores seal through ``StoreSealing``).
    static let keyTable = Table(name: "store_key", key: ["id"])

    /// What one table's copy moved and found on both sides.
    public struct TableReport: Sendable, Hashable {
        public var table: String
        public var rows: Int
        /// SHA-256 of the table's rows (each row's values hashed, the row hashes sorted), the same
        /// read from SQLite and read back from PostgreSQL.
        public var digest: String
    }

    public var source: SQLiteStore
    public var target: PostgresStore
    /// Rows per statement.
    public var pageSize = 1_000

    public init(from source: SQLiteStore, to target: PostgresStore) {
        self.source = source
        self.target = target
    }

    /// Copies and verifies every table; throws before writing anything when the target holds rows,
    /// or when the source is encrypted and was not opened with its key (or is halfway through a
    /// data-key rotation), and after copying when a table differs.
    ///
    /// An encrypted store is copied as it is: ciphertexts, keyed hashes and blind tokens byte for
    /// byte, and its data key wrapped as it was (`store_key`), so that nothing is opened or sealed
    /// again on the way and the PostgreSQL store opens with the same key file.
    public func run(progress: @Sendable (TableReport) -> Void = { _ in }) async throws -> [TableReport] {
        var tables = Self.tables
        if try await source.holdsStoreKey() {
            // The key must open the store here: a copy no key opens would be a copy nobody can read.
            guard source.isEncrypted else { throw StoreCopyError.encrypted(source.path) }
            guard try await source.encryptionStanding()?.rotating != true else { throw StoreCopyError.rotating(source.path) }
            tables.append(Self.keyTable)
        }
        let columns = try await target.columns()
        for table in tables + [Table(name: "lease", key: ["name"]), Self.keyTable] {
            let count = try await target.count(table.name)
            guard count == 0 else { throw StoreCopyError.targetNotEmpty(table: table.name, rows: count) }
        }
        var reports: [TableReport] = []
        for table in tables {
            guard let tableColumns = columns[table.name.lowercased()], !tableColumns.isEmpty else {
                throw StoreCopyError.schemaMismatch("the PostgreSQL store has no table \(table.name)")
            }
            let report = try await copy(table, columns: tableColumns)
            reports.append(report)
            progress(report)
        }
        return reports
    }

    private func copy(_ table: Table, columns: [TargetColumn]) async throws -> TableReport {
        let names = columns.map(\.name)
        let keyPositions = try table.key.map { key in
            guard let position = names.firstIndex(of: key.lowercased()) else {
                throw StoreCopyError.schemaMismatch("\(table.name) has no column \(key) on PostgreSQL")
            }
            return position
        }
        // The SQLite names of the PostgreSQL columns: the same, but for the FTS5 table's rowid.
        let sourceColumns = names.map { table.name == "person_search" && $0 == "rowid" ? "rowid" : $0 }
        var sourceDigests: [[UInt8]] = []
        var after: [ExportedValue]?
        while true {
            let page = try await source.exportPage(table: table.name, columns: sourceColumns, key: table.key, after: after, limit: pageSize)
            guard let last = page.last else { break }
            after = keyPositions.map { last[$0] }
            let values = try page.map { row in try zip(row, columns).map { value, column in try column.converted(value, table: table.name) } }
            try await target.insert(values, into: table.name, columns: columns)
            sourceDigests += values.map(CopiedValue.digest)
        }
        try await target.advanceIdentities(of: table.name, columns: columns)
        // SQLite's person index folds its words itself; PostgreSQL's keeps them in a column of
        // its own (an array, which ``PostgresStore/columns()`` leaves out), folded here as staging
        // folds them.
        if table.name == "person_search" { try await target.fillPersonWords() }
        let targetDigests = try await target.rowDigests(table.name, columns: columns)
        let report = TableReport(table: table.name, rows: sourceDigests.count, digest: CopiedValue.digest(of: sourceDigests))
        guard targetDigests.count == sourceDigests.count else {
            throw StoreCopyError.verification(table: table.name, what: "\(sourceDigests.count) rows in SQLite, \(targetDigests.count) in PostgreSQL")
        }
        guard CopiedValue.digest(of: targetDigests) == report.digest else {
            throw StoreCopyError.verification(table: table.name, what: "the rows read back from PostgreSQL differ from SQLite's")
        }
        return report
    }
}

/// A value as it is written into PostgreSQL and read back: the copy's verification compares these.
enum CopiedValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case bytes([UInt8])

    /// The value in `json_to_recordset`'s document: numbers exact (Swift's shortest text that reads
    /// back as the same double), bytes as hex.
    var json: JSONValue {
        switch self {
        case .null: .null
        case .integer(let number): .number(String(number))
        case .real(let number): .number("\(number)")
        case .text(let text): .string(text)
        case .bytes(let bytes): .string(ContentHash.hex(bytes))
        }
    }

    /// A row's SHA-256 over its values, each tagged with its kind and length.
    static func digest(_ row: [CopiedValue]) -> [UInt8] {
        var hash = SHA256()
        for value in row {
            switch value {
            case .null: hash.update(data: [0])
            case .integer(let number): hash.update(data: [1] + withUnsafeBytes(of: number.bigEndian, Array.init))
            case .real(let number): hash.update(data: [2] + withUnsafeBytes(of: number.bitPattern.bigEndian, Array.init))
            case .text(let text):
                hash.update(data: [3] + withUnsafeBytes(of: UInt64(text.utf8.count).bigEndian, Array.init))
                hash.update(data: Array(text.utf8))
            case .bytes(let bytes):
                hash.update(data: [4] + withUnsafeBytes(of: UInt64(bytes.count).bigEndian, Array.init))
                hash.update(data: bytes)
            }
        }
        return Array(hash.finalize())
    }

    /// A table's digest: its rows' digests sorted (the two databases order text differently), hashed.
    static func digest(of rows: [[UInt8]]) -> String {
        var hash = SHA256()
        for row in rows.sorted(by: { $0.lexicographicallyPrecedes($1) }) { hash.update(data: row) }
        return ContentHash.hex(Array(hash.finalize()))
    }
}

/// A column of the PostgreSQL store, as its catalogue describes it.
struct TargetColumn: Sendable, Hashable {
    enum Kind: String, Sendable { case integer, real, text, bytes, boolean }
    var name: String
    var kind: Kind
    var isIdentity: Bool

    /// The SQL type `json_to_recordset` reads the column's value as (bytes travel as hex text).
    var recordType: String {
        switch kind {
        case .integer: "int8"
        case .real: "float8"
        case .text, .bytes: "text"
        case .boolean: "bool"
        }
    }

    /// A SQLite value as this column holds it; one that cannot be is an error naming the table and column.
    func converted(_ value: ExportedValue, table: String) throws -> CopiedValue {
        switch (kind, value) {
        case (_, .null): return .null
        case (.integer, .integer(let number)), (.boolean, .integer(let number)): return .integer(number)
        case (.integer, .real(let number)) where number.rounded() == number && abs(number) < 9.2e18: return .integer(Int64(number))
        case (.real, .integer(let number)): return .real(Double(number))
        case (.real, .real(let number)) where number.isFinite: return .real(number)
        case (.text, .text(let text)) where !text.contains("\u{0}"): return .text(text)
        case (.text, .integer(let number)): return .text(String(number))
        case (.bytes, .blob(let bytes)): return .bytes(bytes)
        case (.bytes, .text(let text)): return .bytes(Array(text.utf8))
        default:
            throw StoreCopyError.unconvertible(table: table, column: name, value: "\(value)".prefix(60).description)
        }
    }
}

/// Why a copy was refused or stopped.
public enum StoreCopyError: Error, Sendable, Hashable, CustomStringConvertible {
    case encrypted(String)
    case rotating(String)
    case targetNotEmpty(table: String, rows: Int)
    case schemaMismatch(String)
    case unconvertible(table: String, column: String, value: String)
    case verification(table: String, what: String)

    public var description: String {
        switch self {
        case .encrypted(let path):
            "\(path) is encrypted and was opened without its key: give the key file that opens it (--key-file, or encryption.keyFile in stagelink.yaml), "
                + "so that the copy is checked to open with it. Nothing was copied."
        case .rotating(let path):
            "\(path) is halfway through a data-key rotation: run `stagelink store rekey --data-key` on it to finish the rotation, then copy. Nothing was copied."
        case .targetNotEmpty(let table, let rows):
            "the PostgreSQL store is not empty (\(table) holds \(rows) row\(rows == 1 ? "" : "s")): a copy goes into a new, empty store only. Nothing was copied."
        case .schemaMismatch(let what):
            "the two stores' schemas differ: \(what). Run the same Stagelink version on both."
        case .unconvertible(let table, let column, let value):
            "\(table).\(column) holds \(DisplayText.escaped(value)), which PostgreSQL's column cannot hold; the copy stopped (the PostgreSQL store is partly written: drop it before copying again)."
        case .verification(let table, let what):
            "verification failed for \(table): \(what) (drop the PostgreSQL store before copying again)."
        }
    }
}

extension PostgresStore {
    /// The store's tables' columns, in their order, by table.
    func columns() async throws -> [String: [TargetColumn]] {
        let rows = try await client.query(
            """
            SELECT table_name::text, column_name::text, data_type::text, is_identity::text FROM information_schema.columns
            WHERE table_schema = \(schema) ORDER BY table_name, ordinal_position
            """, logger: logger
        ).decode((String, String, String, String).self).collect()
        var columns: [String: [TargetColumn]] = [:]
        for (table, column, type, identity) in rows {
            let kind: TargetColumn.Kind
            switch type {
            case "bigint", "integer", "smallint": kind = .integer
            case "double precision", "real": kind = .real
            case "text", "character varying": kind = .text
            case "bytea": kind = .bytes
            case "boolean": kind = .boolean
            // Arrays (`person_search.words`) are PostgreSQL's own: SQLite has no such column.
            default: continue
            }
            columns[table, default: []].append(TargetColumn(name: column, kind: kind, isIdentity: identity == "YES"))
        }
        return columns
    }

    /// Folds the words of every person document copied without them (``PersonWords/fill(in:logger:)``).
    func fillPersonWords() async throws {
        try await client.withConnection { connection in try await PersonWords.fill(in: connection, logger: logger) }
    }

    /// The rows `table` holds (a name of the copy's own list).
    func count(_ table: String) async throws -> Int {
        try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: logger).decode(Int.self).collect().first ?? 0
    }

    /// Inserts rows as they are, ids included, in one statement.
    func insert(_ rows: [[CopiedValue]], into table: String, columns: [TargetColumn]) async throws {
        guard !rows.isEmpty else { return }
        let document = JSONWriter.compactString(
            .array(rows.map { row in .object(JSONObject(zip(columns, row).map { JSONObject.Member(key: $0.name, value: $1.json) })) }))
        let selected = columns.map { $0.kind == .bytes ? "decode(r.\($0.name), 'hex')" : "r.\($0.name)" }.joined(separator: ", ")
        let record = columns.map { "\($0.name) \($0.recordType)" }.joined(separator: ", ")
        var binds = PostgresBindings(capacity: 1)
        binds.append(document)
        try await run(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(table) (\(columns.map(\.name).joined(separator: ", ")))
                    SELECT \(selected) FROM json_to_recordset($1::json) AS r(\(record))
                    """, binds: binds), logger: logger)
    }

    /// Moves each identity of `table` past the highest id copied, so that new rows continue after them.
    func advanceIdentities(of table: String, columns: [TargetColumn]) async throws {
        for column in columns where column.isIdentity {
            try await run(
                PostgresQuery(
                    unsafeSQL: "SELECT setval(pg_get_serial_sequence('\(schema).\(table)', '\(column.name)'), max(\(column.name))) FROM \(table) HAVING count(*) > 0"),
                logger: logger)
        }
    }

    /// Each row of `table` read back, as the copy's digest of its values.
    func rowDigests(_ table: String, columns: [TargetColumn]) async throws -> [[UInt8]] {
        let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT \(columns.map(\.name).joined(separator: ", ")) FROM \(table)"), logger: logger)
        var digests: [[UInt8]] = []
        for try await row in rows {
            var values: [CopiedValue] = []
            for (cell, column) in zip(row, columns) {
                guard cell.bytes != nil else {
                    values.append(.null)
                    continue
                }
                switch column.kind {
                case .integer: values.append(.integer(try cell.decode(Int64.self)))
                case .boolean: values.append(.integer(try cell.decode(Bool.self) ? 1 : 0))
                case .real: values.append(.real(try cell.decode(Double.self)))
                case .text: values.append(.text(try cell.decode(String.self)))
                case .bytes: values.append(.bytes(Array(buffer: try cell.decode(ByteBuffer.self))))
                }
            }
            digests.append(CopiedValue.digest(values))
        }
        return digests
    }
}
