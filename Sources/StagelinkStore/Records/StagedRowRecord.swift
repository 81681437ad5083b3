import Foundation
import GRDB
import StagelinkEngine

/// A row of `staged_row` with its payload from `staged_payload`: one received version of one
/// record, verbatim.
package struct StagedRowRecord: FetchableRecord {
    /// The columns of ``select`` in its order, as another store (PostgreSQL) reads them.
    package typealias Values = (
        Int64, String, String, String, String?, Double?, String, Int64?, Double, String, String?, String?, String?, String?, Int, String?,
        Double, Data, Double?, String?, String, String?
    )

    /// A row read by another store, column for column in the order of ``select``.
    package init(_ c: Values) throws {
        (id, system, resourceType, sourceID, version, lastUpdated, contentHash, jobID, receivedAt, status) = (c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9)
        (errorCode, errorMessage, errorFields, errorBody, attemptCount, note, updatedAt, payload) = (c.10, c.11, c.12, c.13, c.14, c.15, c.16, c.17)
        payloadPurgedAt = c.18
        further = try LinkErrorColumns.further(c.19)
        kind = try Self.kind(c.20)
        survivorID = c.21
    }

    /// Decoded by column position, not name: claims read thousands of rows at a time.
    package init(row: Row) throws {
        id = row[0]
        system = row[1]
        resourceType = row[2]
        sourceID = row[3]
        version = row[4]
        lastUpdated = row[5]
        contentHash = row[6]
        jobID = row[7]
        receivedAt = row[8]
        status = row[9]
        errorCode = row[10]
        errorMessage = row[11]
        errorFields = row[12]
        errorBody = row[13]
        attemptCount = row[14]
        note = row[15]
        updatedAt = row[16]
        payload = row[17]
        payloadPurgedAt = row[18]
        further = try LinkErrorColumns.further(row[19])
        kind = try Self.kind(row[20])
        survivorID = row[21]
    }

    /// The kind column read strictly: a value this build does not know is an error, never a default.
    static func kind(_ text: String) throws -> RecordKind { try StoredValue.decode(text, "staged_row.kind") }

    /// Selects what `init(row:)` reads; add a `WHERE` on `staged_row`'s columns.
    package static let select = """
        SELECT staged_row.id, system, resourceType, sourceID, version, lastUpdated, contentHash, jobID, receivedAt, status, errorCode, \
            errorMessage, errorFields, errorBody, attemptCount, note, updatedAt, staged_payload.payload, payloadPurgedAt, \
            errorFurther, kind, survivorID
        FROM staged_row JOIN staged_payload ON staged_payload.rowID = staged_row.id
        """

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
    var errorCode: String?
    var errorMessage: String?
    var errorFields: String?
    var errorBody: String?
    var attemptCount: Int
    var note: String?
    var updatedAt: Double
    var payload: Data
    var payloadPurgedAt: Double?
    var further: [LinkError]
    var kind: RecordKind
    var survivorID: String?

    /// The row of a store that keeps payloads in the clear.
    package func row() throws -> StagedRow { try row(nil) }

    /// The row, its payload opened by `cipher` when the store is encrypted.
    package func row(_ cipher: StoreCipher?) throws -> StagedRow {
        let bytes = [UInt8](payload)
        let opened = try cipher?.openPayload(bytes, contentHash: contentHash, row: id) ?? bytes
        var row = try StagedRow(
            id: id, system: StoredValue.decode(system, "staged_row.system"), resourceType: resourceType, sourceID: sourceID, version: version,
            lastUpdated: lastUpdated.map(Date.init(timeIntervalSince1970:)), contentHash: contentHash, jobID: jobID,
            receivedAt: Date(timeIntervalSince1970: receivedAt), status: StoredValue.decode(status, "staged_row.status"), payload: opened,
            error: LinkErrorColumns.error(code: errorCode, message: errorMessage, fields: errorFields, body: errorBody, further: further), attemptCount: attemptCount,
            note: note, updatedAt: Date(timeIntervalSince1970: updatedAt))
        row.payloadPurgedAt = payloadPurgedAt.map(Date.init(timeIntervalSince1970:))
        row.kind = kind
        row.survivorID = survivorID
        return row
    }

    /// A summary's columns, as ``summaryColumns`` lists them.
    package typealias SummaryColumns = (
        Int64, String, String, String, String?, Double?, Int64?, Double, String, String?, String?, Int, Double, String, String?
    )

    /// The columns of ``SummaryColumns`` in its order, on `staged_row`.
    package static let summaryColumns = """
        staged_row.id, staged_row.system, staged_row.resourceType, staged_row.sourceID, staged_row.version, staged_row.lastUpdated, \
        staged_row.jobID, staged_row.receivedAt, staged_row.status, staged_row.errorCode, staged_row.errorMessage, staged_row.attemptCount, \
        staged_row.updatedAt, staged_row.kind, staged_row.survivorID
        """

    /// A row without its payload; an unknown system, status or kind is an error naming the column.
    package static func summary(_ c: SummaryColumns) throws -> StagedRowSummary {
        try StagedRowSummary(
            id: c.0, system: StoredValue.decode(c.1, "staged_row.system"), resourceType: c.2, sourceID: c.3, version: c.4,
            lastUpdated: c.5.map(Date.init(timeIntervalSince1970:)), jobID: c.6, receivedAt: Date(timeIntervalSince1970: c.7),
            status: StoredValue.decode(c.8, "staged_row.status"), errorCode: c.9, errorMessage: c.10, attemptCount: c.11,
            updatedAt: Date(timeIntervalSince1970: c.12), kind: kind(c.13), survivorID: c.14)
    }

    static func summary(_ row: Row) throws -> StagedRowSummary {
        var summary = try summary(
            (row["id"], row["system"], row["resourceType"], row["sourceID"], row["version"], row["lastUpdated"], row["jobID"], row["receivedAt"],
             row["status"], row["errorCode"], row["errorMessage"], row["attemptCount"], row["updatedAt"], row["kind"], row["survivorID"]))
        if row.hasColumn("personName"), let name: String = row["personName"], !name.isEmpty { summary.personName = name }
        return summary
    }
}

