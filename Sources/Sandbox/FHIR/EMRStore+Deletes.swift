/// Deletion, the type-level history, and Patient merges, as FHIR R4 and the Bulk Data IG describe them:
///
/// - `DELETE [type]/[id]` (R4 http.html#delete) makes a new version that is a deletion: a later read
///   answers 410 Gone, searches leave the resource out, its earlier versions stay readable by vread,
///   and deleting it again has no effect (200). An update afterwards brings it back as a new version.
/// - `GET [type]/_history?_since=` (R4 http.html#history) lists every version made at or after
///   `_since`, newest first, in a Bundle of type `history`; a deletion is an entry with
///   `request.method = DELETE` and no resource.
/// - A bulk export with `_since` lists the resources deleted since then in the manifest's `deleted`
///   array (Bulk Data IG v2 "Response - Complete Status"): NDJSON files of `transaction` Bundles whose
///   entries hold `request.method = DELETE` and `request.url = [type]/[id]`.
/// - A Patient merge (R4 `Patient.link`, code system `link-type`): the loser "must no longer be used"
///   and points to the survivor with `link.type = replaced-by`, and is made inactive; the survivor
///   points back with `link.type = replaces`. R4 has no merge operation; the EHR's own user
///   interface merges, so only the mutation driver and the inspection API do.
extension EMRStore {
    /// One version of a resource as the history interaction lists it.
    struct HistoryItem: Sendable {
        var type: String
        var id: String
        var version: Int
        var lastUpdated: SandboxInstant
        var deleted: Bool
        /// The version's bytes; nil for a deletion.
        var encoded: [UInt8]?
    }

    /// A deletion as a bulk export's `deleted` file lists it.
    struct Deletion: Sendable {
        var type: String
        var id: String
        var at: SandboxInstant
    }

    /// Deletes `type/id` as a new version; the entry after the call. Nil when the resource was never
    /// known; an already deleted resource is left as it is.
    func delete(_ type: String, id: String, actor: String, endpoint: SandboxEndpoint? = .fhirDelete)
        -> FHIRResourceEntry?
    {
        let instant = clock.now()
        let outcome = state.withLock { state -> (FHIRResourceEntry, Bool)? in
            guard var entry = state.resources[type]?[id] else { return nil }
            if entry.isDeleted { return (entry, false) }
            entry.history.append(entry.resource)
            entry.versionID += 1
            entry.lastUpdated = instant
            entry.resource = Self.stamped([:], type: type, id: id, version: entry.versionID, at: instant)
            entry.encoded = WireJSON.object(entry.resource).serialized()
            entry.isRaw = false
            entry.deletedVersions.insert(entry.versionID)
            state.store(entry, type: type, id: id)
            return (entry, true)
        }
        guard let (entry, changed) = outcome else { return nil }
        if changed {
            ledger.record(
                [
                    WriteRecord(
                        at: instant, system: .fhir, type: type, id: id, operation: "delete", actor: actor,
                        endpoint: endpoint, changes: [:])
                ], mutation: endpoint == nil)
        }
        return entry
    }

    /// Merges Patient `loser` into `survivor`: the loser becomes inactive with a `replaced-by` link to
    /// the survivor, the survivor gains a `replaces` link to the loser; both are new versions.
    func mergePatients(survivor: String, loser: String, actor: String) throws(FHIRError) {
        guard survivor != loser, let kept = liveEntry("Patient", survivor), let merged = liveEntry("Patient", loser) else {
            throw FHIRError(status: 404, code: "not-found", diagnostics: "A merge needs two live, different Patients")
        }
        var loserResource = merged.resource
        loserResource["active"] = false
        loserResource["link"] = [["other": ["reference": .string("Patient/\(survivor)")], "type": "replaced-by"]]
        var survivorResource = kept.resource
        var links = survivorResource["link"]?.arrayValue ?? []
        links.append(["other": ["reference": .string("Patient/\(loser)")], "type": "replaces"])
        survivorResource["link"] = .array(links)
        _ = try update(loserResource, type: "Patient", id: loser, ifMatch: nil, actor: actor, endpoint: nil)
        _ = try update(survivorResource, type: "Patient", id: survivor, ifMatch: nil, actor: actor, endpoint: nil)
    }

    /// Every version of `type` (of the resource `id` alone when given) made at or after `since`
    /// (all when nil), newest first.
    func history(_ type: String, id only: String? = nil, since: SandboxInstant?) -> [HistoryItem] {
        state.withLock { state in
            var items: [HistoryItem] = []
            for id in only.map({ [$0] }) ?? state.order[type] ?? [] {
                guard let entry = state.resources[type]?[id] else { continue }
                for (index, old) in entry.history.enumerated() {
                    let version = index + 1
                    guard let at = old["meta"]?["lastUpdated"]?.stringValue.flatMap({ SandboxInstant(iso8601: $0) }),
                        since.map({ !(at < $0) }) ?? true
                    else { continue }
                    let deleted = entry.deletedVersions.contains(version)
                    items.append(
                        HistoryItem(
                            type: type, id: id, version: version, lastUpdated: at, deleted: deleted,
                            encoded: deleted ? nil : WireJSON.object(old).serialized()))
                }
                if since.map({ !(entry.lastUpdated < $0) }) ?? true {
                    items.append(
                        HistoryItem(
                            type: type, id: id, version: entry.versionID, lastUpdated: entry.lastUpdated,
                            // Planted raw bytes are what search and read serve (SandboxInspection);
                            // the history lists that version by its identity only.
                            deleted: entry.isDeleted,
                            encoded: entry.isDeleted ? nil : entry.isRaw ? WireJSON.object(entry.resource).serialized() : entry.encoded))
                }
            }
            return items.enumerated().sorted { left, right in
                left.element.lastUpdated != right.element.lastUpdated
                    ? right.element.lastUpdated < left.element.lastUpdated : left.offset > right.offset
            }.map(\.element)
        }
    }

    /// Keeps a history listing for paging; its token.
    func keepHistory(_ items: [HistoryItem]) -> String {
        state.withLock { state in
            state.snapshotSequence += 1
            let token = "history-\(state.snapshotSequence)"
            state.historySnapshots[token] = items
            state.historyOrder.append(token)
            if state.historyOrder.count > 50 { state.historySnapshots[state.historyOrder.removeFirst()] = nil }
            return token
        }
    }

    /// A kept history listing; nil when unknown or expired.
    func keptHistory(_ token: String) -> [HistoryItem]? {
        state.withLock { $0.historySnapshots[token] }
    }

    /// The resources of `types` whose current version is a deletion made after `since`, oldest first.
    func deletions(types: [String], since: SandboxInstant) -> [Deletion] {
        state.withLock { state in
            types.flatMap { type in
                (state.order[type] ?? []).compactMap { id -> Deletion? in
                    guard let entry = state.resources[type]?[id], entry.isDeleted, since < entry.lastUpdated else {
                        return nil
                    }
                    return Deletion(type: type, id: id, at: entry.lastUpdated)
                }
            }.sorted { $0.at < $1.at }
        }
    }
}
