import Foundation
import StagelinkEngine

/// What identifies a resource's version: `id`, `meta.versionId`, `meta.lastUpdated`, read
/// leniently so that a damaged resource still yields what it has.
struct ResourceIdentity: Sendable, Hashable {
    var resourceType: String?
    var id: String?
    var versionID: String?
    var lastUpdated: Date?

    init(_ resource: JSONValue?) {
        resourceType = resource?["resourceType"]?.stringValue
        id = resource?["id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        versionID = resource?["meta"]?["versionId"]?.stringValue
        lastUpdated = resource?["meta"]?["lastUpdated"]?.stringValue.flatMap(Timestamp.parse)
    }

    /// The record handed to the engine, identified by its id, else by the last segment of
    /// `fullUrl`, else by a hash of its bytes. It is staged as the type that was asked for, so
    /// that a resource of another type in the answer fails visibly with its mapping instead of
    /// waiting, unlinked, under a type no mapping reads.
    func record(type: String, payload: [UInt8], fullURL: String?) -> IncomingRecord {
        let sourceID = id ?? fullURL.flatMap { $0.split(separator: "/").last.map(String.init) }
            ?? "unidentified-" + ContentHash.sha256Hex(payload).prefix(16)
        return IncomingRecord(
            system: .emr, resourceType: type, sourceID: sourceID, version: versionID, lastUpdated: lastUpdated,
            payload: payload)
    }
}
