import Foundation

/// The names a mapping file may use for the two systems' types and fields, checked when the file
/// is loaded so that a typo or an injected name (`First Name; DROP`) never reaches a query or a URL.
///
/// For example:
///
/// ```swift
/// MappingNames.salesforceProblem("EMR_Patient_Id__c")   // nil: an API name
/// MappingNames.salesforceProblem("First Name; DROP")    // "…only letters, digits and underscores…"
/// MappingNames.isFHIRResourceType("Patient")            // true
/// ```
public enum MappingNames {
    /// Why `name` is not a Salesforce API name, or nil when it is one. A dotted name
    /// (`Contact__r.EMR_Patient_Id__c`) is a relationship path: each part is checked.
    ///
    /// Salesforce's rules (Object Reference, "Custom Fields" and "Relationships Among Custom
    /// Objects"; Metadata API, `Metadata.fullName`; Help article 000381913): a name begins with a
    /// letter and holds only letters, digits and underscores; it has no two underscores in a row and
    /// does not end with one, except for the suffix a custom field (`__c`), relationship (`__r`) or
    /// person-account field (`__pc`) carries and a managed package's namespace prefix (1–15
    /// letters and digits, then `__`); the name before the suffix is at most 40 characters.
    public static func salesforceProblem(_ name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        for part in parts {
            if let problem = apiNameProblem(part) {
                return parts.count == 1 ? problem : "\"\(part)\" \(problem)"
            }
        }
        return nil
    }

    /// The suffixes Salesforce appends to custom names.
    static let customSuffixes = ["__c", "__r", "__pc"]
    /// Salesforce's limit on a field's name before its suffix.
    public static let longestSalesforceName = 40

    private static func apiNameProblem(_ part: Substring) -> String? {
        guard !part.isEmpty else { return "is empty (a Salesforce API name is required)" }
        guard part.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            return "is not a Salesforce API name: only letters, digits and underscores"
        }
        var base = part
        if let suffix = customSuffixes.first(where: { part.hasSuffix($0) }) {
            base = part.dropLast(suffix.count)
            // A managed package's namespace prefix: `ns__Name__c`.
            if let separator = base.range(of: "__") {
                let namespace = base[..<separator.lowerBound]
                guard (1...15).contains(namespace.count), namespace.first?.isLetter == true,
                    namespace.allSatisfy({ $0.isLetter || $0.isNumber })
                else { return "is not a Salesforce API name: a namespace prefix is 1 to 15 letters and digits" }
                base = base[separator.upperBound...]
            }
        }
        guard let first = base.first, first.isLetter else { return "is not a Salesforce API name: it must begin with a letter" }
        guard !base.contains("__") else { return "is not a Salesforce API name: two underscores in a row are only allowed before c, r or pc" }
        guard base.last != "_" else { return "is not a Salesforce API name: it may not end with an underscore" }
        guard base.count <= longestSalesforceName else {
            return "is not a Salesforce API name: at most \(longestSalesforceName) characters before its suffix"
        }
        return nil
    }

    public static func isFHIRResourceType(_ name: String) -> Bool { fhirResourceTypes.contains(name) }

    /// The resource types of FHIR R4 (4.0.1), from its code system
    /// http://hl7.org/fhir/R4/codesystem-resource-types.html.
    public static let fhirResourceTypes: Set<String> = [
        "Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment", "AppointmentResponse", "AuditEvent",
        "Basic", "Binary", "BiologicallyDerivedProduct", "BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam",
        "CatalogEntry", "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression", "CodeSystem",
        "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition", "ConceptMap", "Condition", "Consent",
        "Contract", "Coverage", "CoverageEligibilityRequest", "CoverageEligibilityResponse", "DetectedIssue", "Device",
        "DeviceDefinition", "DeviceMetric", "DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
        "DocumentReference", "EffectEvidenceSynthesis", "Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse",
        "EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable", "ExampleScenario", "ExplanationOfBenefit",
        "FamilyMemberHistory", "Flag", "Goal", "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy",
        "Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide", "InsurancePlan", "Invoice",
        "Library", "Linkage", "List", "Location", "Measure", "MeasureReport", "Media", "Medication", "MedicationAdministration",
        "MedicationDispense", "MedicationKnowledge", "MedicationRequest", "MedicationStatement", "MedicinalProduct",
        "MedicinalProductAuthorization", "MedicinalProductContraindication", "MedicinalProductIndication",
        "MedicinalProductIngredient", "MedicinalProductInteraction", "MedicinalProductManufactured", "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect", "MessageDefinition", "MessageHeader",
        "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation", "ObservationDefinition", "OperationDefinition",
        "OperationOutcome", "Organization", "OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice",
        "PaymentReconciliation", "Person", "PlanDefinition", "Practitioner", "PractitionerRole", "Procedure", "Provenance",
        "Questionnaire", "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition", "ResearchElementDefinition",
        "ResearchStudy", "ResearchSubject", "RiskAssessment", "RiskEvidenceSynthesis", "Schedule", "SearchParameter",
        "ServiceRequest", "Slot", "Specimen", "SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription",
        "Substance", "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation",
        "SubstanceSourceMaterial", "SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task", "TerminologyCapabilities",
        "TestReport", "TestScript", "ValueSet", "VerificationResult", "VisionPrescription",
    ]
}
