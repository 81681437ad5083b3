/// One record the seed made, and whether the engine should carry it across or fail on it.
///
/// For example:
///
/// ```swift
/// for record in sandbox.inspection.truth() where !record.isGood {
///     print(record.type, record.id, record.fault!.field)  // "Patient 1004 Birthdate"
/// }
/// ```
public struct SeededRecord: Sendable, Hashable {
    public var system: SandboxSystem
    /// The FHIR resource type or Salesforce object.
    public var type: String
    public var id: String
    /// Why the record is bad; nil for a good record.
    public var fault: SeededFault?
    /// The security label that must keep this record from the other side (`42CFRPart2`): the
    /// default mapping withholds it. nil for a record that may be sent.
    public var withheldBy: String? = nil

    /// Whether the record is well formed (a withheld record is good, and still never arrives).
    public var isGood: Bool { fault == nil }

    /// Whether the record should arrive on the other side.
    public var shouldArrive: Bool { fault == nil && withheldBy == nil }
}

/// What is wrong with a bad seeded record.
public struct SeededFault: Sendable, Hashable {
    public var kind: BadRecordKind
    /// The Salesforce field at fault (`LastName`, `Birthdate`, `Contact__c`…), as the mapping names it.
    public var field: String
    /// The source element at fault (`Patient.birthDate`, `Admission__c.Contact__c`).
    public var element: String
}

/// The kinds of bad records the seed plants; with a bad share above 0, each appears at least once.
public enum BadRecordKind: String, CaseIterable, Sendable, Hashable {
    /// A Patient without a family name (Contact.LastName is required).
    case missingFamilyName = "missing-family-name"
    /// A Patient whose birthDate is not a calendar date (`1985-13-45`).
    case invalidBirthDate = "invalid-birth-date"
    /// A Patient whose birthDate is a FHIR partial date (`1974-11`): valid FHIR, but no full date
    /// for Contact.Birthdate, which the default mapping's `partial: reject` refuses.
    case partialBirthDate = "partial-birth-date"
    /// A Patient whose gender is not a FHIR administrative-gender code.
    case unknownGender = "unknown-gender"
    /// A Patient whose family name is longer than Contact.LastName allows.
    case oversizeName = "oversize-name"
    /// A QuestionnaireResponse whose item answers and total are out of the instrument's range.
    case scoreOutOfRange = "score-out-of-range"
    /// A QuestionnaireResponse whose subject is a Patient that does not exist.
    case danglingPatientReference = "dangling-patient-reference"
    /// An Admission__c at Ready for Intake with no Contact__c.
    case admissionWithoutContact = "admission-without-contact"

    /// What is wrong, named as a mapping onto `people` names it (`Birthdate` on a Contact,
    /// `PersonBirthdate` on a person account).
    func fault(for people: SalesforcePeople) -> SeededFault {
        switch self {
        case .missingFamilyName: SeededFault(kind: self, field: people.field("LastName"), element: "Patient.name[0].family")
        case .invalidBirthDate, .partialBirthDate: SeededFault(kind: self, field: people.field("Birthdate"), element: "Patient.birthDate")
        case .unknownGender: SeededFault(kind: self, field: people.field("Gender__c"), element: "Patient.gender")
        case .oversizeName: SeededFault(kind: self, field: people.field("LastName"), element: "Patient.name[0].family")
        case .scoreOutOfRange: SeededFault(kind: self, field: "Score__c", element: "QuestionnaireResponse.item")
        case .danglingPatientReference:
            SeededFault(kind: self, field: people.patientReference, element: "QuestionnaireResponse.subject")
        case .admissionWithoutContact:
            SeededFault(kind: self, field: people.admissionField, element: "Admission__c.\(people.admissionField)")
        }
    }
}
