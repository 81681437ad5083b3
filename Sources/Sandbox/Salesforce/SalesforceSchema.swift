/// The objects and fields of the simulated org: what describe returns and what every write is validated against.
///
/// Standard fields (Id, Name, audit fields, Contact's names, phone, email and mailing address) are the
/// sandbox's own; custom fields come from a list of ``CustomFieldSpec`` — the seam where the mapping
/// file plugs in. For example:
///
/// ```swift
/// let schema = SalesforceSchema(customFields: CustomFieldSpec.stagelinkDefaults)
/// schema.object(named: "contact")?.field(named: "emr_patient_id__c")?.externalId  // true
/// ```
public struct SalesforceSchema: Sendable {
    /// The objects, by API name.
    public private(set) var objects: [String: SObjectDescription] = [:]
    private var lowercasedNames: [String: String] = [:]

    /// The org: User, Account (with Person Accounts enabled), RecordType, Contact, Assessment__c and
    /// Admission__c with their standard fields, plus `customFields`. A custom field named for Account as
    /// `…__pc` is the Contact field `…__c`, and every custom Contact field shows on Account as `…__pc`
    /// (``PersonAccounts``).
    public init(customFields: [CustomFieldSpec]) {
        for object in Self.standardObjects() { add(object) }
        for var spec in customFields {
            if spec.object.lowercased() == "account", spec.field.name.hasSuffix("__pc") {
                spec.object = "Contact"
                spec.field.name = String(spec.field.name.dropLast(4)) + "__c"
            }
            guard var object = self.object(named: spec.object) else {
                var created = SObjectDescription(
                    name: spec.object, label: spec.object.replacingOccurrences(of: "__c", with: ""),
                    keyPrefix: "a0\(objects.count)", custom: true, fields: [])
                created.fields = Self.auditFields(nameAutoNumber: true)
                add(created)
                continue
            }
            object.addOrReplace(spec.field)
            add(object)
        }
        if let contact = object(named: "Contact"), var account = object(named: "Account") {
            PersonAccounts.mirrorCustomFields(of: contact, onto: &account)
            add(account)
        }
    }

    private mutating func add(_ object: SObjectDescription) {
        objects[object.name] = object
        lowercasedNames[object.name.lowercased()] = object.name
    }

    /// The object with this API name, matched without regard to case as Salesforce does.
    public func object(named name: String) -> SObjectDescription? {
        lowercasedNames[name.lowercased()].flatMap { objects[$0] }
    }

    /// The object whose ids start with this key prefix.
    func object(forKeyPrefix prefix: some StringProtocol) -> SObjectDescription? {
        objects.values.first { $0.keyPrefix == prefix }
    }

    static func auditFields(nameAutoNumber: Bool) -> [SObjectField] {
        var fields = [SObjectField(name: "Id", label: "Record ID", type: .id, length: 18, system: true)]
        if nameAutoNumber {
            fields.append(SObjectField(name: "Name", label: "Name", type: .string, length: 80, system: true, autoNumber: true))
        }
        fields += [
            SObjectField(name: "CreatedDate", label: "Created Date", type: .datetime, system: true),
            SObjectField(
                name: "CreatedById", label: "Created By ID", type: .reference, length: 18, system: true,
                referenceTo: "User", relationshipName: "CreatedBy"),
            SObjectField(name: "LastModifiedDate", label: "Last Modified Date", type: .datetime, system: true),
            SObjectField(
                name: "LastModifiedById", label: "Last Modified By ID", type: .reference, length: 18, system: true,
                referenceTo: "User", relationshipName: "LastModifiedBy"),
            SObjectField(name: "SystemModstamp", label: "System Modstamp", type: .datetime, system: true),
            // Every object has IsDeleted: true for a record in the Recycle Bin, which only queryAll
            // returns (REST API "QueryAll"; developer.salesforce.com/docs/platform/api-rest/guide/resources-queryall).
            SObjectField(name: "IsDeleted", label: "Deleted", type: .boolean, system: true),
        ]
        return fields
    }

