import Foundation

/// The mapping and per-field policy file: which EMR resource feeds which Salesforce object, how
/// each field is read and written, and who owns it.
///
/// It ships as `config/mapping.yaml`; the engine is driven by it, and its owners are loaded into
/// the store's policy table (see `PolicyService`).
///
/// For example:
///
/// ```swift
/// let mapping = try MappingDocument.load(contentsOf: "config/mapping.yaml")
/// mapping.inbound(forResource: "Patient")?.object    // "Contact"
/// ```
///
/// ## Topics
/// - ``InboundMapping``
/// - ``FieldMapping``
/// - ``Instrument``
/// - ``OutboundMappings``
public struct MappingDocument: Sendable {
    /// The file it was read from, as given.
    public var file: String
    public var instruments: [Instrument]
    /// EMR → Salesforce mappings, in the order they are linked.
    public var inbound: [InboundMapping]
    public var outbound: OutboundMappings
    /// Which security labels withhold a record or strip fields before it leaves the EMR.
    public var sensitivity: SensitivityPolicy

    public init(
        file: String, instruments: [Instrument], inbound: [InboundMapping], outbound: OutboundMappings, sensitivity: SensitivityPolicy = .none
    ) {
        self.file = file
        self.instruments = instruments
        self.inbound = inbound
        self.outbound = outbound
        self.sensitivity = sensitivity
    }

    public static func load(contentsOf path: String) throws(ConfigurationError) -> MappingDocument {
        try MappingDocument(reader: YAMLReader.load(contentsOf: path))
    }

    public init(yaml: String, file: String) throws(ConfigurationError) {
        try self.init(reader: YAMLReader.parse(yaml, file: file))
    }

    public func inbound(named name: String) -> InboundMapping? { inbound.first { $0.name == name } }

    /// Sets the EMR's time zone on every field, for the dates of `from: datetime` fields.
    public mutating func setEMRTimeZone(_ zone: TimeZone) {
        for index in inbound.indices {
            for field in inbound[index].fields.indices { inbound[index].fields[field].timeZone = zone }
        }
    }
    public func inbound(forResource resource: String) -> InboundMapping? { inbound.first { $0.resource == resource } }

    /// The inbound mapping that makes people on the Salesforce side: the one the admissions'
    /// Patients come from, else the mapping of `Patient` (its object is `Contact`, or `Account`
    /// for Person Accounts).
    public var peopleMapping: InboundMapping? {
        outbound.admissions.flatMap { inbound(named: $0.patientMapping) } ?? inbound(forResource: "Patient")
    }

    /// The FHIR resource types pulled from the EMR, in link order.
    public var inboundResources: [String] { inbound.map(\.resource) }

    /// Every mapped field with the owner this file gives it: what the policy table is loaded from.
    public var declaredPolicy: [PolicyDeclaration] {
        var seen = Set<String>()
        var result: [PolicyDeclaration] = []
        func add(_ object: String, _ field: FieldMapping) {
            let declaration = PolicyDeclaration(object: object, field: field.field, rule: field.owner)
            if seen.insert(declaration.qualifiedField).inserted { result.append(declaration) }
        }
        for mapping in inbound {
            for field in mapping.fields { add(mapping.object, field) }
        }
        if let admissions = outbound.admissions {
            for field in admissions.serviceRequest.fields { add(admissions.object, field) }
        }
        return result
    }
}

/// A field and the owner the mapping file declares for it.
public struct PolicyDeclaration: Sendable, Hashable {
    public var object: String
    public var field: String
    public var rule: OwnerRule

    public init(object: String, field: String, rule: OwnerRule) {
        self.object = object
        self.field = field
        self.rule = rule
    }

    public var qualifiedField: String { "\(object).\(field)" }
}

/// One EMR resource type mapped onto one Salesforce object, upserted by an external-id field.
public struct InboundMapping: Sendable {
    public var name: String
    /// The FHIR resource type (`Patient`).
    public var resource: String
    /// The Salesforce object (`Contact`).
    public var object: String
    /// The Salesforce external-id field the upsert matches on; one of `fields`.
    public var externalID: String
    public var fields: [FieldMapping]
    /// Where a resource that Stagelink created from a Salesforce record names that record's id
    /// (an identifier it was given at creation). Such a resource is written by that id, so that it
    /// finds its Salesforce record even before the EMR's id was written back there.
    public var salesforceID: FieldPath?
    /// What a deletion of the resource does to its Salesforce record.
    public var onDelete: DeletionRule
    /// What a merge of the resource (a Patient `replaced-by` another) does; nil for types that are not merged.
    public var onMerge: MergeRule?
    /// The DeveloperName of the record type every record this mapping creates gets (`PersonAccount`
    /// for Health Cloud's Person Accounts): written as its `RecordTypeId` on every upsert. nil: the
    /// integration user's default record type.
    public var recordType: String?

    public init(
        name: String, resource: String, object: String, externalID: String, fields: [FieldMapping], salesforceID: FieldPath? = nil,
        onDelete: DeletionRule? = nil, onMerge: MergeRule? = nil, recordType: String? = nil
    ) {
        self.recordType = recordType
        self.name = name
        self.resource = resource
        self.object = object
        self.externalID = externalID
        self.fields = fields
        self.salesforceID = salesforceID
        self.onDelete = DeletionRule(action: .ignore)
        self.onMerge = onMerge ?? (resource == "Patient" ? MergeRule() : nil)
        self.onDelete = onDelete ?? (isKeyedByOwnID ? DeletionRule(action: .flag, field: DeletionRule.defaultFlagField) : DeletionRule(action: .ignore))
    }

