/// Search pages, create (plain and conditional), update (with `If-Match`) and JSON Patch, each
/// write recorded in the ledger.
extension EMRStore {
    /// A searchset page: the snapshot's ids from `offset`, resources as they are now.
    struct Page: Sendable {
        var token: String
        var total: Int
        var offset: Int
        var entries: [(id: String, encoded: [UInt8], resource: WireObject)]
        var hasMore: Bool
    }

    /// Runs a search and keeps its ids as a snapshot that later pages read.
    func search(_ search: FHIRSearch) -> Page {
        state.withLock { state in
            let ids = search.run(Self.candidates(state, for: search))
            state.snapshotSequence += 1
            let token = "search-\(state.snapshotSequence)"
            state.snapshots[token] = SearchSnapshot(type: search.type, ids: ids)
            state.snapshotOrder.append(token)
            if state.snapshotOrder.count > 500 { state.snapshots[state.snapshotOrder.removeFirst()] = nil }
            return Self.page(state, token: token, offset: 0, count: search.summaryCount ? 0 : search.count)
        }
    }

    /// A later page of a snapshot; nil when the snapshot is unknown or expired.
    func page(token: String, offset: Int, count: Int) -> Page? {
        state.withLock { state in
            guard state.snapshots[token] != nil else { return nil }
            return Self.page(state, token: token, offset: offset, count: count)
        }
    }

    private static func page(_ state: State, token: String, offset: Int, count: Int) -> Page {
        let snapshot = state.snapshots[token]!
        let slice = snapshot.ids.dropFirst(offset).prefix(count)
        // A resource deleted since the snapshot was taken is left out of its page.
        let entries = slice.compactMap { id in
            state.resources[snapshot.type]?[id].flatMap { $0.isDeleted ? nil : (id, $0.encoded, $0.resource) }
        }
        return Page(
            token: token, total: snapshot.ids.count, offset: offset, entries: entries,
            hasMore: offset + slice.count < snapshot.ids.count)
    }

    /// The current bytes of every resource of `types` changed after `since` (all when nil), in
    /// storage order, taken in one lock: the snapshot of a Bulk Data export at its `transactionTime`.
    func exportLines(types: [String], since: SandboxInstant?) -> [String: [(id: String, bytes: [UInt8])]] {
        state.withLock { state in
            var lines: [String: [(id: String, bytes: [UInt8])]] = [:]
            for type in types {
                lines[type] = (state.order[type] ?? []).compactMap { id in
                    guard let entry = state.resources[type]?[id], !entry.isDeleted,
                        since.map({ entry.lastUpdated > $0 }) ?? true
                    else { return nil }
                    return (id, entry.encoded)
                }
            }
            return lines
        }
    }

    /// The type a snapshot searched.
    func snapshotType(_ token: String) -> String? {
        state.withLock { $0.snapshots[token]?.type }
    }

    private func recordWrite(_ entry: FHIRResourceEntry, type: String, operation: String, actor: String,
        endpoint: SandboxEndpoint?, previous: WireObject?)
    {
        var changes = WireObject()
        for (key, value) in entry.resource where key != "meta" && previous?[key] != value { changes[key] = value }
        ledger.record(
            [
                WriteRecord(
                    at: entry.lastUpdated, system: .fhir, type: type, id: entry.resource["id"]?.stringValue ?? "",
                    operation: operation, actor: actor, endpoint: endpoint, changes: changes)
            ], mutation: endpoint == nil)
    }

