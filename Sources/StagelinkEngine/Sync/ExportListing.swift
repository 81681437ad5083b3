import Foundation

/// A reconciliation's listing of an EHR pulled by Bulk Data export: a certified EHR refuses the
/// population search the listing otherwise is, and offers the Group export instead
/// (docs/emr-profiles.md). One full export (no `_since`) of the type, asking `_elements=id,meta`
/// (Bulk Data IG v2 kick-off, optional for servers: "the server SHOULD omit unlisted,
/// non-mandatory elements" and mark the resources `SUBSETTED`), lists every record with its
/// version; the records that differ are then read by `_id` and the missing ones' instance
/// histories asked for deletions, as with a search listing (``Reconciler``).
///
/// A server that does not support `_elements` "SHOULD return an error … so the client can
/// re-submit the request omitting the `_elements` parameter": the export is asked again for whole
/// resources. An export whose manifest reports errors lists the type incompletely: the
/// reconciliation of that type stops there rather than hold present records as deletion candidates.
///
/// For example:
///
/// ```swift
/// var reconciler = Reconciler(store: store, source: emr)
/// reconciler.export = ExportListing(source: emr, settings: BulkPullSettings(group: "all-patients"))
/// ```
public struct ExportListing: Sendable {
    public var source: any BulkExportSource
    public var settings: BulkPullSettings
    /// What the export is asked to keep of each resource: its id and `meta` (versionId, lastUpdated).
    public static let elements = ["id", "meta"]

    public init(source: any BulkExportSource, settings: BulkPullSettings) {
        self.source = source
        self.settings = settings
    }

    /// Every record of `type` as a full export lists it, as one page.
    func page(of type: String, store: any StagingStore, recorder: JobRecorder, stop: StopSignal) async throws -> SourcePage {
        await recorder.progress(phase: "reconciling \(type): export kicking off")
        let statusURL = try await kickOff(BulkExportRequest(group: settings.group, types: [type], since: nil, elements: Self.elements), recorder: recorder)
        let puller = BulkPuller(store: store, source: source, settings: settings)
        let manifest = try await puller.waitForManifest(
            BulkExportProgress(system: source.system, statusURL: statusURL, since: nil, kickedOffAt: Date()), recorder: recorder, stop: stop)
        var errors: [String] = []
        for url in manifest.errors { errors += try await source.errorMessages(url) }
        if !errors.isEmpty {
            await recorder.addExportErrors(errors)
            throw ExportListingIncomplete(type: type, errors: errors)
        }
        var records: [IncomingRecord] = []
        for file in manifest.output where file.type == type {
            if stop.isRequested { throw SyncStopped() }
            try await source.readFile(file, batchSize: 1000) { records += $0 }
        }
        return SourcePage(records: records, next: nil, total: records.count)
    }

    /// Kicks the export off; refused for its `_elements`, it is asked again for whole resources.
    private func kickOff(_ request: BulkExportRequest, recorder: JobRecorder) async throws -> String {
        let refusal: RemoteCallError
        do {
            return try await source.kickOff(request)
        } catch {
            refusal = error
        }
        guard refusal.kind == .rejected, refusal.error.message.contains("_elements") else { throw refusal }
        await recorder.event(.info, "the EMR refused _elements (\(refusal.error.message)): the export lists whole resources")
        var whole = request
        whole.elements = []
        return try await source.kickOff(whole)
    }
}

/// An export that reported errors in its manifest: it may have left records out, so none of the
/// type is taken for missing.
public struct ExportListingIncomplete: Error, Sendable, CustomStringConvertible {
    public var type: String
    public var errors: [String]

    public var description: String {
        "the export listing \(type) reported \(errors.count) \(errors.count == 1 ? "error" : "errors") (\(errors.prefix(3).joined(separator: "; "))): "
            + "\(type) was not reconciled, so that no record it left out is held as a deletion candidate"
    }
}