    private static func standardObjects() -> [SObjectDescription] {
        var user = SObjectDescription(name: "User", label: "User", keyPrefix: "005", custom: false, fields: [])
        user.fields = [SObjectField(name: "Id", label: "User ID", type: .id, length: 18, system: true)]
        user.fields += [
            SObjectField(name: "Username", label: "Username", type: .string, length: 80, system: true),
            SObjectField(name: "Name", label: "Full Name", type: .string, length: 121, system: true),
            SObjectField(name: "IsActive", label: "Active", type: .boolean, system: true),
        ]
        var contact = SObjectDescription(name: "Contact", label: "Contact", keyPrefix: "003", custom: false, fields: [])
        contact.fields = auditFields(nameAutoNumber: false)
        contact.fields.insert(SObjectField(name: "Name", label: "Full Name", type: .string, length: 121, system: true), at: 1)
        contact.fields += [
            SObjectField(name: "FirstName", label: "First Name", type: .string, length: 40),
            SObjectField(name: "LastName", label: "Last Name", type: .string, length: 80, required: true),
            SObjectField(name: "Birthdate", label: "Birthdate", type: .date),
            SObjectField(name: "Phone", label: "Business Phone", type: .phone, length: 40),
            SObjectField(name: "Email", label: "Email", type: .email, length: 80),
            SObjectField(name: "MailingStreet", label: "Mailing Street", type: .textarea, length: 255),
            SObjectField(name: "MailingCity", label: "Mailing City", type: .string, length: 40),
            SObjectField(name: "MailingState", label: "Mailing State/Province", type: .string, length: 80),
            SObjectField(name: "MailingPostalCode", label: "Mailing Zip/Postal Code", type: .string, length: 20),
            SObjectField(name: "MailingCountry", label: "Mailing Country", type: .string, length: 80),
            // Set on a Contact that lost a merge, to the winner's id ("Triggers and Merge Statements":
            // developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/apex_triggers_merge_statements.htm).
            SObjectField(
                name: "MasterRecordId", label: "Master Record ID", type: .reference, length: 18, system: true,
                referenceTo: "Contact", relationshipName: "MasterRecord"),
        ]
        contact.fields += PersonAccounts.contactFields
        let assessment = SObjectDescription(
            name: "Assessment__c", label: "Assessment", keyPrefix: "a0A", custom: true,
            fields: auditFields(nameAutoNumber: true))
        let admission = SObjectDescription(
            name: "Admission__c", label: "Admission", keyPrefix: "a0B", custom: true,
            fields: auditFields(nameAutoNumber: true))
        return [user, PersonAccounts.recordTypeObject(), PersonAccounts.accountObject(personFieldsOf: contact), contact, assessment, admission]
    }
}

/// One object of the simulated org.
public struct SObjectDescription: Sendable {
    /// The API name, `Contact` or `Admission__c`.
    public var name: String
    /// The singular label.
    public var label: String
    /// The three characters every id of this object starts with.
    public var keyPrefix: String
    /// Whether it is a custom object.
    public var custom: Bool
    /// The fields in describe order.
    public var fields: [SObjectField] {
        didSet { reindex() }
    }
    private var byLowercasedName: [String: Int] = [:]

    init(name: String, label: String, keyPrefix: String, custom: Bool, fields: [SObjectField]) {
        self.name = name
        self.label = label
        self.keyPrefix = keyPrefix
        self.custom = custom
        self.fields = fields
        reindex()
    }

    private mutating func reindex() {
        byLowercasedName = [:]
        for (index, field) in fields.enumerated() { byLowercasedName[field.name.lowercased()] = index }
    }

    /// The field with this API name, without regard to case.
    public func field(named name: String) -> SObjectField? {
        byLowercasedName[name.lowercased()].map { fields[$0] }
    }

    /// The reference field whose relationship is called `relationshipName` (`Contact__r`, `LastModifiedBy`).
    public func referenceField(relationship relationshipName: String) -> SObjectField? {
        let wanted = relationshipName.lowercased()
        return fields.first { $0.relationshipName?.lowercased() == wanted }
    }

    mutating func addOrReplace(_ field: SObjectField) {
        if let index = byLowercasedName[field.name.lowercased()] {
            fields[index] = field
        } else {
            fields.append(field)
        }
    }
}

/// One field of an object, with what describe says about it and what validation enforces.
public struct SObjectField: Sendable {
    /// Salesforce's field types that the sandbox serves.
    public enum FieldType: String, Sendable {
        case id, string, textarea, email, phone, date, datetime, double, picklist, reference, boolean
    }

    public var name: String
    public var label: String
    public var type: FieldType
    /// The maximum length of a text value.
    public var length: Int?
    /// Required on create and never null afterwards (`nillable: false`).
    public var required: Bool
    /// Set by the org only (Id, audit fields, auto numbers).
    public var system: Bool
    public var autoNumber: Bool
    public var externalId: Bool
    public var unique: Bool
    /// The allowed values of a picklist; a restricted picklist refuses any other.
    public var picklistValues: [String]
    public var restrictedPicklist: Bool
    public var referenceTo: String?
    public var relationshipName: String?
    /// Read-only for the user a describe answers (field-level security), not in the schema itself.
    var readOnlyForUser = false

    init(
        name: String, label: String, type: FieldType, length: Int? = nil, required: Bool = false, system: Bool = false,
        autoNumber: Bool = false, externalId: Bool = false, unique: Bool = false, picklistValues: [String] = [],
        restrictedPicklist: Bool = false, referenceTo: String? = nil, relationshipName: String? = nil
    ) {
        self.name = name
        self.label = label
        self.type = type
        self.length = length
        self.required = required
        self.system = system
        self.autoNumber = autoNumber
        self.externalId = externalId
        self.unique = unique
        self.picklistValues = picklistValues
        self.restrictedPicklist = restrictedPicklist
        self.referenceTo = referenceTo
        self.relationshipName = relationshipName
    }
}
