import Foundation
import GRDB
import StagelinkEngine

extension SQLiteStore {
    public func createIntent(resourceType: String, identifier: ResourceIdentifier) async throws -> CreateIntent? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM create_intent WHERE resourceType = ? AND identifierSystem = ? AND identifierValue = ?",
                arguments: [resourceType, identifier.system, identifier.value]
            ).map(Self.createIntent)
        }
    }

    public func recordCreateIntent(_ intent: CreateIntent) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO create_intent (resourceType, identifierSystem, identifierValue, rowID, recordedAt) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (resourceType, identifierSystem, identifierValue) DO UPDATE SET rowID = excluded.rowID, recordedAt = excluded.recordedAt
                    """,
                arguments: [intent.resourceType, intent.identifier.system, intent.identifier.value, intent.rowID, intent.recordedAt.seconds])
        }
    }

    public func clearCreateIntent(resourceType: String, identifier: ResourceIdentifier) async throws {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM create_intent WHERE resourceType = ? AND identifierSystem = ? AND identifierValue = ?",
                arguments: [resourceType, identifier.system, identifier.value])
        }
    }

    public func createIntents() async throws -> [CreateIntent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM create_intent ORDER BY recordedAt, rowID").map(Self.createIntent)
        }
    }

    private static func createIntent(_ row: Row) -> CreateIntent {
        CreateIntent(
            resourceType: row["resourceType"], identifier: ResourceIdentifier(system: row["identifierSystem"], value: row["identifierValue"]),
            rowID: row["rowID"], recordedAt: Date(timeIntervalSince1970: row["recordedAt"]))
    }
}