    /// Creates a resource; with `ifNoneExist`, only when no resource matches that search
    /// (the existing one is returned, unchanged, when exactly one does; several are a 412).
    func create(
        _ resource: WireObject, type: String, ifNoneExist: String?, actor: String, endpoint: SandboxEndpoint? = .fhirCreate
    ) throws(FHIRError) -> (entry: FHIRResourceEntry, created: Bool) {
        let condition = try ifNoneExist.map { query throws(FHIRError) in
            try FHIRSearch(type: type, parameters: FormEncoding.decode(query.hasPrefix("?") ? String(query.dropFirst()) : query))
        }
        let instant = clock.now()
        let result = try state.withLock { state throws(FHIRError) -> (FHIRResourceEntry, Bool) in
            if let condition {
                let matches = condition.run(Self.candidates(state, for: condition))
                if matches.count == 1 { return (state.resources[type]![matches[0]]!, false) }
                if matches.count > 1 {
                    throw FHIRError(
                        status: 412, code: "duplicate",
                        diagnostics: "Failed to create: the If-None-Exist search matched \(matches.count) resources")
                }
            }
            var resource = resource
            resource["id"] = nil
            return (Self.insert(&state, resource, type: type, id: nil, at: instant), true)
        }
        if result.1 { recordWrite(result.0, type: type, operation: "create", actor: actor, endpoint: endpoint, previous: nil) }
        return result
    }

    /// Replaces `type/id`, checking `If-Match: W/"n"` against the current version (412 on mismatch).
    func update(
        _ resource: WireObject, type: String, id: String, ifMatch: String?, actor: String,
        endpoint: SandboxEndpoint? = .fhirUpdate
    ) throws(FHIRError) -> (entry: FHIRResourceEntry, created: Bool) {
        let instant = clock.now()
        let (entry, created, changed, previous) = try state.withLock { state throws(FHIRError) in
            let existing = state.resources[type]?[id]
            if let ifMatch { try Self.check(ifMatch, against: existing) }
            let (entry, changed) = Self.replace(&state, resource, type: type, id: id, at: instant)
            return (entry, existing == nil, changed, existing?.resource)
        }
        if changed {
            recordWrite(
                entry, type: type, operation: created ? "create" : "update", actor: actor, endpoint: endpoint,
                previous: previous)
        }
        return (entry, created)
    }

    /// A version-aware write's `If-Match: W/"n"` checked against the current version: 412 when it
    /// names another (FHIR R4 http.html, "Managing Resource Contention").
    static func check(_ ifMatch: String, against existing: FHIRResourceEntry?) throws(FHIRError) {
        let wanted = ifMatch.replacingOccurrences(of: "W/", with: "").replacingOccurrences(of: "\"", with: "")
        guard let existing, String(existing.versionID) == wanted else {
            throw FHIRError(
                status: 412, code: "conflict",
                diagnostics: "Version mismatch: If-Match \(ifMatch) but the current version is "
                    + (existing.map { "W/\"\($0.versionID)\"" } ?? "none"))
        }
    }

    /// Applies a JSON Patch to `type/id` (FHIR R4 http.html#patch): the version `ifMatch` names
    /// must be the current one, the patched resource keeps its type and id and passes `validate`,
    /// and a write that landed in between is a 412 too. All or nothing.
    func patch(
        _ patch: JSONPatch, type: String, id: String, ifMatch: String?, actor: String,
        validate: (WireObject) throws(FHIRError) -> Void
    ) throws(FHIRError) -> FHIRResourceEntry {
        guard let base = entry(type, id), !base.isRaw else { throw FHIRError.notFound(type, id) }
        if let ifMatch { try Self.check(ifMatch, against: base) }
        guard let patched = try patch.applied(to: .object(base.resource)).objectValue,
            patched["resourceType"]?.stringValue == type, patched["id"]?.stringValue == id
        else {
            throw FHIRError(status: 400, code: "invalid", diagnostics: "A patch must leave the resource's type and id as they are")
        }
        try validate(patched)
        let instant = clock.now()
        let (entry, changed) = try state.withLock { state throws(FHIRError) in
            // Another write landed while the patch was applied: the version it was applied to is stale.
            try Self.check("W/\"\(base.versionID)\"", against: state.resources[type]?[id])
            return Self.replace(&state, patched, type: type, id: id, at: instant)
        }
        if changed { recordWrite(entry, type: type, operation: "patch", actor: actor, endpoint: .fhirPatch, previous: base.resource) }
        return entry
    }
}
