/// The record a staged row depends on, and where it stands: the Patient of an episode or an
/// assessment, the Contact of an admission (declared once, in ``PersonSearch``).
public struct ParentRecord: Sendable, Hashable {
    public var key: SourceKey
    /// The parent's newest staged row; nil when the parent was never staged here.
    public var row: StagedRowSummary?
    /// Whether the parent is linked to the other system (a record link exists).
    public var isLinked: Bool

    public init(key: SourceKey, row: StagedRowSummary?, isLinked: Bool) {
        self.key = key
        self.row = row
        self.isLinked = isLinked
    }

    /// `Patient p12 (row 345, failed UNABLE_TO_LOCK_ROW)`: what a message or a detail line says.
    public var description: String {
        let state =
            row.map { row in "row \(row.id), \(row.status.rawValue)" + (row.errorCode.map { " \($0)" } ?? "") } ?? "not staged here yet"
        return "\(key.resourceType) \(key.sourceID) (\(state))"
    }
}

extension LinkError {
    /// Whether the row waits for its parent to link: not a failure to fix by hand.
    public var isWaitingOnParent: Bool { code == ErrorCode.waitingOnParent.rawValue }

    /// A row whose write failed while its parent was not linked yet: it waits, and links by itself
    /// once the parent links. The other system's own answer is kept as the evidence.
    public static func waitingOnParent(_ parent: ParentRecord, after error: LinkError) -> LinkError {
        LinkError(
            .waitingOnParent,
            message: "waits for its parent \(parent.description) to link; links by itself when it does (\(error.code): \(error.message))",
            fields: error.fields, remoteBody: error.remoteBody)
    }

    /// A row not sent at all because what it would write depends on its parent, which is staged
    /// here and not linked yet (an admission whose Contact's own row failed: the Patient it would
    /// make is that Contact's).
    public static func waitingOnParent(_ parent: ParentRecord, before what: String) -> LinkError {
        LinkError(
            .waitingOnParent,
            message: "waits for its parent \(parent.description) to link before \(what); links by itself when it does")
    }

    /// Whether this failure may be a parent's doing: the other system refused the write (a
    /// missing reference, a required field the parent would have set), not the mapping, and not a
    /// moment's trouble that is retried anyway.
    var mayBeParentsDoing: Bool {
        !isTransient && !code.hasPrefix("MAPPING_") && code != ErrorCode.waitingOnParent.rawValue
    }
}

/// Turns the failures of rows whose parent is not linked into `WAITING_ON_PARENT`, so that they
/// are not counted as failures to fix by hand; the linker links them again once the parent links
/// (``InboundLinker/linkWaitingChildren(recorder:stop:)``, ``OutboundLinker/linkWaitingChildren(recorder:stop:)``).
enum ParentWait {
    static func mark(_ outcomes: [LinkOutcome], store: any RowReader) async throws -> [LinkOutcome] {
        let candidates = outcomes.filter { $0.status == .failed && $0.error?.mayBeParentsDoing == true }.map(\.rowID)
        guard !candidates.isEmpty else { return outcomes }
        let parents = try await store.parents(ofRows: candidates)
        return outcomes.map { outcome in
            // A parent staged here and not linked yet; one never staged (a dangling reference) is
            // nothing to wait for: that failure stays one to look at.
            guard outcome.status == .failed, let error = outcome.error, error.mayBeParentsDoing, let parent = parents[outcome.rowID],
                parent.row != nil, !parent.isLinked
            else { return outcome }
            var waiting = outcome
            waiting.error = .waitingOnParent(parent, after: error)
            return waiting
        }
    }

    /// The parent a row must wait on before anything of it is sent: staged here, not linked yet.
    static func unlinkedParent(of rowID: Int64, store: any RowReader) async throws -> ParentRecord? {
        guard let parent = try await store.parents(ofRows: [rowID])[rowID], parent.row != nil, !parent.isLinked else { return nil }
        return parent
    }

    /// The rows of `system` whose parent linked since they began to wait, claimed again by
    /// `link`, round after round while there are such rows (a parent that links may have children
    /// waiting in turn), at most `rounds` times.
    static func relinkChildren(
        system: SourceSystem, store: any LinkingStore, recorder: JobRecorder, rounds: Int,
        link: ([Int64]) async throws -> Void
    ) async throws {
        var previous: [Int64] = []
        for _ in 0..<rounds {
            let ids = try await store.rowsWaitingOnLinkedParents(system: system, limit: 10_000)
            // None left, or the same ones again (claimed by another linker): nothing more to do now.
            guard !ids.isEmpty, ids != previous else { return }
            previous = ids
            await recorder.event(.info, "\(ids.count) rows waiting on their parent: the parent linked, linking them")
            try await link(ids)
        }
    }
}
