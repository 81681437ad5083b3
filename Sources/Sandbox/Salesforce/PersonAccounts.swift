/// Person Accounts, the way Health Cloud keeps patients, as Salesforce documents them:
///
/// - A person account is an `Account` whose record type is a person account record type
///   (`RecordType.IsPersonType`; the default one is `PersonAccount`). Creating one also creates a
///   "person contact" behind it, whose id the Account holds in `PersonContactId`; `IsPersonAccount`
///   is true on both (SOAP API Developer Guide, "Person Account Record Types":
///   developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_personaccounts.htm).
/// - The person's fields sit on the Account: `FirstName`, `LastName`, and the contact's standard fields
///   with a `Person` prefix (`PersonBirthdate`, `PersonEmail`, `PersonMailingStreet`…); every custom
///   Contact field appears on Account with the suffix `__pc` (Change Data Capture Developer Guide,
///   "Creating and Undeleting a Person Account"; Object Reference, Account fields `IsPersonAccount`,
///   `PersonContactId`).
/// - A person account takes `FirstName` and `LastName`, never `Name`: writing `Name` fails with
///   "Account: bad field names on insert/update call: Name" (Salesforce Help, knowledge article 000386207,
///   "Error 'bad field names' when you import Person Accounts"); the Account's `Name` is made from the
///   first and last names. A business account takes `Name` (required) and none of the person fields.
/// - The person contact is written through its Account: a write to it through the Contact API fails
///   with `INSUFFICIENT_ACCESS_OR_READONLY` ("the Person Account is the primary interface": Salesforce
///   Help, knowledge article 005305352).
/// - Deleting or merging a person account deletes or merges its person contact with it.
enum PersonAccounts {
    /// The Contact fields that a person account shows under another name (the rest keep theirs, and
    /// custom `…__c` fields become `…__pc`).
    static let standardPairs: [(contact: String, account: String)] = [
        ("FirstName", "FirstName"), ("LastName", "LastName"), ("Birthdate", "PersonBirthdate"),
        ("Email", "PersonEmail"), ("Phone", "Phone"),
        ("MailingStreet", "PersonMailingStreet"), ("MailingCity", "PersonMailingCity"),
        ("MailingState", "PersonMailingState"), ("MailingPostalCode", "PersonMailingPostalCode"),
        ("MailingCountry", "PersonMailingCountry"),
    ]

    /// The Account field that shows a Contact field on a person account (`Birthdate` → `PersonBirthdate`,
    /// `EMR_Patient_Id__c` → `EMR_Patient_Id__pc`); nil for a Contact field a person account does not show.
    static func accountField(forContactField name: String) -> String? {
        if let pair = standardPairs.first(where: { $0.contact.lowercased() == name.lowercased() }) { return pair.account }
        if name.hasSuffix("__c") { return String(name.dropLast(3)) + "__pc" }
        return nil
    }

    /// Whether an Account field belongs to the person side (refused on a business account): a renamed
    /// standard Contact field or a `…__pc` field. `Phone` is the Account's own, on both kinds.
    static func isPersonField(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered.hasSuffix("__pc") || standardPairs.contains { $0.account != "Phone" && $0.account.lowercased() == lowered }
    }

    /// The record types the org has: one business and one person account type for Account.
    static let recordTypes: [(developerName: String, name: String, person: Bool)] = [
        ("Business_Account", "Business Account", false), ("PersonAccount", "Person Account", true),
    ]

    // MARK: - Schema

