import Foundation
import PostgresNIO
import StagelinkEngine
import StagelinkStore

/// The words the PostgreSQL store's person index matches: each document's name, identifiers and
/// birth date folded by ``PersonIndex/foldedWords(_:)`` (as SQLite's `unicode61` tokenizer and the
/// blind index of an encrypted store fold them), kept in `person_search.words` (`text[]`, under a
/// GIN index) and sent to the server as one text of space-separated words (`string_to_array`),
/// since PostgreSQL's arrays of arrays must be rectangular. A search folds what was typed the same
/// way (``RowFilterQuery``) and matches the documents that hold every word of it (`@>`).
enum PersonWords {
    /// A stored document's words, space-separated.
    static func of(_ document: PersonDocument) -> String {
        PersonIndex.foldedWords(document.name, document.identifiers, document.birthDate)
    }

    /// The words of what a person typed (already blinded, in an encrypted store): nil when it holds
    /// none, which then matches no document, as in the SQLite store.
    static func typed(_ text: String) -> [String]? {
        let words = PersonIndex.words(text)
        return words.isEmpty ? nil : words
    }

    /// Fills the words of every document that has none, in pages of `pageSize` in id order: the
    /// documents indexed before migration v21 kept no words, and `stagelink store copy` brings the
    /// SQLite store's documents without them (SQLite's index folds its words itself).
    static func fill(in connection: PostgresConnection, logger: Logger, pageSize: Int = 1_000) async throws {
        var after: Int64 = 0
        while true {
            let rows = try await connection.rows(
                """
                SELECT rowID, name, identifiers, birthDate FROM person_search
                WHERE words IS NULL AND rowID > \(after) ORDER BY rowID LIMIT \(pageSize)
                """, logger: logger
            ).decode((Int64, String, String, String).self).collect()
            guard let last = rows.last else { return }
            let ids = rows.map(\.0)
            let words = rows.map { of(PersonDocument(name: $0.1, identifiers: $0.2, birthDate: $0.3)) }
            try await connection.run(
                """
                UPDATE person_search SET words = string_to_array(filled.words, ' ')
                FROM unnest(\(ids)::int8[], \(words)::text[]) AS filled(rowID, words) WHERE person_search.rowID = filled.rowID
                """, logger: logger)
            after = last.0
        }
    }
}
