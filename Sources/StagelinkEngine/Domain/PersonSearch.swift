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
    /// A field path of the declaration: keys, where `.each` takes every element of a list.
    typealias Path = [JSONParser.PathStep]

    struct Declaration: Sendable {
        let name: [Path]
        let identifiers: [Path]
        let birthDate: [Path]
        /// A reference to the parent (`Patient/123` in FHIR, an id in Salesforce) and the parent's type.
        let parent: (path: Path, resourceType: String)?
        /// Every path above, in that order: what one pass over a payload looks for.
        let paths: [Path]

        init(name: [Path] = [], identifiers: [Path] = [], birthDate: [Path] = [], parent: (path: Path, resourceType: String)? = nil) {
            (self.name, self.identifiers, self.birthDate, self.parent) = (name, identifiers, birthDate, parent)
            paths = name + identifiers + birthDate + (parent.map { [$0.path] } ?? [])
        }
    }

    /// The FHIR R4 elements: Patient.name (HumanName), Patient.identifier, Patient.birthDate,
    /// EpisodeOfCare.patient, QuestionnaireResponse.subject, ServiceRequest.subject
    /// (http://hl7.org/fhir/R4/patient.html, episodeofcare.html, questionnaireresponse.html).
    static let emr: [String: Declaration] = [
        "Patient": Declaration(
            name: [["name", .each, "given", .each], ["name", .each, "family"], ["name", .each, "text"]], identifiers: [["identifier", .each, "value"]],
            birthDate: [["birthDate"]]),
        "EpisodeOfCare": Declaration(parent: (["patient", "reference"], "Patient")),
        "QuestionnaireResponse": Declaration(parent: (["subject", "reference"], "Patient")),
        "ServiceRequest": Declaration(identifiers: [["identifier", .each, "value"]], parent: (["subject", "reference"], "Patient")),
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
        // One pass over the payload that checks all of it and builds only the values found
        // (``JSONParser/ranges(of:in:maximumDepth:)``): building the whole payload's values was two
        // thirds of staging's preparation of a page (docs/performance.md).
        guard let declaration = declarations[resourceType], let found = try? JSONParser.ranges(of: declaration.paths, in: payload) else {
            return PersonDocument(identifiers: sourceID)
        }
        var next = found.makeIterator()
        func texts(_ count: Int) -> [String] {
            var texts: [String] = []
            for _ in 0..<count {
                for range in next.next() ?? [] {
                    if let text = (try? JSONParser.parse(payload[range]))?.stringValue, !text.isEmpty { texts.append(text) }
                }
            }
            return texts
        }
        let name = texts(declaration.name.count), identifiers = texts(declaration.identifiers.count)
        let birthDate = texts(declaration.birthDate.count)
        var document = PersonDocument(
            name: unique(name.flatMap { $0.split(separator: " ").map(String.init) }).joined(separator: " "),
            identifiers: unique([sourceID] + identifiers).joined(separator: " "),
            birthDate: unique(birthDate).joined(separator: " "))
        if let (_, parentType) = declaration.parent, let reference = texts(1).first {
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

    /// The texts without repeats, in order. A document's lists usually hold a few texts each:
    /// comparing them costs less than hashing them into a set. A payload may hold thousands
    /// (a hostile one): those are hashed, so that the work stays linear.
    private static func unique(_ texts: [String]) -> [String] {
        guard texts.count > 16 else {
            var kept: [String] = []
            kept.reserveCapacity(texts.count)
            for text in texts where !kept.contains(text) { kept.append(text) }
            return kept
        }
        var seen: Set<String> = []
        return texts.filter { seen.insert($0).inserted }
    }
}
