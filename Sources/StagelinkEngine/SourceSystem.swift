/// One of the two systems Stagelink keeps in sync.
public enum SourceSystem: String, Sendable, Hashable, Codable, CaseIterable {
    /// The clinical EMR, spoken to through FHIR R4.
    case emr
    /// The Salesforce org, spoken to through its REST API.
    case salesforce

    /// The system on the other side of a sync.
    public var other: SourceSystem { self == .emr ? .salesforce : .emr }
}
