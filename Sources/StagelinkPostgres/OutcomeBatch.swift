import Foundation
import StagelinkEngine
import StagelinkStore

/// A batch of link outcomes as the rows of the tables one statement writes (rows and their
/// attempts, links, lineage), each column bound as one array that `unnest` turns back into rows
/// (a column that may be NULL, a row without an error or a link without a version, as a
/// ``NullableArray``), so that recording 1,000 outcomes costs a few round trips rather than
/// several per outcome. An outcome's rows appear once per batch: ``segments(_:)`` splits a batch in which a row comes
/// back twice, so that each is recorded after the one before, as one at a time would.
struct OutcomeBatch {
    /// One staged row's update, and its link attempt.
    struct Row {
        var id: Int64
        var status: String
        var attempt: String
        var at: Double
        var actor: String
        var note: String?
        /// The error kept on the row (a linked row keeps none).
        var keptCode: String?, keptMessage: String?, keptFields: String?, keptBody: String?, keptFurther: String?
        /// The attempt's own error.
        var code: String?, message: String?, fields: String?, body: String?
    }

    struct Link {
        var system: String, resourceType: String, sourceID: String, targetType: String, targetID: String, recordKey: String
        var linkedRowID: Int64?, linkedVersion: String?, linkedLastUpdated: Double?, updatedAt: Double, retired: String?, mergedInto: String?
    }

    struct Write {
        var object: String, recordKey: String, writtenTo: String, rowID: Int64?, jobID: Int64?, actor: String, at: Double, fields: String
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
                    note: outcome.note, keptCode: kept?.code, keptMessage: kept?.message, keptFields: LinkErrorColumns.fields(kept),
                    keptBody: kept?.remoteBody, keptFurther: LinkErrorColumns.further(kept), code: error?.code, message: error?.message,
                    fields: LinkErrorColumns.fields(error), body: error?.remoteBody))
            for link in outcome.links {
                let retirement = RecordLinkRecord.columns(link.retirement)
                let row = Link(
                    system: link.source.system.rawValue, resourceType: link.source.resourceType, sourceID: link.source.sourceID, targetType: link.targetType,
                    targetID: link.targetID, recordKey: link.recordKey, linkedRowID: link.linkedRowID, linkedVersion: link.linkedVersion.version,
                    linkedLastUpdated: link.linkedVersion.lastUpdated?.timeIntervalSince1970, updatedAt: link.updatedAt.timeIntervalSince1970,
                    retired: retirement.retired, mergedInto: retirement.mergedInto)
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
                        object: write.object, recordKey: write.recordKey, writtenTo: write.writtenTo, rowID: write.rowID, jobID: write.jobID,
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
}
