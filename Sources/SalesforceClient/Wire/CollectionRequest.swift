import StagelinkEngine

/// The bodies of sObject Collections calls and the reading of their per-record answers.
///
/// A field named `Contact__r.EMR_Patient_Id__c` is a reference by external id, sent nested:
/// `"Contact__r": {"EMR_Patient_Id__c": "p-1"}`.
enum CollectionRequest {
    /// `{"allOrNone":false,"records":[{"attributes":{"type":…},…}]}` for an upsert.
    static func upsertBody(object: String, records: [TargetRecord]) -> [UInt8] {
        body(records.map { record(object: object, id: nil, fields: $0.fields) })
    }

    /// The same for an update by id.
    static func updateBody(object: String, records: [TargetRecordUpdate]) -> [UInt8] {
        body(records.map { record(object: object, id: $0.id, fields: $0.fields) })
    }

    private static func body(_ records: [JSONValue]) -> [UInt8] {
        JSONWriter.compact(["allOrNone": false, "records": .array(records)])
    }

    private static func record(object: String, id: String?, fields: [MappedField]) -> JSONValue {
        var record = JSONObject(["attributes": ["type": .string(object)]])
        if let id { record["id"] = .string(id) }
        for field in fields {
            set(field.value.json, at: field.name.split(separator: ".").map(String.init)[...], in: &record)
        }
        return .object(record)
    }

    private static func set(_ value: JSONValue, at path: ArraySlice<String>, in object: inout JSONObject) {
        guard let key = path.first else { return }
        guard path.count > 1 else {
            object[key] = value
            return
        }
        var nested = object[key]?.objectValue ?? JSONObject()
        set(value, at: path.dropFirst(), in: &nested)
        object[key] = .object(nested)
    }

    /// The per-record results, in the order of the records sent; each failure keeps its own
    /// result object verbatim as the remote body.
    static func results(in body: [UInt8], expected count: Int) throws(RemoteCallError) -> [RecordResult] {
        let items: [JSONValue]
        let ranges: [Range<Int>]
        do {
            items = try JSONValue(parsing: body).arrayValue ?? []
            ranges = try JSONParser.ranges(of: [.each], in: body)
        } catch {
            throw SalesforceErrors.malformed("the collection answer is not valid JSON: \(error)")
        }
        guard items.count == count, ranges.count == count else {
            throw SalesforceErrors.malformed("the collection answer has \(items.count) results for \(count) records")
        }
        return zip(items, ranges).map { item, range in
            let remoteBody = String(decoding: body[range], as: UTF8.self)
            if item["success"] == .bool(true), let id = item["id"]?.stringValue {
                return .success(id: id, created: item["created"] == .bool(true))
            }
            let error = SalesforceErrors.linkError(errorsIn: item["errors"], codeKey: "statusCode", remoteBody: remoteBody)
                ?? LinkError(.unknownFailure, message: "Salesforce reported neither success nor an error", remoteBody: remoteBody)
            return .failure(error)
        }
    }
}
