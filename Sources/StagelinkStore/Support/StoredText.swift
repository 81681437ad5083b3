import StagelinkEngine

/// The one place a text from outside is made fit for either store's text columns: an error
/// quoting another system's answer (a link outcome's, a job's message, an event, an alert, a
/// webhook delivery's), an outcome's note, the access log's names; on PostgreSQL, whose `text`
/// cannot hold a NUL at all, the person index's documents and searches too.
///
/// NUL becomes `␀` (U+2400, SYMBOL FOR NULL), which is what a reader sees for it anyway. Kept as
/// it was, PostgreSQL's `text` refuses it ("invalid byte sequence for encoding UTF8: 0x00",
/// SQLSTATE 22021), and with it the whole statement (a batch of outcomes, a job's end) again at
/// every retry; SQLite stores it but hands the text back only up to it, so the same text read
/// differently on each store and lost its end on SQLite. Payloads are kept verbatim all the same
/// (bytes, not text); in the person index `␀` separates words as a space would.
package enum StoredText {
    package static func storable(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{2400}") : text
    }
}

extension LinkError {
    /// This error with each of its texts, and its further problems', ``StoredText/storable(_:)``.
    package var storable: LinkError {
        var error = self
        error.code = StoredText.storable(code)
        error.message = StoredText.storable(message)
        error.fields = fields.map(StoredText.storable)
        error.remoteBody = remoteBody.map(StoredText.storable)
        error.further = further.map(\.storable)
        return error
    }
}

extension LinkOutcome {
    /// This outcome with its error and note ``StoredText/storable(_:)``: what both stores record.
    package var storable: LinkOutcome {
        guard error != nil || note != nil else { return self }
        var outcome = self
        outcome.error = error?.storable
        outcome.note = note.map(StoredText.storable)
        return outcome
    }
}
