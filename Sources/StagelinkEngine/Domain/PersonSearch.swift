/// What the store's person index holds for one staged row: who the row is about, in the words a
/// support person searches with (name, MRN or other identifier, birth date, Salesforce name).
///
/// The index is built from selected payload fields only, declared once in ``PersonSearch``; a
/// row about a person without a name of its own (an episode, an assessment, an admission) names
/// its ``parent``, and the store copies the parent's name and birth date into the row's document
/// when it stages the row, so that searching a name finds every row of that person.
///
/// For example:
///
/// ```swift
/// let document = PersonSearch.document(for: record)
/// document.name        // "Zoë Müller"
/// document.identifiers // "p8 MRN100008"
/// ```
public struct PersonDocument: Sendable, Hashable {
    /// Name parts, space-separated, each word once (given and family names, a Salesforce `Name`).
    public var name: String
    /// Identifiers: the row's own source id, MRNs and other identifier values, the parent's id.
    public var identifiers: String
    /// Birth dates as written (`1984-02-29`).
    public var birthDate: String
    /// The record this row belongs to when it is not a person itself: the Patient of an episode
    /// or an assessment, the Contact of an admission.
    public var parent: SourceKey?

    public init(name: String = "", identifiers: String = "", birthDate: String = "", parent: SourceKey? = nil) {
        self.name = name
        self.identifiers = identifiers
        self.birthDate = birthDate
        self.parent = parent
    }
}

/// The one declaration of which payload fields feed the person index, per FHIR resource type and
/// per Salesforce object, and how a row's document is read from its payload.
///
/// | record | name | identifiers | birth date | parent |
/// |---|---|---|---|---|
/// | FHIR `Patient` | `name[*].given[*]`, `name[*].family`, `name[*].text` | `identifier[*].value` (MRN…) | `birthDate` | |
/// | FHIR `EpisodeOfCare` | | | | `patient` |
/// | FHIR `QuestionnaireResponse` | | | | `subject` (a Patient) |
/// | FHIR `ServiceRequest` | | `identifier[*].value` | | `subject` (a Patient) |
/// | Salesforce `Contact` | `Name`, `FirstName`, `LastName` | `EMR_Patient_Id__c` (the EMR's patient id) | `Birthdate` | |
/// | Salesforce `Account` (Person Account) | `Name`, `FirstName`, `LastName` | `EMR_Patient_Id__c` | `PersonBirthdate` | |
/// | Salesforce `Admission__c` | | `Name` (its number) | | `Contact__c` |
///
/// Every row's own source id is an identifier too. A payload that is not JSON, or holds other
/// kinds of values where these fields are, gives what could be read and nothing else: staging
/// never fails because of the index.
public enum PersonSearch {
    /// A field path of the declaration: keys, where `*` takes every element of a list.
    typealias Path = [String]

    struct Declaration: Sendable {
        var name: [Path] = []
        var identifiers: [Path] = []
        var birthDate: [Path] = []
        /// A reference to the parent (`Patient/123` in FHIR, an id in Salesforce) and the parent's type.
        var parent: (path: Path, resourceType: String)?
    }

    /// The FHIR R4 elements: Patient.name (HumanName), Patient.identifier, Patient.birthDate,
    /// EpisodeOfCare.patient, QuestionnaireResponse.subject, ServiceRequest.subject
    /// (http://hl7.org/fhir/R4/patient.html, episodeofcare.html, questionnaireresponse.html).
    static let emr: [String: Declaration] = [
        "Patient": Declaration(
            name: [["name", "*", "given", "*"], ["name", "*", "family"], ["name", "*", "text"]], identifiers: [["identifier", "*", "value"]],
            birthDate: [["birthDate"]]),
        "EpisodeOfCare": Declaration(parent: (["patient", "reference"], "Patient")),
        "QuestionnaireResponse": Declaration(parent: (["subject", "reference"], "Patient")),
        "ServiceRequest": Declaration(identifiers: [["identifier", "*", "value"]], parent: (["subject", "reference"], "Patient")),
    ]