    /// Account with its business fields, the audit fields, and the person fields: `contact`'s standard
    /// person fields under their Account names (`Birthdate` as `PersonBirthdate`, with its label).
    static func accountObject(personFieldsOf contact: SObjectDescription) -> SObjectDescription {
        var account = SObjectDescription(name: "Account", label: "Account", keyPrefix: "001", custom: false, fields: [])
        account.fields = SalesforceSchema.auditFields(nameAutoNumber: false)
        // Name is required of a business account only, and set from the names on a person account.
        account.fields.insert(SObjectField(name: "Name", label: "Account Name", type: .string, length: 255), at: 1)
        account.fields += [
            SObjectField(
                name: "RecordTypeId", label: "Account Record Type", type: .reference, length: 18,
                referenceTo: "RecordType", relationshipName: "RecordType"),
            SObjectField(name: "Phone", label: "Account Phone", type: .phone, length: 40),
        ]
        for pair in standardPairs where pair.account != "Phone" {
            guard var field = contact.field(named: pair.contact) else { continue }
            field.name = pair.account
            // LastName is required of a person account only (checked with the record type).
            field.required = false
            account.fields.append(field)
        }
        account.fields += [
            SObjectField(name: "IsPersonAccount", label: "Is Person Account", type: .boolean, system: true),
            SObjectField(
                name: "PersonContactId", label: "Person Contact ID", type: .reference, length: 18, system: true,
                referenceTo: "Contact", relationshipName: "PersonContact"),
            SObjectField(
                name: "MasterRecordId", label: "Master Record ID", type: .reference, length: 18, system: true,
                referenceTo: "Account", relationshipName: "MasterRecord"),
        ]
        return account
    }

    /// RecordType: what `SELECT Id FROM RecordType WHERE SobjectType = 'Account' AND DeveloperName = 'PersonAccount'` reads.
    static func recordTypeObject() -> SObjectDescription {
        var recordType = SObjectDescription(name: "RecordType", label: "Record Type", keyPrefix: "012", custom: false, fields: [])
        recordType.fields = [
            SObjectField(name: "Id", label: "Record Type ID", type: .id, length: 18, system: true),
            SObjectField(name: "Name", label: "Record Type Name", type: .string, length: 80, system: true),
            SObjectField(name: "DeveloperName", label: "Record Type Name", type: .string, length: 80, system: true),
            SObjectField(name: "SobjectType", label: "SObject Type Name", type: .string, length: 40, system: true),
            SObjectField(name: "IsPersonType", label: "Is Person Type", type: .boolean, system: true),
            SObjectField(name: "IsActive", label: "Active", type: .boolean, system: true),
        ]
        return recordType
    }

    /// The Contact fields of a person contact: whose Account it is, and that it is one.
    static let contactFields: [SObjectField] = [
        SObjectField(
            name: "AccountId", label: "Account ID", type: .reference, length: 18, referenceTo: "Account",
            relationshipName: "Account"),
        SObjectField(name: "IsPersonAccount", label: "Is Person Account", type: .boolean, system: true),
    ]

    /// Every custom Contact field shown on Account as `…__pc`, with the same type, length and External ID.
    static func mirrorCustomFields(of contact: SObjectDescription, onto account: inout SObjectDescription) {
        for field in contact.fields where field.name.hasSuffix("__c") && !field.system {
            var mirrored = field
            mirrored.name = String(field.name.dropLast(3)) + "__pc"
            if let relationship = field.relationshipName {
                mirrored.relationshipName = String(relationship.dropLast(3)) + "__pr"
            }
            account.addOrReplace(mirrored)
        }
    }
}

// MARK: - Writes

extension SalesforceStore {
    /// The org's record types, inserted when the org is made.
    mutating func insertRecordTypes() {
        guard let object = schema.object(named: "RecordType") else { return }
        for type in PersonAccounts.recordTypes {
            _ = insert(
                object,
                values: [
                    "Name": .string(type.name), "DeveloperName": .string(type.developerName), "SobjectType": "Account",
                    "IsPersonType": .bool(type.person), "IsActive": true,
                ], actor: "", at: SandboxInstant(milliseconds: 0))
        }
    }

    /// The id of the Account record type with this developer name.
    func recordTypeID(developerName: String) -> String? {
        records(of: "RecordType").first { $0["DeveloperName"].stringValue == developerName }?.id
    }

