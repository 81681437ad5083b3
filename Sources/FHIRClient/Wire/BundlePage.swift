import Foundation
import StagelinkEngine

/// Cuts one searchset Bundle into records, each entry's resource with its exact bytes, and reads
/// its `next` link and `total`.
///
/// An entry whose resource is damaged (no id, elements of the wrong type) is still handed on with
/// what could be read, so that it is staged and fails visibly; only entries the server marks as
/// `search.mode = outcome` (warnings about the search itself) are not records. A resource that is
/// not even valid JSON makes the whole Bundle invalid; its entry is then cut out by the Bundle's
/// frame (`BundleSalvage`) and handed on as received, named by its `fullUrl`, while the entries
/// around it are read as usual. Only a Bundle without a frame (truncated) fails as a whole.
enum BundlePage {
    /// - Parameter appliedParameters: the parameters the search's `Bundle.link[self]` must show for
    ///   the page to count as ordered (``SourcePage/isOrdered``); empty for a later page.
    static func records(in body: [UInt8], type: String, appliedParameters: Set<String> = []) throws(RemoteCallError) -> SourcePage {
        let bundle: JSONValue
        let ranges: [Range<Int>]
        do {
            bundle = try JSONValue(parsing: body)
            ranges = try JSONParser.ranges(of: ["entry", .each, "resource"], in: body)
        } catch {
            guard let frame = BundleSalvage.frame(of: body) else {
                throw FHIRErrors.malformed("the search Bundle is not valid JSON: \(error)")
            }
            return try salvaged(frame, body: body, type: type, error: error, appliedParameters: appliedParameters)
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
        return SourcePage(records: records, next: nextLink(bundle["link"]), total: total(bundle["total"]),
            isOrdered: applied(appliedParameters, in: bundle["link"]))
    }

    /// The records of a Bundle that is invalid JSON but has a frame: each entry read on its own.
    private static func salvaged(
        _ frame: BundleSalvage.Frame, body: [UInt8], type: String, error: any Error, appliedParameters: Set<String>
    ) throws(RemoteCallError) -> SourcePage {
        func value(_ range: Range<Int>?) -> JSONValue? { range.flatMap { try? JSONValue(parsing: body[$0]) } }
        guard value(frame.resourceType)?.stringValue == "Bundle" else {
            throw FHIRErrors.malformed("the search Bundle is not valid JSON: \(error)")
        }
        // Paging must be read exactly: a damaged link section fails the page.
        let link = value(frame.link)
        guard frame.link == nil || link != nil else { throw FHIRErrors.malformed("the search Bundle's links are not valid JSON: \(error)") }
        var records: [IncomingRecord] = []
        for entry in frame.entries {
            guard let range = entry.resource else { continue }
            if value(entry.search)?["mode"]?.stringValue == "outcome" { continue }
            let payload = Array(body[range])
            records.append(ResourceIdentity(bytes: payload).record(type: type, payload: payload, fullURL: value(entry.fullURL)?.stringValue))
        }
        return SourcePage(records: records, next: nextLink(link), total: total(value(frame.total)),
            isOrdered: applied(appliedParameters, in: link))
    }

    /// Whether `Bundle.link[self]` names every one of `parameters` (what the server applied, FHIR
    /// R4 search §3.1.1.1.3); a server that dropped one did not do what it was asked.
    private static func applied(_ parameters: Set<String>, in links: JSONValue?) -> Bool {
        guard !parameters.isEmpty else { return true }
        guard let link = links?.arrayValue?.first(where: { $0["relation"]?.stringValue == "self" })?["url"]?.stringValue,
            let components = URLComponents(string: link)
        else { return false }
        return parameters.isSubset(of: Set((components.queryItems ?? []).map(\.name)))
    }

    private static func nextLink(_ links: JSONValue?) -> PageCursor? {
        links?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue.map(PageCursor.init)
    }

    private static func total(_ value: JSONValue?) -> Int? {
        if case .number(let lexeme)? = value { return Int(lexeme) }
        return nil
    }
}