    /// The Salesforce fields: Contact's and Person Account's standard name and birth date fields,
    /// the EMR patient id external-id field, and an admission's Contact lookup.
    static let salesforce: [String: Declaration] = [
        "Contact": Declaration(
            name: [["Name"], ["FirstName"], ["LastName"]], identifiers: [["EMR_Patient_Id__c"]], birthDate: [["Birthdate"]]),
        "Account": Declaration(
            name: [["Name"], ["FirstName"], ["LastName"]], identifiers: [["EMR_Patient_Id__pc"], ["EMR_Patient_Id__c"]], birthDate: [["PersonBirthdate"]]),
        // An admission's Name is its number (autonumber): an identifier, not a person's name.
        "Admission__c": Declaration(identifiers: [["Name"]], parent: (["Contact__c"], "Contact")),
    ]

    /// The types of one system in waves that may be pulled at once, in order: a type goes in the
    /// wave after the latest wave holding its parent (an assessment after the Patients), since
    /// the store copies a parent's name into a child's document when it stages the child; types
    /// neither of which is the other's parent (episodes and assessments) share a wave. A type
    /// listed twice is pulled once.
    ///
    /// For example, `pullWaves(["Patient", "EpisodeOfCare", "QuestionnaireResponse"], system: .emr)`
    /// is `[["Patient"], ["EpisodeOfCare", "QuestionnaireResponse"]]`.
    public static func pullWaves(_ types: [String], system: SourceSystem) -> [[String]] {
        let declarations = system == .emr ? emr : salesforce
        var waves: [[String]] = []
        var waveOf: [String: Int] = [:]
        for type in types where waveOf[type] == nil {
            let wave = declarations[type]?.parent.flatMap { waveOf[$0.resourceType] }.map { $0 + 1 } ?? 0
            waveOf[type] = wave
            if wave == waves.count { waves.append([]) }
            waves[wave].append(type)
        }
        return waves
    }

    /// The document of a record as received.
    public static func document(for record: IncomingRecord) -> PersonDocument {
        document(system: record.system, resourceType: record.resourceType, sourceID: record.sourceID, payload: record.payload)
    }

    /// The document of a staged row's payload.
    public static func document(system: SourceSystem, resourceType: String, sourceID: String, payload: [UInt8]) -> PersonDocument {
        let declarations = system == .emr ? emr : salesforce
        guard let declaration = declarations[resourceType], let root = try? JSONValue(parsing: payload) else {
            return PersonDocument(identifiers: sourceID)
        }
        func texts(_ paths: [Path]) -> [String] {
            var found: [String] = []
            for path in paths { collect(path[...], in: root, into: &found) }
            return found
        }
        var document = PersonDocument(
            name: unique(texts(declaration.name).flatMap { $0.split(separator: " ").map(String.init) }).joined(separator: " "),
            identifiers: unique([sourceID] + texts(declaration.identifiers)).joined(separator: " "),
            birthDate: unique(texts(declaration.birthDate)).joined(separator: " "))
        if let (path, parentType) = declaration.parent, let reference = texts([path]).first {
            let id = system == .emr ? fhirReferenceID(reference, of: parentType) : reference
            if let id, !id.isEmpty {
                document.parent = SourceKey(system: system, resourceType: parentType, sourceID: id)
            }
        }
        return document
    }

    /// The id of a relative FHIR reference to `type` (`Patient/123`, or `Patient/123/_history/2`);
    /// nil for a reference to another type or an absolute URL.
    static func fhirReferenceID(_ reference: String, of type: String) -> String? {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || (parts.count == 4 && parts[2] == "_history"), parts[0] == type else { return nil }
        return String(parts[1])
    }

    private static func collect(_ path: ArraySlice<String>, in value: JSONValue, into found: inout [String]) {
        guard let step = path.first else {
            if let text = value.stringValue, !text.isEmpty { found.append(text) }
            return
        }
        if step == "*" {
            for item in value.arrayValue ?? [] { collect(path.dropFirst(), in: item, into: &found) }
        } else if let next = value[step] {
            collect(path.dropFirst(), in: next, into: &found)
        }
    }

    private static func unique(_ texts: [String]) -> [String] {
        var seen: Set<String> = []
        return texts.filter { seen.insert($0).inserted }
    }
}
