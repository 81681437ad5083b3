import Foundation
import StagelinkEngine

/// What both stores, SQLite and PostgreSQL, do with a value on its way into a column and back:
/// sealed, keyed or blinded by the store's ``StoreCipher`` when the store is encrypted; as it is
/// when it is not (for development only). The one place each of these decisions is made, so that
/// the two stores seal, hash and blind exactly alike (and `stagelink store copy` moves sealed
/// values from one to the other unchanged).
///
/// For example:
///
/// ```swift
/// let sealing = StoreSealing(cipher)
/// let stored = sealing.storedHash(record.contentHash)
/// let payload = try sealing.sealPayload(record.payload, contentHash: stored, nonces: &nonces)
/// ```
package struct StoreSealing: Sendable {
    /// The data key's uses; nil for a store kept in the clear.
    package let cipher: StoreCipher?

    package init(_ cipher: StoreCipher?) { self.cipher = cipher }

    /// Whether payloads and values are sealed.
    package var isEncrypted: Bool { cipher != nil }

    /// The content hash as stored: keyed (HMAC) in an encrypted store, so that it reveals nothing.
    package func storedHash(_ contentHash: String) -> String {
        cipher?.keyedHash(contentHash) ?? contentHash
    }

    /// A payload as stored, bound to its row's stored content hash.
    package func sealPayload(_ payload: [UInt8], contentHash: String, nonces: inout StoreCipher.Nonces) throws -> [UInt8] {
        guard let cipher else { return payload }
        return try cipher.sealPayload(payload, contentHash: contentHash, nonces: &nonces)
    }

    /// UTF-8 text (JSON of field values) as stored: sealed text (`enc1:`), or the text.
    package func sealedString(_ utf8: [UInt8], label: String, nonces: inout StoreCipher.Nonces) throws -> String {
        guard let cipher else { return String(decoding: utf8, as: UTF8.self) }
        return try cipher.sealText(utf8, label: label, nonces: &nonces)
    }

    /// A conflict's value as stored: sealed deterministically, so that the same collision seals the
    /// same and the stores' unique indexes still find it.
    package func sealedValue(_ text: String, label: String) throws -> String {
        guard let cipher else { return text }
        return try cipher.sealTextDeterministically(text, label: label)
    }

    /// The text a stored value holds; `what` names the value in the error when it does not open.
    package func openText(_ stored: String, label: String, what: @autoclosure () -> String) throws -> String {
        guard let cipher else { return stored }
        return try cipher.openText(stored, label: label, what: what())
    }

    /// A lineage row with its field values opened.
    package func opened(_ write: RecordWriteRecord) throws -> RecordWriteRecord {
        guard cipher != nil else { return write }
        var opened = write
        opened.fields = try openText(
            write.fields, label: SealLabel.recordWrite(object: write.object, recordKey: write.recordKey),
            what: "the values written into \(write.object) \(write.recordKey) (lineage \(write.id ?? 0))")
        return opened
    }

    /// A conflict's two stored values, opened.
    package func openedConflictValues(
        emr: String, salesforce: String, id: Int64, object: String, recordKey: String, field: String
    ) throws -> (emr: String, salesforce: String) {
        guard cipher != nil else { return (emr, salesforce) }
        let label = SealLabel.conflict(object: object, recordKey: recordKey, field: field)
        return (
            try openText(emr, label: label, what: "the EMR value of conflict \(id)"),
            try openText(salesforce, label: label, what: "the Salesforce value of conflict \(id)")
        )
    }

    /// A person document as the index keeps it: blinded in an encrypted store (``PersonIndex/blinded(_:with:)``).
    package func indexed(_ document: PersonDocument, words: inout PersonIndex.BlindWords?) -> PersonDocument {
        guard words != nil else { return document }
        return PersonIndex.blinded(document, with: &words!)
    }

    /// A record as both stores write it: its stored hash, its stored payload (sealed in an
    /// encrypted store) and its person document (blinded in an encrypted store).
    package struct PreparedRecord: Sendable {
        package var hash: String
        package var payload: [UInt8]
        package var document: PersonDocument
    }

    /// What a lane preparing records keeps from one record to the next: its nonces, and in an
    /// encrypted store the blind tokens of the words it has seen.
    package typealias PreparingLane = (nonces: StoreCipher.Nonces, words: PersonIndex.BlindWords?)

    /// Pages of fewer records are prepared on the calling thread, where starting lanes would cost
    /// more than they save (``PageLanes``, ``PagePipeline``).
    package static let lanesMinimum = 128

    /// A new lane's state for ``prepared(_:lane:)``.
    @Sendable package func preparingLane() -> PreparingLane { (StoreCipher.Nonces(), cipher.map(PersonIndex.BlindWords.init)) }

    /// One record prepared: the costly part of staging (hashing, sealing, reading the payload's
    /// names), done the same way by both stores.
    package func prepared(_ record: IncomingRecord, lane: inout PreparingLane) throws -> PreparedRecord {
        let hash = storedHash(record.contentHash)
        let payload = try sealPayload(record.payload, contentHash: hash, nonces: &lane.nonces)
        return PreparedRecord(hash: hash, payload: payload, document: indexed(PersonSearch.document(for: record), words: &lane.words))
    }

    /// A page of records prepared in chunks while the store writes the chunks before
    /// (``PagePipeline``): started now unless `startingNow` is false, so that a page waiting for
    /// the store's writer is prepared meanwhile.
    package func preparingPage(_ records: [IncomingRecord], startingNow: Bool = true) -> PagePipeline<PreparedRecord, PreparingLane> {
        PagePipeline(records.count, minimum: Self.lanesMinimum, startingNow: startingNow, state: preparingLane) { index, lane in try self.prepared(records[index], lane: &lane) }
    }

    /// A parent's source id as a child's document names it when the parent has no document yet.
    package func indexedParentID(_ sourceID: String) -> String {
        guard let cipher else { return sourceID }
        return PersonIndex.blindText(sourceID, with: cipher)
    }

    /// What a person typed, as the words of a blind index hold it: each word folded and replaced
    /// by its blind token (``PersonIndex/blindText(_:with:)``); the text as it is in a clear store.
    package func searchText(_ text: String) -> String {
        guard let cipher else { return text }
        return PersonIndex.blindText(text, with: cipher)
    }
}
