import Foundation
import StagelinkEngine

/// What identifies a resource's version: `id`, `meta.versionId`, `meta.lastUpdated`, read
/// leniently so that a damaged resource still yields what it has.
struct ResourceIdentity: Sendable, Hashable {
    var resourceType: String?
    var id: String?
    var versionID: String?
    var lastUpdated: Date?
    /// A Patient merged away: it has a `link` of type `replaced-by` (FHIR R4 `link-type`: "The
    /// patient resource containing this link must no longer be used"); it is staged as a merge.
    var mergedAway = false
    /// The id of the Patient its `replaced-by` link names, when that is a FHIR id of the same type.
    var replacedBy: String?

    init(_ resource: JSONValue?) {
        self.init(
            resourceType: resource?["resourceType"], id: resource?["id"], versionID: resource?["meta"]?["versionId"],
            lastUpdated: resource?["meta"]?["lastUpdated"], link: resource?["link"])
    }

    /// The identity read from a resource's bytes without building the resource (one checking
    /// pass; only these values are built: `link` is absent from most resources).
    /// Bytes that are not well-formed JSON have none.
    init(bytes: [UInt8]) {
        let found = try? JSONParser.values(at: Self.paths, in: bytes)
        self.init(resourceType: found?[0], id: found?[1], versionID: found?[2], lastUpdated: found?[3], link: found?[4])
    }

    private static let paths: [[JSONParser.PathStep]] = [["resourceType"], ["id"], ["meta", "versionId"], ["meta", "lastUpdated"], ["link"]]

    private init(resourceType: JSONValue?, id: JSONValue?, versionID: JSONValue?, lastUpdated: JSONValue?, link: JSONValue?) {
        self.resourceType = resourceType?.stringValue
        self.id = id?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        self.versionID = versionID?.stringValue
        self.lastUpdated = lastUpdated?.stringValue.flatMap(Timestamp.parse)
        if self.resourceType == "Patient", let link = link?.arrayValue?.first(where: { $0["type"]?.stringValue == "replaced-by" }) {
            mergedAway = true
            let reference = link["other"]?["reference"]?.stringValue ?? ""
            let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count >= 2, parts[parts.count - 2] == "Patient", FHIRID.isValid(String(parts[parts.count - 1])) {
                replacedBy = String(parts[parts.count - 1])
            }
        }
    }

    /// The record handed to the engine, identified by its id, else by the last segment of
    /// `fullUrl`, else by a hash of its bytes. It is staged as the type that was asked for, so
    /// that a resource of another type in the answer fails visibly with its mapping instead of
    /// waiting, unlinked, under a type no mapping reads.
    ///
    /// An entry whose RESTful `fullUrl` (`…/Patient/hx-1/_history/2`) names another id or type
    /// than its resource holds is staged under the id its `fullUrl` names (or, when that is not a
    /// FHIR id of the type asked for, under a hash of its bytes), never under the id its body
    /// claims: the mapper then sees the body's id differ from the staged one and fails the row
    /// alone with `IDENTITY_MISMATCH`, instead of writing into the record the body claims to be
    /// (FHIR R4 `Bundle.entry.fullUrl`: "The fullUrl SHALL NOT disagree with the id in the
    /// resource - i.e. if the fullUrl is not a urn:uuid, the URL shall be version-independent URL
    /// consistent with the Resource.id").
    func record(type: String, payload: [UInt8], fullURL: String?) -> IncomingRecord {
        let location = fullURL.flatMap(Self.location(of:))
        let sourceID: String
        if let location, let id, location.id != id || location.type != (resourceType ?? location.type) {
            sourceID = location.type == type && FHIRID.isValid(location.id) ? location.id : "mismatch-" + ContentHash.sha256Hex(payload).prefix(16)
        } else {
            // Hashed only when nothing else names the resource: staging hashes every line already.
            sourceID = id ?? fullURL.flatMap { $0.split(separator: "/").last.map(String.init) } ?? "unidentified-" + ContentHash.sha256Hex(payload).prefix(16)
        }
        return IncomingRecord(
            system: .emr, resourceType: type, sourceID: sourceID, version: versionID, lastUpdated: lastUpdated,
            payload: payload, kind: mergedAway ? .merge : .record, survivorID: replacedBy)
    }

    /// The type and id a RESTful `fullUrl` names (`[base]/Patient/123`, optionally followed by
    /// `/_history/<version>`); nil for `urn:uuid:` and other non-RESTful forms.
    static func location(of fullURL: String) -> (type: String, id: String)? {
        var segments = fullURL.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.count >= 4, segments[segments.count - 2] == "_history" { segments.removeLast(2) }
        guard segments.count >= 2, let type = segments.dropLast().last, let first = type.unicodeScalars.first,
            ("A"..."Z").contains(first), type.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("a"..."z").contains($0) })
        else { return nil }
        return (type, segments[segments.count - 1])
    }
}
