import Foundation
import StagelinkEngine

/// Cuts one query answer (`{"totalSize","done","nextRecordsUrl","records":[…]}`) into records,
/// each with its exact bytes, its `Id` and its `SystemModstamp`.
///
/// A record without a readable `Id` is still handed on, identified by its `attributes.url` or by
/// a hash of its bytes, so that it is staged and fails visibly instead of vanishing.
enum QueryPage {
    static func records(in body: [UInt8], object: String) throws(RemoteCallError) -> SourcePage {
        let document: JSONValue
        let ranges: [Range<Int>]
        do {
            document = try JSONValue(parsing: body)
            ranges = try JSONParser.ranges(of: ["records", .each], in: body)
        } catch {
            throw SalesforceErrors.malformed("the query answer is not valid JSON: \(error)")
        }
        guard let items = document["records"]?.arrayValue, items.count == ranges.count else {
            throw SalesforceErrors.malformed("the query answer has no records list")
        }
        let records = zip(items, ranges).map { item, range in
            let payload = Array(body[range])
            // A QueryAll row in the Recycle Bin: deleted, or the loser of a merge (its MasterRecordId
            // is "set to the ID of the winning record", Apex "Triggers and Merge Statements").
            let master = item["MasterRecordId"]?.stringValue.flatMap { SalesforceID($0)?.description }
            let kind: RecordKind = item["IsDeleted"] == .bool(true) ? (item["MasterRecordId"]?.stringValue != nil ? .merge : .deletion) : .record
            return IncomingRecord(
                system: .salesforce, resourceType: object, sourceID: sourceID(of: item, payload: payload), version: nil,
                lastUpdated: item["SystemModstamp"]?.stringValue.flatMap(Timestamp.parse), payload: payload, kind: kind,
                survivorID: kind == .merge ? master : nil)
        }
        let done = document["done"] == .bool(true)
        let next = done ? nil : document["nextRecordsUrl"]?.stringValue.map(PageCursor.init)
        let total = document["totalSize"].flatMap { value -> Int? in
            if case .number(let lexeme) = value { return Int(lexeme) }
            return nil
        }
        return SourcePage(records: records, next: next, total: total)
    }

    static func sourceID(of record: JSONValue, payload: [UInt8]) -> String {
        if let id = record["Id"]?.stringValue, !id.isEmpty { return id }
        if let url = record["attributes"]?["url"]?.stringValue, let last = url.split(separator: "/").last { return String(last) }
        return "unidentified-" + ContentHash.sha256Hex(payload).prefix(16)
    }
}
