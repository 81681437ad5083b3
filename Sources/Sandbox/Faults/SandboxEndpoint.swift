/// The endpoint groups that calls are counted by and faults are injected into.
///
/// For example:
///
/// ```swift
/// try sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .fhirSearch, trigger: .nextCalls(2)))
/// sandbox.inspection.counts().calls[.fhirSearch]
/// ```
public enum SandboxEndpoint: String, CaseIterable, Sendable, Hashable {
    case salesforceToken = "salesforce.token"
    case salesforceQuery = "salesforce.query"
    case salesforceSObjects = "salesforce.sobjects"
    case salesforceCollections = "salesforce.collections"
    /// Bulk API 2.0 ingest: `/jobs/ingest…` (jobs, uploads, results).
    case salesforceBulkIngest = "salesforce.bulk-ingest"
    case fhirToken = "fhir.token"
    case fhirSearch = "fhir.search"
    case fhirRead = "fhir.read"
    case fhirCreate = "fhir.create"
    case fhirUpdate = "fhir.update"
    /// `PATCH [base]/[type]/[id]` with a JSON Patch.
    case fhirPatch = "fhir.patch"
    /// `POST [base]` with a `batch` Bundle (the whole Bundle; each entry also meets the faults of
    /// its own interaction's group).
    case fhirBatch = "fhir.batch"
    /// `DELETE [type]/[id]`.
    case fhirDelete = "fhir.delete"
    /// Bulk Data kick-off: `[base]/$export`, `[base]/Group/[id]/$export`.
    case fhirExport = "fhir.export"
    /// Bulk Data status polls and cancellations.
    case fhirExportStatus = "fhir.export-status"
    /// Bulk Data NDJSON output files.
    case fhirExportFile = "fhir.export-file"

    /// Whether the group belongs to the Salesforce simulator.
    public var isSalesforce: Bool { rawValue.hasPrefix("salesforce.") }

    /// Whether the group is a token endpoint.
    public var isToken: Bool { self == .salesforceToken || self == .fhirToken }
}

/// Which simulator a record lives in.
public enum SandboxSystem: String, Sendable, Hashable, CaseIterable {
    case salesforce
    case fhir
}