    public var externalIDField: FieldMapping? { fields.first { $0.field == externalID } }
}

/// How one Salesforce field is read from (and written back into) a FHIR resource.
public struct FieldMapping: Sendable {
    /// The Salesforce field (`Birthdate`, or `Contact__r.EMR_Patient_Id__c` for a reference by external id).
    public var field: String
    /// Where the value sits in the resource; nil for values computed from the whole resource (scores).
    public var path: FieldPath?
    public var type: FieldType
    public var required: Bool
    public var maxLength: Int?
    /// For `code` and `instrument`: FHIR code → Salesforce picklist value, in file order.
    public var values: [CodeValue]
    /// For `reference`: the resource type referred to (`Patient`).
    public var referenceResource: String?
    public var owner: OwnerRule
    /// For `date`: what a partial FHIR date (`1974`, `1974-11`) becomes (`partial:`).
    public var partialDates: PartialDates = .reject
    /// For `date`: the FHIR type the value has (`from:`): `date`, or `datetime`, whose date in
    /// `timeZone` is taken.
    public var dateSource: FieldType = .date
    /// The EMR's time zone (`emr.timeZone`), for `from: datetime`.
    public var timeZone: TimeZone = TimeZone(identifier: "UTC")!

    public init(
        field: String, path: FieldPath?, type: FieldType = .string, required: Bool = false, maxLength: Int? = nil,
        values: [CodeValue] = [], referenceResource: String? = nil, owner: OwnerRule
    ) {
        self.field = field
        self.path = path
        self.type = type
        self.required = required
        self.maxLength = maxLength
        self.values = values
        self.referenceResource = referenceResource
        self.owner = owner
    }

    /// How the field is named in messages: `Birthdate (birthDate)`.
    public var displayName: String { path.map { "\(field) (\($0))" } ?? field }
}

/// What a `date` field does with a partial FHIR date.
public enum PartialDates: String, Sendable, Hashable, CaseIterable {
    /// Fails the row with `MAPPING_PARTIAL_DATE`, naming the precision it got.
    case reject
    /// Takes the first day of the year or month.
    case firstDay = "first-day"
}

/// A FHIR code and the Salesforce picklist value it becomes.
public struct CodeValue: Sendable, Hashable {
    public var code: String
    public var label: String
}

/// How a field's value is read and checked.
public enum FieldType: String, Sendable, Hashable, CaseIterable {
    case string, date, datetime, integer, decimal, boolean, code, reference, lines
    /// The instrument a QuestionnaireResponse answers (PHQ-9, GAD-7), from its `questionnaire`.
    case instrument
    /// The total score, from the item answers (checked against a total item when present).
    case score
    /// The severity band of the total score.
    case severity

    /// Whether the value is computed from the whole resource rather than read at a path.
    public var isComputed: Bool { self == .instrument || self == .score || self == .severity }
}

/// A scored questionnaire: its items, range and severity bands.
public struct Instrument: Sendable, Hashable {
    public var name: String
    /// The canonical URL a QuestionnaireResponse's `questionnaire` names.
    public var questionnaire: String
    /// Its LOINC panel code.
    public var code: String
    /// The LOINC code (and linkId) of the total-score item.
    public var totalCode: String
    public var items: Int
    public var itemMax: Int
    public var severity: [SeverityBand]

    public var maximumScore: Int { items * itemMax }

    public func severity(forScore score: Int) -> String? {
        severity.first { score <= $0.upTo }?.label
    }
}

public struct SeverityBand: Sendable, Hashable {
    public var upTo: Int
    public var label: String
}

/// Salesforce → EMR: admissions that create Patients and ServiceRequests, and Contact updates.
public struct OutboundMappings: Sendable {
    public var admissions: AdmissionOutbound?
    public var contacts: ContactOutbound?

    public init(admissions: AdmissionOutbound?, contacts: ContactOutbound?) {
        self.admissions = admissions
        self.contacts = contacts
    }
}

/// An admission reaching the ready stage creates its Patient and a ServiceRequest in the EMR.
public struct AdmissionOutbound: Sendable {
    public var object: String
    public var stageField: String
    public var readyValue: String
    public var stages: [String]
    /// The admission's lookup to its Contact.
    public var contactField: String
    /// The inbound mapping whose fields, read in reverse, build the Patient from the Contact.
    public var patientMapping: String
    /// The identifier system under which the Contact's Salesforce id is stored on the Patient.
    public var patientIdentifierSystem: String
    public var serviceRequest: ServiceRequestOutbound
}

public struct ServiceRequestOutbound: Sendable {
    public var identifierSystem: String
    /// The admission field that receives the ServiceRequest's id.
    public var externalIDField: String
    /// The text of the ServiceRequest's `code`.
    public var code: String
    public var fields: [FieldMapping]
}

/// Changes of Salesforce-writable fields of linked Contacts go to their Patient.
public struct ContactOutbound: Sendable {
    public var object: String
    public var mapping: String
    /// What a Contact deleted in Salesforce does to its Patient: `flag` (the default) and
    /// `deactivate` set `Patient.active = false`; `ignore` leaves it. A Patient is never deleted.
    public var onDelete: DeletionRule = DeletionRule(action: .flag)
}
