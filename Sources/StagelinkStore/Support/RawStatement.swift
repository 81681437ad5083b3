import GRDB
import GRDBSQLite

/// Binds and steps a GRDB cached statement through the SQLite C API, for the two hot loops of the
/// store (staging a page, recording a batch's outcomes) where building `StatementArguments` for
/// every row costs more than the insert itself. Everything else goes through GRDB.
///
/// For example:
///
/// ```swift
/// var insert = RawStatement(try db.cachedStatement(sql: "INSERT INTO t (a, b) VALUES (?, ?)"), in: db)
/// try insert.run("text", 42.0)
/// ```
struct RawStatement {
    private let statement: Statement
    private let handle: OpaquePointer
    private let connection: OpaquePointer?

    /// SQLite copies text and blobs it is given (`SQLITE_TRANSIENT`).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ statement: Statement, in db: Database) {
        self.statement = statement
        self.handle = statement.sqliteStatement
        self.connection = db.sqliteConnection
    }

    /// A value to bind: text, a number, bytes, or NULL.
    enum Value {
        case text(String?)
        /// Text already encoded as UTF-8 (JSON written by `JSONTextBuilder`), bound without
        /// becoming a `String` first.
        case utf8([UInt8])
        case real(Double?)
        case integer(Int64?)
        case blob([UInt8])
    }

    /// Binds the values in order, steps the statement to its end, and resets it; returns the first
    /// column of the last row a `RETURNING` clause produced, if any.
    @discardableResult
    func run(_ values: Value...) throws -> Int64? {
        var returned: Int64?
        try execute(values) { returned = sqlite3_column_int64(handle, 0) }
        return returned
    }

    /// Binds UTF-8 bytes as text; empty text is bound as '', never as NULL.
    private func bindText(_ utf8: UnsafeRawBufferPointer, at index: Int32) {
        if let start = utf8.baseAddress, !utf8.isEmpty {
            sqlite3_bind_text(handle, index, start.assumingMemoryBound(to: CChar.self), Int32(utf8.count), Self.transient)
        } else {
            sqlite3_bind_text(handle, index, "", 0, Self.transient)
        }
    }

    private func execute(_ values: [Value], row: () -> Void) throws {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .text(nil), .real(nil), .integer(nil): sqlite3_bind_null(handle, index)
            case .text(let text?):
                // Through the string's own UTF-8 storage: passing a String as `const char *` would
                // copy it into a new C string first.
                var text = text
                text.withUTF8 { bindText(UnsafeRawBufferPointer($0), at: index) }
            case .utf8(let bytes): bytes.withUnsafeBytes { bindText($0, at: index) }
            case .real(let number?): sqlite3_bind_double(handle, index, number)
            case .integer(let number?): sqlite3_bind_int64(handle, index, number)
            case .blob(let bytes): _ = bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient) }
            }
        }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_ROW {
                row()
                continue
            }
            guard code == SQLITE_DONE else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: statement.sql)
            }
            return
        }
    }
}