/// How a `LinkError` is spread over four columns (code, message, fields, body), and on a staged
/// row a fifth: the record's further problems (`errorFurther`, a JSON array of
/// `{"code","message","fields","remoteBody"?}`, NULL for none).
package enum LinkErrorColumns {
    package static func error(code: String?, message: String?, fields: String?, body: String?, further: [LinkError] = []) -> LinkError? {
        guard let code else { return nil }
        let fieldList = fields.map { $0.split(separator: ",").map(String.init) } ?? []
        return LinkError(code: code, message: message ?? "", fields: fieldList, remoteBody: body, further: further)
    }

    /// The `errorFurther` column of an error: nil when it has no further problems.
    package static func further(_ error: LinkError?) -> String? {
        guard let error, !error.further.isEmpty else { return nil }
        return JSONWriter.compactString(
            .array(
                error.further.map { problem in
                    var entry: JSONObject = [
                        "code": .string(problem.code), "message": .string(problem.message), "fields": .array(problem.fields.map(JSONValue.string)),
                    ]
                    if let body = problem.remoteBody { entry["remoteBody"] = .string(body) }
                    return .object(entry)
                }))
    }

    /// The further problems an `errorFurther` column holds; a value this build cannot read is an
    /// error, never an empty list.
    package static func further(_ column: String?) throws -> [LinkError] {
        guard let column else { return [] }
        let unreadable = UnreadableValue(column: "staged_row.errorFurther", value: String(column.prefix(80)))
        guard let entries = (try? JSONValue(parsing: Array(column.utf8)))?.arrayValue else { throw unreadable }
        return try entries.map { entry in
            guard let code = entry["code"]?.stringValue, let message = entry["message"]?.stringValue,
                let fields = entry["fields"]?.arrayValue?.map(\.stringValue), !fields.contains(nil)
            else { throw unreadable }
            return LinkError(code: code, message: message, fields: fields.compactMap { $0 }, remoteBody: entry["remoteBody"]?.stringValue)
        }
    }

    package static func fields(_ error: LinkError?) -> String? {
        guard let error, !error.fields.isEmpty else { return nil }
        return error.fields.joined(separator: ",")
    }
}
