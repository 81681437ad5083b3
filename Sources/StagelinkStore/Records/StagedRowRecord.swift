import Foundation
import GRDB
import StagelinkEngine

/// A row of `staged_row`: one received version of one record, verbatim.
struct StagedRowRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "staged_row"

    var id: Int64
    var system: String
    var resourceType: String
    var sourceID: String
    var version: String?
    var lastUpdated: Double?
    var contentHash: String
    var jobID: Int64?
    var receivedAt: Double
    var status: String
    var payload: Data
    var errorCode: String?
    var errorMessage: String?
    var errorFields: String?
    var errorBody: String?
    var attemptCount: Int
    var note: String?
    var updatedAt: Double
    var claimedBy: String?
    var claimedUntil: Double?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let system = Column(CodingKeys.system)
        static let resourceType = Column(CodingKeys.resourceType)
        static let sourceID = Column(CodingKeys.sourceID)
        static let status = Column(CodingKeys.status)
        static let errorCode = Column(CodingKeys.errorCode)
        static let errorMessage = Column(CodingKeys.errorMessage)
        static let jobID = Column(CodingKeys.jobID)
        static let receivedAt = Column(CodingKeys.receivedAt)
        static let attemptCount = Column(CodingKeys.attemptCount)
        static let claimedBy = Column(CodingKeys.claimedBy)
        static let claimedUntil = Column(CodingKeys.claimedUntil)
    }

    var row: StagedRow {
        StagedRow(
            id: id, system: SourceSystem(rawValue: system) ?? .emr, resourceType: resourceType, sourceID: sourceID, version: version,
            lastUpdated: lastUpdated.map(Date.init(timeIntervalSince1970:)), contentHash: contentHash, jobID: jobID,
            receivedAt: Date(timeIntervalSince1970: receivedAt), status: RowStatus(rawValue: status) ?? .staged, payload: [UInt8](payload),
            error: LinkErrorColumns.error(code: errorCode, message: errorMessage, fields: errorFields, body: errorBody), attemptCount: attemptCount,
            note: note, updatedAt: Date(timeIntervalSince1970: updatedAt))
    }

    static func summary(_ row: Row) -> StagedRowSummary {
        StagedRowSummary(
            id: row["id"], system: SourceSystem(rawValue: row["system"]) ?? .emr, resourceType: row["resourceType"], sourceID: row["sourceID"],
            version: row["version"], lastUpdated: (row["lastUpdated"] as Double?).map(Date.init(timeIntervalSince1970:)), jobID: row["jobID"],
            receivedAt: Date(timeIntervalSince1970: row["receivedAt"]), status: RowStatus(rawValue: row["status"]) ?? .staged,
            errorCode: row["errorCode"], errorMessage: row["errorMessage"], attemptCount: row["attemptCount"],
            updatedAt: Date(timeIntervalSince1970: row["updatedAt"]))
    }
}

/// How a `LinkError` is spread over four columns (code, message, fields, body).
enum LinkErrorColumns {
    static func error(code: String?, message: String?, fields: String?, body: String?) -> LinkError? {
        guard let code else { return nil }
        let fieldList = fields.map { $0.split(separator: ",").map(String.init) } ?? []
        return LinkError(code: code, message: message ?? "", fields: fieldList, remoteBody: body)
    }

    static func fields(_ error: LinkError?) -> String? {
        guard let error, !error.fields.isEmpty else { return nil }
        return error.fields.joined(separator: ",")
    }
}
