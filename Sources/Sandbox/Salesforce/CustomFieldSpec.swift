/// A custom field the simulated org has: the seam where Stagelink's mapping file feeds the sandbox's schema.
///
/// The defaults mirror `config/mapping.yaml`; a caller holding the engine's parsed mapping can build its own
/// list and pass it as ``SandboxConfiguration/customFields``. For example:
///
/// ```swift
/// let gender = CustomFieldSpec(
///     object: "Contact", name: "Gender__c", type: .picklist, values: ["Male", "Female", "Other", "Unknown"])
/// ```
public struct CustomFieldSpec: Sendable {
    /// The object that has the field (created as a custom object if the org lacks it).
    public var object: String
    /// The field as describe reports it.
    public var field: SObjectField

    /// A custom field; `values` make a restricted picklist, `referenceTo` a lookup named `…__r`.
    public init(
        object: String, name: String, type: SObjectField.FieldType = .string, maxLength: Int? = nil,
        required: Bool = false, values: [String] = [], externalId: Bool = false, unique: Bool = false,
        referenceTo: String? = nil
    ) {
        self.object = object
        let label = name.replacingOccurrences(of: "__c", with: "").replacingOccurrences(of: "_", with: " ")
        let length: Int? =
            switch type {
            case .string, .textarea, .email, .phone: maxLength ?? 255
            case .id, .reference: 18
            default: nil
            }
        self.field = SObjectField(
            name: name, label: label, type: type, length: length, required: required, externalId: externalId,
            unique: unique, picklistValues: values, restrictedPicklist: !values.isEmpty, referenceTo: referenceTo,
            relationshipName: referenceTo == nil ? nil : name.replacingOccurrences(of: "__c", with: "__r"))
    }

    /// The custom fields that `config/mapping.yaml` names, with their types, picklist values and lengths.
    public static let stagelinkDefaults: [CustomFieldSpec] = [
        .init(object: "Contact", name: "EMR_Patient_Id__c", maxLength: 64, externalId: true, unique: true),
        .init(object: "Contact", name: "Gender__c", type: .picklist, values: ["Male", "Female", "Other", "Unknown"]),
        .init(
            object: "Contact", name: "Clinical_Status__c", type: .picklist,
            values: ["Planned", "Waitlist", "Active", "On Hold", "Discharged", "Cancelled"]),
        .init(
            object: "Contact", name: "Level_of_Care__c", type: .picklist,
            values: ["Detox", "Residential", "Partial Hospitalization", "Intensive Outpatient", "Outpatient"]),
        .init(object: "Contact", name: "Admit_Date__c", type: .date),
        .init(object: "Contact", name: "Discharge_Date__c", type: .date),
        .init(object: "Contact", name: "EMR_Deleted__c", type: .boolean),
        .init(object: "Contact", name: "EMR_Merged_Into__c", maxLength: 255),
        .init(object: "Assessment__c", name: "EMR_Deleted__c", type: .boolean),
        .init(object: "Assessment__c", name: "EMR_Assessment_Id__c", maxLength: 64, externalId: true, unique: true),
        .init(object: "Assessment__c", name: "Contact__c", type: .reference, referenceTo: "Contact"),
        .init(object: "Assessment__c", name: "Instrument__c", type: .picklist, values: ["PHQ-9", "GAD-7"]),
        .init(object: "Assessment__c", name: "Score__c", type: .double),
        .init(
            object: "Assessment__c", name: "Severity__c", type: .picklist,
            values: ["Minimal", "Mild", "Moderate", "Moderately Severe", "Severe"]),
        .init(object: "Assessment__c", name: "Completed_At__c", type: .datetime, required: true),
        .init(object: "Admission__c", name: "Contact__c", type: .reference, referenceTo: "Contact"),
        .init(
            object: "Admission__c", name: "Stage__c", type: .picklist, required: true,
            values: ["New", "Screening", "Ready for Intake", "Admitted", "Closed"]),
        .init(object: "Admission__c", name: "Referral_Source__c", maxLength: 120),
        .init(object: "Admission__c", name: "EMR_ServiceRequest_Id__c", maxLength: 64, externalId: true),
    ]
}
