import Foundation
import GRDB

/// The two columns that keep copies of field values, `record_state.fields` and
/// `record_write.fields`, as the SQLite store holds them: JSON text in a clear store; in an
/// encrypted one the sealed bytes (``StoreCipher/sealValue(_:label:nonces:)``) as a BLOB, or as
/// `enc1:` text when written before the store kept bytes. Every read of the two columns goes
/// through ``opened(_:sealing:label:what:)``, or, where the sealed value itself is wanted (a
/// lineage row read before it is opened, a copy, a rotation), ``text(_:what:)``: a BLOB as its
/// `enc1:` text.
///
/// Bytes and not text because the text is base64, a third larger: an encrypted store's linking
/// wrote and read that much more and ran at about three quarters of a clear store's speed
/// (docs/security.md, "What it costs: sealed values kept as bytes").
enum SealedFields {
    /// `table.column` of each.
    static let columns: Set<String> = ["record_state.fields", "record_write.fields"]

    /// The column's text opened: sealed bytes opened as they are (no detour through their text,
    /// on the linking path), text as ``StoreSealing/openText(_:label:what:)`` opens it.
    static func opened(_ value: DatabaseValue, sealing: StoreSealing, label: String, what: @autoclosure () -> String) throws -> String {
        if case .blob(let data) = value.storage, let cipher = sealing.cipher { return try cipher.openValue([UInt8](data), label: label, what: what()) }
        return try sealing.openText(text(value, what: what()), label: label, what: what())
    }

    /// The column's text as the store opens it; `what` names the value in the error when the
    /// column holds neither text nor bytes.
    static func text(_ value: DatabaseValue, what: @autoclosure () -> String) throws -> String {
        switch value.storage {
        case .string(let text): text
        case .blob(let data): StoreCipher.sealedText(of: [UInt8](data))
        case .null, .int64, .double: throw StoreError.unreadable("\(what()) is neither text nor sealed bytes (\(value))")
        }
    }
}