    /// What an Account write must respect beyond the field checks: a person account takes names and
    /// person fields, never `Name`; a business account the reverse. `person` says which kind the
    /// record is (or becomes); `errors` is empty when the body is acceptable.
    func personAccountErrors(_ body: WireObject, existing: SObjectRecord?) -> (person: Bool, errors: [SalesforceError]) {
        let recordTypeID = Self.member(body, named: "RecordTypeId")?.value.stringValue.flatMap(SalesforceID.normalize)
        var person = existing?["IsPersonAccount"] == .bool(true)
        var errors: [SalesforceError] = []
        if let recordTypeID {
            guard let type = records[recordTypeID], type.object == "RecordType", type["SobjectType"] == "Account" else {
                return (person, [SalesforceError(code: "INVALID_CROSS_REFERENCE_KEY", message: "invalid cross reference id", fields: ["RecordTypeId"])])
            }
            let chosen = type["IsPersonType"] == .bool(true)
            if existing != nil, chosen != person {
                // Changing an account between business and person is a separate conversion in Salesforce.
                errors.append(
                    SalesforceError(
                        code: "INVALID_FIELD_FOR_INSERT_UPDATE",
                        message: "Cannot change a \(person ? "person" : "business") account's record type to a \(chosen ? "person" : "business") account record type",
                        fields: ["RecordTypeId"]))
            }
            if existing == nil { person = chosen }
        }
        let keys = body.keys.filter { $0 != "attributes" }
        let refused = person
            ? keys.filter { $0.lowercased() == "name" }
            : keys.filter { PersonAccounts.isPersonField($0) }
        if !refused.isEmpty {
            errors.append(
                SalesforceError(
                    code: "INVALID_FIELD_FOR_INSERT_UPDATE",
                    message: "Account: bad field names on insert/update call: \(refused.joined(separator: ", "))", fields: refused))
        }
        let required = person ? "LastName" : "Name"
        let given = Self.member(body, named: required)?.value
        if existing == nil ? (given?.isNull ?? true) || given == .string("") : given?.isNull == true || given == .string("") {
            errors.append(.requiredMissing([required]))
        }
        return (person, errors)
    }

    /// A write to a person contact through the Contact API: refused, since its Account is how it is written.
    func personContactRefusal(_ existing: SObjectRecord?) -> SalesforceError? {
        guard existing?.object == "Contact", existing?["IsPersonAccount"] == .bool(true) else { return nil }
        return SalesforceError(
            code: "INSUFFICIENT_ACCESS_OR_READONLY",
            message: "insufficient access rights on object id: this Contact is the person contact of Account "
                + "\(existing?["AccountId"].stringValue ?? ""); write it through the Account")
    }

    /// After an Account write: a person account's record type default, `IsPersonAccount`, its person
    /// contact (created on the first write, then kept equal to the Account's person fields) and `Name`.
    mutating func settlePersonAccount(_ id: String, person: Bool, created: Bool, actor: String, at now: SandboxInstant) {
        guard let account = records[id], let contactObject = schema.object(named: "Contact") else { return }
        var accountValues: [String: WireJSON] = [:]
        if created {
            accountValues["IsPersonAccount"] = .bool(person)
            if account["RecordTypeId"].isNull,
                let type = recordTypeID(developerName: person ? "PersonAccount" : "Business_Account")
            {
                accountValues["RecordTypeId"] = .string(type)
            }
        }
        guard person else {
            if !accountValues.isEmpty { update(id: id, values: accountValues, actor: actor, at: now) }
            return
        }
        var contactValues: [String: WireJSON] = [:]
        for field in contactObject.fields where !field.system {
            guard let accountField = PersonAccounts.accountField(forContactField: field.name),
                schema.object(named: "Account")?.field(named: accountField) != nil
            else { continue }
            contactValues[field.name] = account[accountField]
        }
        if let contactID = account["PersonContactId"].stringValue {
            update(id: contactID, values: contactValues, actor: actor, at: now)
        } else {
            contactValues["AccountId"] = .string(id)
            contactValues["IsPersonAccount"] = true
            let contact = insert(contactObject, values: contactValues, actor: actor, at: now)
            accountValues["PersonContactId"] = .string(contact.id)
        }
        let parts = [account["FirstName"].stringValue, account["LastName"].stringValue].compactMap { $0 }
        accountValues["Name"] = .string(parts.joined(separator: " "))
        update(id: id, values: accountValues, actor: actor, at: now)
    }
}
