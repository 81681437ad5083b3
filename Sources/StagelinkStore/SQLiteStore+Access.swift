import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func recordAccess(_ accesses: [RowAccess]) async throws {
        guard !accesses.isEmpty else { return }
        let insert: @Sendable (Database) throws -> Void = { db in
            for access in accesses {
                try db.execute(
                    sql: "INSERT INTO row_access (at, rowID, operator, process, via) VALUES (?, ?, ?, ?, ?)",
                    arguments: [access.at.timeIntervalSince1970, access.rowID, StoredText.storable(access.operatorName), StoredText.storable(access.process), access.via.rawValue])
            }
        }
        switch access {
        case .readWrite:
            try await write(insert)
        case .readOnly:
            // A reader's reads are logged too: through a connection of their own, which fails (and
            // the read with it) when the file may not be written.
            var configuration = Configuration()
            configuration.busyMode = .timeout(15)
            configuration.label = "stagelink.access-log"
            do {
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                try await queue.write(insert)
            } catch let error as DatabaseError {
                throw StoreError.cannotOpen(path: path, reason: "the access log cannot be written (\(error.message ?? "\(error)")), so nothing is shown")
            }
        }
    }

    public func accessLog(_ query: AccessQuery) async throws -> [RowAccess] {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let rowID = query.rowID {
                conditions.append("rowID = ?")
                _ = arguments.append(contentsOf: [rowID])
            }
            if let name = query.operatorName {
                conditions.append("operator = ?")
                _ = arguments.append(contentsOf: [name])
            }
            if let before = query.before {
                conditions.append("id < ?")
                _ = arguments.append(contentsOf: [before])
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [query.limit])
            return try Row.fetchAll(db, sql: "SELECT id, at, rowID, operator, process, via FROM row_access \(filter) ORDER BY id DESC LIMIT ?", arguments: arguments).map { row in
                try StoredColumns.access((row[0], row[1], row[2], row[3], row[4], row[5]))
            }
        }
    }
}
