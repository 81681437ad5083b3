import Foundation
import GRDB
import StagelinkEngine

/// The person index: an SQLite FTS5 table with one document per staged row (its `rowid` is the
/// row's id), read from the payload fields ``PersonSearch`` declares, so that `/müller` in the
/// console and `stagelink rows --text müller` find a person's rows without reading payloads.
///
/// The `unicode61` tokenizer with `remove_diacritics 2` folds case and accents, so `muller` finds
/// Müller and `pena` finds Peña (https://sqlite.org/fts5.html#unicode61_tokenizer). A document is
/// written in the transaction that stages its row; the migration that made the table wrote one for
/// every row staged before; the retention purge removes the documents of the rows it empties.
///
/// In an encrypted store the index is blind: each word of a document is folded here (``words(_:)``)
/// and replaced by its keyed token (``StoreCipher/blindToken(_:)``), all in the `identifiers`
/// column, and a search folds and blinds the words typed the same way, so that the same searches
/// find the same rows while the file holds no name, identifier or birth date
/// (docs/security.md, "Search by person in an encrypted store").
package enum PersonIndex {
    static let schema = """
        CREATE VIRTUAL TABLE person_search USING fts5(name, identifiers, birthDate, tokenize = 'unicode61 remove_diacritics 2');
        """

    /// Writes row documents with the statements of one transaction.
    struct Writer {
        private let insert: RawStatement
        private let insertParent: RawStatement
        private let parent: Statement
        private let blind: StoreCipher?

        /// - Parameter blind: the cipher of an encrypted store, whose documents arrive blinded
        ///   (``PersonIndex/blinded(_:with:)``); a parent not staged yet is named by its blinded id.
        init(_ db: Database, blind: StoreCipher? = nil) throws {
            self.blind = blind
            insert = try RawStatement(
                db.cachedStatement(sql: "INSERT INTO person_search (rowid, name, identifiers, birthDate) VALUES (?, ?, ?, ?)"), in: db)
            insertParent = try RawStatement(
                db.cachedStatement(sql: "INSERT INTO row_parent (rowID, system, resourceType, sourceID) VALUES (?, ?, ?, ?)"), in: db)
            // The parent's newest row: the content index finds its versions, the largest id is the
            // newest. Named, because for MAX(id) SQLite's planner otherwise walks the index of the
            // whole type (resourceType, id) backwards: one scan of every row of the type per child
            // row staged, which made a pull of 300,000 rows quadratic.
            parent = try db.cachedStatement(
                sql: """
                    SELECT name, identifiers, birthDate FROM person_search WHERE rowid = (
                        SELECT MAX(id) FROM staged_row INDEXED BY staged_row_content WHERE system = ? AND resourceType = ? AND sourceID = ?)
                    """)
        }

        /// Writes the document of row `id`, and its parent record; a row about a person without a name of its own takes
        /// its parent's name, identifiers and birth date when the parent is staged already (in a
        /// blind index, the parent's tokens, which all stand in its `identifiers`).
        func write(_ document: PersonDocument, rowID id: Int64) throws {
            var document = document
            if let key = document.parent {
                try insertParent.run(.integer(id), .text(key.system.rawValue), .text(key.resourceType), .text(key.sourceID))
                let found = try Row.fetchOne(parent, arguments: [key.system.rawValue, key.resourceType, key.sourceID]).map { row in
                    PersonDocument(name: row["name"], identifiers: row["identifiers"], birthDate: row["birthDate"])
                }
                let parentName = blind.map { PersonIndex.blindText(key.sourceID, with: $0) } ?? key.sourceID
                document = PersonIndex.document(document, under: found, parentName: parentName)
            }
            try insert.run(.integer(id), .text(document.name), .text(document.identifiers), .text(document.birthDate))
        }
    }

    /// Writes a document for every row that has none, oldest first (so that a child finds its
    /// parent's), in pages: the migration that made the index, for the rows staged before it.
    static func backfill(_ db: Database) throws {
        let writer = try Writer(db)
        var after: Int64 = 0
        while true {
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT staged_row.id, system, resourceType, sourceID, payload FROM staged_row
                    LEFT JOIN staged_payload ON staged_payload.rowID = staged_row.id
                    WHERE staged_row.id > ? ORDER BY staged_row.id LIMIT 1000
                    """,
                arguments: [after])
            guard let last = rows.last else { return }
            for row in rows {
                let id: Int64 = row["id"]
                let system: SourceSystem = try StoredValue.decode(row["system"] as String, "staged_row.system")
                let payload: [UInt8] = (row["payload"] as Data?).map { Array($0) } ?? []
                try writer.write(
                    PersonSearch.document(system: system, resourceType: row["resourceType"], sourceID: row["sourceID"], payload: payload), rowID: id)
            }
            after = last["id"]
        }
    }

    /// The one function that turns what a person typed into an FTS5 query, so that nothing they
    /// type is read as FTS5 syntax (https://sqlite.org/fts5.html#full_text_query_syntax): every
    /// word becomes a quoted string (a phrase of the tokens in it, `"` doubled), so `*`, `^`, `:`
    /// column filters, `NEAR`, `AND`/`OR`/`NOT`, parentheses and `+` are plain characters that the
    /// tokenizer drops or keeps as text; control characters become spaces. Words are ANDed. Nil
    /// when nothing searchable is left.
    ///
    /// For example:
    ///
    /// ```swift
    /// PersonIndex.query(#"zoë "müller" OR *"#) // #""zoë" """müller""" "OR""#  (`*` alone holds no word)
    /// ```
    ///
    /// With `blind` (an encrypted store), each word is folded and each of its tokens replaced by
    /// its blind token: a word of several tokens (`o'brien`) stays a phrase of their tokens.
    static func query(_ text: String, blind: StoreCipher? = nil) -> String? {
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format ? " " : scalar
        }))
        let words = cleaned.split(whereSeparator: \.isWhitespace).filter { word in
            word.unicodeScalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil }
        }
        guard !words.isEmpty else { return nil }
        if let blind {
            return words.map { "\"" + blindText(String($0), with: blind) + "\"" }.joined(separator: " ")
        }
        return words.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " ")
    }

    /// The words of a text as the blind index keeps them, close to what the `unicode61` tokenizer
    /// with `remove_diacritics 2` makes of it: lower case, accents removed (canonical
    /// decomposition, then no nonspacing marks), split at every character that is not a letter
    /// or a digit. Both the documents and the searches of a blind index are folded here, so the
    /// two always agree.
    ///
    /// For example, `PersonIndex.words("Siobhán O'Brien")` is `["siobhan", "o", "brien"]`.
    package static func words(_ text: String) -> [String] {
        if let words = asciiWords(text) { return words }
        var words: [String] = []
        var word = String.UnicodeScalarView()
        for scalar in text.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
            let properties = scalar.properties
            if properties.generalCategory == .nonspacingMark { continue }
            if properties.isAlphabetic || properties.numericType != nil {
                word.append(scalar)
            } else if !word.isEmpty {
                words.append(String(word))
                word = String.UnicodeScalarView()
            }
        }
        if !word.isEmpty { words.append(String(word)) }
        return words
    }

    /// ``words(_:)`` of a document's texts as one text, the words separated by single spaces: what
    /// the PostgreSQL store's person index keeps of a document (its name, identifiers and birth
    /// date), so that it splits and folds as the SQLite store's tokenizer and the blind index do
    /// (a blind document's tokens are words already and stay as they are). A text that is all
    /// ASCII is folded byte by byte into the result.
    ///
    /// For example, `PersonIndex.foldedWords("Zoë Müller", "zoe.muller@clinic.example")` is
    /// `"zoe muller zoe muller clinic example"`.
    package static func foldedWords(_ texts: String...) -> String {
        var out: [UInt8] = []
        for var text in texts {
            let ascii = text.withUTF8 { bytes -> Bool in
                guard !bytes.contains(where: { $0 >= 0x80 }) else { return false }
                var inWord = false
                for byte in bytes {
                    if let folded = folded(ascii: byte) {
                        if !inWord, !out.isEmpty { out.append(UInt8(ascii: " ")) }
                        out.append(folded)
                        inWord = true
                    } else {
                        inWord = false
                    }
                }
                return true
            }
            guard !ascii else { continue }
            for word in words(text) {
                if !out.isEmpty { out.append(UInt8(ascii: " ")) }
                out += word.utf8
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The document the index keeps for a row that belongs to another record (``PersonDocument/parent``),
    /// in both stores: its identifiers followed by its parent's (the parent's newest row's document,
    /// or, when there is none yet, `parentName`: the parent's source id, blinded in an encrypted
    /// store), and its parent's name and birth date where it has none of its own. A row without a
    /// parent keeps its own document.
    package static func document(_ document: PersonDocument, under parent: PersonDocument?, parentName: String) -> PersonDocument {
        guard document.parent != nil else { return document }
        var document = document
        let parentIdentifiers = parent?.identifiers ?? parentName
        document.identifiers = [document.identifiers, parentIdentifiers].filter { !$0.isEmpty }.joined(separator: " ")
        if document.name.isEmpty, let name = parent?.name { document.name = name }
        if document.birthDate.isEmpty, let birthDate = parent?.birthDate { document.birthDate = birthDate }
        return document
    }

    /// ``words(_:)`` of a text that is all ASCII, the common case, byte by byte: for ASCII the
    /// Unicode folding is exactly this (`A`–`Z` lowered; letters and digits are `A`–`Z`, `a`–`z`,
    /// `0`–`9`; no ASCII character decomposes or is a mark). Nil for a text with any other character.
    private static func asciiWords(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { bytes -> [String]? in
            var words: [String] = []
            var word: [UInt8] = []
            for byte in bytes {
                guard byte < 0x80 else { return nil }
                if let folded = folded(ascii: byte) {
                    word.append(folded)
                } else if !word.isEmpty {
                    words.append(String(decoding: word, as: UTF8.self))
                    word.removeAll(keepingCapacity: true)
                }
            }
            if !word.isEmpty { words.append(String(decoding: word, as: UTF8.self)) }
            return words
        }
    }

    /// An ASCII byte as ``words(_:)`` folds it: `A`–`Z` lowered, `a`–`z` and `0`–`9` kept; nil for
    /// any other, which ends a word.
    static func folded(ascii byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte + 32
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): byte
        default: nil
        }
    }

    /// The blind tokens of a text's words, space-separated, in order.
    package static func blindText(_ text: String, with cipher: StoreCipher) -> String {
        words(text).map(cipher.blindToken).joined(separator: " ")
    }

    /// A document as an encrypted store indexes it: every word of its name, identifiers and birth
    /// date as a blind token in `identifiers` (a search matches any column), nothing in `name`, so
    /// that lists show no name read from the index.
    package static func blinded(_ document: PersonDocument, with cipher: StoreCipher) -> PersonDocument {
        var words = BlindWords(cipher)
        return blinded(document, with: &words)
    }

    /// The same, through `words`, which remembers the tokens of the words it has blinded already.
    package static func blinded(_ document: PersonDocument, with words: inout BlindWords) -> PersonDocument {
        PersonDocument(identifiers: words.blindText(document.name, document.identifiers, document.birthDate), parent: document.parent)
    }

    /// Blinds the texts of one page of rows, remembering each space-separated piece's tokens and
    /// each folded word's token: a page repeats pieces (family and given names), which are folded
    /// and hashed once, and repeats words inside pieces that differ (a birth date's year, month and
    /// day), which are hashed once. A piece's tokens are those of ``PersonIndex/blindText(_:with:)``
    /// of the piece, as a search blinds each word typed, so documents and searches agree. Kept for
    /// one page only.
    ///
    /// It works on the text's UTF-8 bytes and keeps what it remembers in a few flat arrays: a
    /// piece or a word is looked up by an FNV-1a hash of its bytes and compared byte for byte, an
    /// ASCII piece is folded byte by byte into its words (``words(_:)`` for any other), and a
    /// word's token is the HMAC of its bytes. In a profile of encrypted staging, making `String`s
    /// of pieces and words, hashing them as dictionary keys and allocating their arrays were more
    /// of blinding's time than the HMACs (docs/security.md). Splitting at the byte of a space gives
    /// the same words as splitting at a space `Character`: the space ends a word either way.
    package struct BlindWords {
        let cipher: StoreCipher
        /// Remembered bytes (of pieces and of words), one after another.
        private var bytes: [UInt8] = []
        /// Remembered tokens: a piece's space-separated, a word's 16 hex digits.
        private var tokens: [UInt8] = []
        /// The remembered pieces, and the remembered words.
        private var pieces = Remembered()
        private var words = Remembered()
        /// The folded word being read (reused).
        private var word: [UInt8] = []

        /// Byte strings remembered with their tokens, where `bytes` and `tokens` keep them: each
        /// found by an FNV-1a hash of its bytes, compared byte for byte.
        private struct Remembered {
            /// Where an entry's bytes and tokens are, and the entry remembered before it with the
            /// same hash.
            private var entries: [(bytes: Range<Int>, tokens: Range<Int>, next: Int)] = []
            /// The newest entry of each hash.
            private var newest: [UInt64: Int] = [:]

            init() { newest.reserveCapacity(1024) }

            static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                return hash
            }

            /// Where the tokens of `key` (of hash `hash`) are, nil when it is not remembered.
            func tokens(of key: some Sequence<UInt8>, hash: UInt64, bytes: [UInt8]) -> Range<Int>? {
                var candidate = newest[hash] ?? -1
                while candidate >= 0 {
                    if bytes[entries[candidate].bytes].elementsEqual(key) { return entries[candidate].tokens }
                    candidate = entries[candidate].next
                }
                return nil
            }

            mutating func remember(hash: UInt64, bytes: Range<Int>, tokens: Range<Int>) {
                entries.append((bytes, tokens, newest[hash] ?? -1))
                newest[hash] = entries.count - 1
            }
        }

        package init(_ cipher: StoreCipher) { self.cipher = cipher }

        /// The blind tokens of the words of `texts`, space-separated, in order: one text's
        /// tokens, then the next's.
        package mutating func blindText(_ texts: String...) -> String {
            var out: [UInt8] = []
            for var text in texts {
                text.withUTF8 { append(tokensOf: $0, to: &out) }
            }
            return String(decoding: out, as: UTF8.self)
        }

        private mutating func append(tokensOf text: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
            var start = 0
            while start < text.count {
                guard text[start] != UInt8(ascii: " ") else {
                    start += 1
                    continue
                }
                var end = start + 1
                while end < text.count && text[end] != UInt8(ascii: " ") { end += 1 }
                let piece = tokens(ofPiece: UnsafeBufferPointer(rebasing: text[start..<end]))
                start = end
                guard !piece.isEmpty else { continue }
                if !out.isEmpty { out.append(UInt8(ascii: " ")) }
                out.append(contentsOf: tokens[piece])
            }
        }

        /// Where the tokens of `piece` are, remembered now if it is new: each folded word's
        /// token, hashed the first time the page has the word.
        private mutating func tokens(ofPiece piece: UnsafeBufferPointer<UInt8>) -> Range<Int> {
            let hash = Remembered.hash(piece)
            if let known = pieces.tokens(of: piece, hash: hash, bytes: bytes) { return known }
            let start = tokens.count
            if piece.allSatisfy({ $0 < 0x80 }) {
                // ``words(_:)`` of ASCII, byte by byte.
                for byte in piece {
                    if let folded = PersonIndex.folded(ascii: byte) { word.append(folded) } else { appendWordToken(from: start) }
                }
                appendWordToken(from: start)
            } else {
                for folded in PersonIndex.words(String(decoding: piece, as: UTF8.self)) {
                    word.append(contentsOf: folded.utf8)
                    appendWordToken(from: start)
                }
            }
            let bytesStart = bytes.count
            bytes.append(contentsOf: piece)
            pieces.remember(hash: hash, bytes: bytesStart..<bytes.count, tokens: start..<tokens.count)
            return start..<tokens.count
        }

        /// Appends the token of the folded word in `word` (if any) to the piece whose tokens
        /// start at `pieceStart`, and empties `word`.
        private mutating func appendWordToken(from pieceStart: Int) {
            guard !word.isEmpty else { return }
            defer { word.removeAll(keepingCapacity: true) }
            if tokens.count > pieceStart { tokens.append(UInt8(ascii: " ")) }
            let hash = Remembered.hash(word)
            if let known = words.tokens(of: word, hash: hash, bytes: bytes) {
                for index in known { tokens.append(tokens[index]) }
                return
            }
            let tokenStart = tokens.count
            word.withUnsafeBytes { cipher.appendBlindToken(ofUTF8: $0, to: &tokens) }
            let bytesStart = bytes.count
            bytes.append(contentsOf: word)
            words.remember(hash: hash, bytes: bytesStart..<bytes.count, tokens: tokenStart..<tokens.count)
        }
    }
}

extension PersonIndex {
    /// The names of the people rows are about, by row id (a row whose document has no name is absent).
    static func names(ofRows ids: some Sequence<Int64>, in db: Database) throws -> [Int64: String] {
        let statement = try db.cachedStatement(sql: "SELECT name FROM person_search WHERE rowid = ?")
        var names: [Int64: String] = [:]
        for id in Set(ids) {
            if let name = try String.fetchOne(statement, arguments: [id]), !name.isEmpty { names[id] = name }
        }
        return names
    }
}

extension SQLiteStore {
    public func personNames(ofRows ids: [Int64]) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.read { db in try PersonIndex.names(ofRows: ids, in: db) }
    }
}
