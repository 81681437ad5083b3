import StagelinkEngine

/// The one place a text from outside (another system's answer quoted in an error, a value read
/// from a payload) is made fit for either store's text columns before a link outcome is recorded.
///
/// NUL becomes `␀` (U+2400, SYMBOL FOR NULL), which is what a reader sees for it anyway. Kept as
/// it was, PostgreSQL's `text` refuses it ("invalid byte sequence for encoding UTF8: 0x00",
/// SQLSTATE 22021), and with it the whole batch of outcomes, again at every retry; SQLite stores
/// it but hands the text back only up to it, so the same error read differently on each store
/// and lost its end on SQLite. Payloads are kept verbatim all the same (bytes, not text), and the
/// person index has its own rule (words: a NUL separates them).
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
