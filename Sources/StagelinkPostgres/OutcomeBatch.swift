import Foundation
import StagelinkEngine
import StagelinkStore

/// A batch of link outcomes as the JSON documents that `json_to_recordset` turns back into rows
/// inside one statement: one document per table (rows and their attempts, links, lineage), so
/// that recording 1,000 outcomes costs a few round trips rather than several per outcome.
///
/// JSON carries what arrays of binds cannot: NULL in any column (a row without an error, a link
/// without a version). Keys are the lower-case column names PostgreSQL folds unquoted ones to.
/// An outcome's rows appear once per batch: ``segments(_:)`` splits a batch in which a row comes
/// back twice, so that each is recorded after the one before, as one at a time would.
struct OutcomeBatch {
    /// One staged row's update, and its link attempt.
    struct Row: Encodable {
        var id: Int64
        var status: String
        var attempt: String
        var at: Double
        var actor: String
        var note: String?
        /// The error kept on the row (a linked row keeps none).
        var keptcode: String?, keptmessage: String?, keptfields: String?, keptbody: String?, keptfurther: String?
        /// The attempt's own error.
        var code: String?, message: String?, fields: String?, body: String?
    }

    struct Link: Encodable {
        var system: String, resourcetype: String, sourceid: String, targettype: String, targetid: String, recordkey: String
        var linkedrowid: Int64?, linkedversion: String?, linkedlastupdated: Double?, updatedat: Double, retired: String?, mergedinto: String?
    }

    struct Write: Encodable {
        var object: String, recordkey: String, writtento: String, rowid: Int64?, jobid: Int64?, actor: String, at: Double, fields: String
    }

    var rows: [Row] = []
    /// The last link given for each source record (a later one replaces an earlier, as when upserted one by one).
    var links: [Link] = []
    var writes: [Write] = []
    /// Every field state change, in the order given, with its outcome's time.
    var fieldStates: [(change: FieldStateChange, at: Double)] = []

    /// - Parameter sealing: an encrypted store's, which seals the lineage's values as the SQLite store does.
    init(_ outcomes: some Collection<LinkOutcome>, sealing: StoreSealing) throws {
        var linkIndex: [SourceKey: Int] = [:]
        var nonces = StoreCipher.Nonces()
        for outcome in outcomes {
            let at = outcome.at.timeIntervalSince1970
            let error = outcome.error
            // A failed row keeps its last error visible after it is superseded or ignored; a linked one no longer has one.
            let kept = outcome.status == .failed || error != nil ? error : nil
            rows.append(
                Row(
                    id: outcome.rowID, status: outcome.status.rawValue, attempt: outcome.attempt.rawValue, at: at, actor: outcome.actor.description,
                    note: outcome.note, keptcode: kept?.code, keptmessage: kept?.message, keptfields: LinkErrorColumns.fields(kept),
                    keptbody: kept?.remoteBody, keptfurther: LinkErrorColumns.further(kept), code: error?.code, message: error?.message,
                    fields: LinkErrorColumns.fields(error), body: error?.remoteBody))
            for link in outcome.links {
                let retirement = RecordLinkRecord.columns(link.retirement)
                let row = Link(
                    system: link.source.system.rawValue, resourcetype: link.source.resourceType, sourceid: link.source.sourceID, targettype: link.targetType,
                    targetid: link.targetID, recordkey: link.recordKey, linkedrowid: link.linkedRowID, linkedversion: link.linkedVersion.version,
                    linkedlastupdated: link.linkedVersion.lastUpdated?.timeIntervalSince1970, updatedat: link.updatedAt.timeIntervalSince1970,
                    retired: retirement.retired, mergedinto: retirement.mergedInto)
                if let index = linkIndex[link.source] {
                    links[index] = row
                } else {
                    linkIndex[link.source] = links.count
                    links.append(row)
                }
            }
            for write in RecordWriteRow<[UInt8]>.encode(outcome.writes) {
                writes.append(
                    Write(
                        object: write.object, recordkey: write.recordKey, writtento: write.writtenTo, rowid: write.rowID, jobid: write.jobID,
                        actor: write.actor, at: write.at,
                        fields: try sealing.sealedString(
                            write.fields, label: SealLabel.recordWrite(object: write.object, recordKey: write.recordKey), nonces: &nonces)))
            }
            fieldStates += outcome.fieldStates.map { ($0, at) }
        }
    }

    /// The outcomes in runs in which no row appears twice, in order: a row recorded twice in one
    /// call is recorded the second time after the first (its attempt number after the first's).
    static func segments(_ outcomes: [LinkOutcome]) -> [ArraySlice<LinkOutcome>] {
        var segments: [ArraySlice<LinkOutcome>] = []
        var start = outcomes.startIndex
        var seen = Set<Int64>()
        for index in outcomes.indices where !seen.insert(outcomes[index].rowID).inserted {
            segments.append(outcomes[start..<index])
            start = index
            seen = [outcomes[index].rowID]
        }
        segments.append(outcomes[start...])
        return segments
    }

    /// A document `json_to_recordset` reads.
    static func json(_ rows: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
    }
}
