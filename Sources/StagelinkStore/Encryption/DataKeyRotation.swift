import Foundation
import StagelinkEngine

/// What a data-key rotation did (`stagelink store rekey --data-key`), on SQLite or PostgreSQL.
public struct DataKeyRotation: Sendable, Hashable {
    /// The fingerprints of the data key replaced and of the new one.
    public var previousDataKeyID: String
    public var dataKeyID: String
    /// Whether this run finished a rotation an earlier run began.
    public var resumed: Bool
    /// Staged rows whose payload, content hash and person document were re-made.
    public var rows: Int
    /// Field states, lineage entries and conflicts re-sealed.
    public var values: Int

    package init(previousDataKeyID: String, dataKeyID: String, resumed: Bool, rows: Int = 0, values: Int = 0) {
        self.previousDataKeyID = previousDataKeyID
        self.dataKeyID = dataKeyID
        self.resumed = resumed
        self.rows = rows
        self.values = values
    }
}

/// The two data keys of a rotation and what it does with each stored value: the one definition
/// both stores use, each walking its own tables in batches of one transaction
/// (`SQLiteStore+KeyRotation.swift`, `PostgresStore+KeyRotation.swift`).
package struct DataKeyResealing: Sendable {
    /// The data key being replaced, and the new one.
    package let old: StoreCipher
    package let new: StoreCipher

    package init(old: StoreCipher, new: StoreCipher) {
        self.old = old
        self.new = new
    }

    /// A staged row made again under the new key: its keyed content hash, its payload sealed and
    /// bound to that hash, and its blind person document (without its parent's words, which the
    /// store adds: ``identifiers(of:parent:)``).
    package struct RemadeRow {
        package var hash: String
        package var payload: [UInt8]
        package var document: PersonDocument
    }

    /// The row's payload opened with the old key and sealed with the new; nil for a purged row (no
    /// payload), which keeps its hash: nothing can recompute it.
    package func remade(
        rowID: Int64, system: String, resourceType: String, sourceID: String, contentHash: String, sealed: [UInt8], nonces: inout StoreCipher.Nonces
    ) throws -> RemadeRow? {
        guard !sealed.isEmpty else { return nil }
        let payload = try old.openPayload(sealed, contentHash: contentHash, row: rowID)
        let hash = new.keyedHash(ContentHash.sha256Hex(payload))
        let source: SourceSystem = try StoredValue.decode(system, "staged_row.system")
        let document = PersonIndex.blinded(
            PersonSearch.document(system: source, resourceType: resourceType, sourceID: sourceID, payload: payload), with: new)
        return RemadeRow(hash: hash, payload: try new.sealPayload(payload, contentHash: hash, nonces: &nonces), document: document)
    }

    /// A document's identifiers as the index keeps them: its own words, then its parent's (the
    /// identifiers of the parent's newest row before it, `found`), or the parent's blinded source
    /// id when the parent has no document, as when the row was staged.
    package func identifiers(of document: PersonDocument, found: String?) -> String {
        guard let parent = document.parent else { return document.identifiers }
        return [document.identifiers, found ?? PersonIndex.blindText(parent.sourceID, with: new)].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// A stored text value of `table` sealed again with the new key; nil when there is nothing to
    /// do: clear text (a purged conflict's marker) is not sealed, and a value the new key opens is
    /// done already (a rotation run again after an interruption).
    package func resealed(
        _ stored: String, of table: SealedColumns, label: String, what: @autoclosure () -> String, nonces: inout StoreCipher.Nonces
    ) throws -> String? {
        guard stored.hasPrefix(StoreCipher.sealedTextPrefix), (try? new.openText(stored, label: label, what: "")) == nil else { return nil }
        let text = try old.openText(stored, label: label, what: what())
        return table.deterministic ? try new.sealTextDeterministically(text, label: label) : try new.sealText(Array(text.utf8), label: label, nonces: &nonces)
    }
}

/// A table whose text columns hold sealed values (`enc1:`), walked in key order for a rotation:
/// each value that does not open with the new key is opened with the old and sealed again. The
/// same tables, keys and labels in both stores.
package struct SealedColumns: Sendable {
    package var table: String
    /// The primary key's columns, in order (the walk's keyset).
    package var key: [String]
    /// Whether the key is one integer column (`id`); otherwise text columns.
    package var integerKey: Bool
    package var columns: [String]
    /// The columns each value's seal label is made of, and the label from their values.
    package var labelColumns: [String]
    package var label: @Sendable ([String]) -> String
    /// Conflict values are sealed deterministically (the same collision seals the same).
    package var deterministic: Bool

    package static let all = [
        SealedColumns(
            table: "record_state", key: ["object", "recordKey"], integerKey: false, columns: ["fields"], labelColumns: ["object", "recordKey"],
            label: { SealLabel.recordState(object: $0[0], recordKey: $0[1]) }, deterministic: false),
        SealedColumns(
            table: "record_write", key: ["id"], integerKey: true, columns: ["fields"], labelColumns: ["object", "recordKey"],
            label: { SealLabel.recordWrite(object: $0[0], recordKey: $0[1]) }, deterministic: false),
        SealedColumns(
            table: "conflict", key: ["id"], integerKey: true, columns: ["emrValue", "salesforceValue"], labelColumns: ["object", "recordKey", "field"],
            label: { SealLabel.conflict(object: $0[0], recordKey: $0[1], field: $0[2]) }, deterministic: true),
    ]
}
