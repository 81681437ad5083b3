import Foundation
import StagelinkEngine

/// Cuts one searchset Bundle into records, each entry's resource with its exact bytes, and reads
/// its `next` link and `total`.
///
/// An entry whose resource is damaged (no id, elements of the wrong type) is still handed on with
/// what could be read, so that it is staged and fails visibly; only entries the server marks as
/// `search.mode = outcome` (warnings about the search itself) are not records.
enum BundlePage {
    static func records(in body: [UInt8], type: String) throws(RemoteCallError) -> SourcePage {
        let bundle: JSONValue
        let ranges: [Range<Int>]
        do {
            bundle = try JSONValue(parsing: body)
            ranges = try JSONParser.ranges(of: ["entry", .each, "resource"], in: body)
        } catch {
            throw FHIRErrors.malformed("the search Bundle is not valid JSON: \(error)")
        }
        guard bundle["resourceType"]?.stringValue == "Bundle" else { throw FHIRErrors.malformed("the search answer is not a Bundle") }
        var resources = ranges.makeIterator()
        var records: [IncomingRecord] = []
        for entry in bundle["entry"]?.arrayValue ?? [] {
            guard let resource = entry["resource"], let range = resources.next() else { continue }
            if entry["search"]?["mode"]?.stringValue == "outcome" { continue }
            let payload = Array(body[range])
            records.append(ResourceIdentity(resource).record(type: type, payload: payload, fullURL: entry["fullUrl"]?.stringValue))
        }
        let next = bundle["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
        var total: Int?
        if case .number(let lexeme)? = bundle["total"] { total = Int(lexeme) }
        return SourcePage(records: records, next: next.map(PageCursor.init), total: total)
    }
}
