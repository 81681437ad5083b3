/// Checks a record body as an org would before a write, and turns it into the values to store.
///
/// Field names are matched without regard to case; relationship references such as
/// `"Contact__r": {"EMR_Patient_Id__c": "123"}` are resolved to the referenced record's id.
struct SalesforceValidator {
    let store: SalesforceStore
    /// The user writing, whose field-level security applies.
    var actor = ""

    /// The values to store, or every error the body has.
    ///
    /// - Parameters:
    ///   - existing: the record being updated, nil on create.
    ///   - ignoring: body members that are not fields (`attributes`, the `Id` of a collections update).
    func prepare(
        _ body: WireObject, for object: SObjectDescription, existing: SObjectRecord?, ignoring: Set<String> = []
    ) -> Result<[String: WireJSON], SalesforceErrorList> {
        var values: [String: WireJSON] = [:]
        var errors: [SalesforceError] = []
        for (key, value) in body where key != "attributes" && !ignoring.contains(key) {
            if case .object(let reference) = value, let field = object.referenceField(relationship: key) {
                if store.isReadOnly(field.name, of: object.name, for: actor) {
                    errors.append(.notWritable(field.name))
                    continue
                }
                switch resolve(reference, through: field) {
                case .success(let id): values[field.name] = .string(id)
                case .failure(let error): errors.append(error)
                }
                continue
            }
            guard let field = object.field(named: key) else {
                errors.append(.invalidField(key, object: object.name))
                continue
            }
            guard !field.system, !store.isReadOnly(field.name, of: object.name, for: actor) else {
                errors.append(.notWritable(field.name))
                continue
            }
            switch check(value, for: field, object: object, existing: existing) {
            case .success(let stored): values[field.name] = stored
            case .failure(let error): errors.append(error)
            }
        }
        let missing = object.fields.filter { field in
            guard field.required else { return false }
            if let value = values[field.name] { return value.isNull }
            return existing == nil || existing?[field.name].isNull == true
        }
        if !missing.isEmpty { errors.append(.requiredMissing(missing.map(\.name))) }
        return errors.isEmpty ? .success(values) : .failure(SalesforceErrorList(errors: errors))
    }

    private func check(_ value: WireJSON, for field: SObjectField, object: SObjectDescription, existing: SObjectRecord?)
        -> Result<WireJSON, SalesforceError>
    {
        if value.isNull || value == .string("") && field.type != .boolean {
            return .success(.null)
        }
        switch field.type {
        case .string, .textarea, .phone, .email, .picklist:
            let text: String
            switch value {
            case .string(let string): text = string
            case .int, .double: text = value.jsonText
            default: return .failure(.wrongType(field, value))
            }
            if let length = field.length, text.unicodeScalars.count > length { return .failure(.tooLong(field, text)) }
            if field.type == .email, !Self.looksLikeEmail(text) { return .failure(.invalidEmail(field, text)) }
            if field.type == .picklist, field.restrictedPicklist, !field.picklistValues.contains(text) {
                return .failure(.badPicklist(field, text))
            }
            if field.unique, let other = store.ids(object: object.name, field: field.name, value: text)
                .first(where: { $0 != existing?.id })
            {
                return .failure(.duplicateValue(field, existing: other))
            }
            return .success(.string(text))
        case .date:
            guard let text = value.stringValue, CivilDate(text) != nil else { return .failure(.wrongType(field, value)) }
            return .success(.string(text))
        case .datetime:
            guard let text = value.stringValue, let instant = SandboxInstant(iso8601: text) else {
                return .failure(.wrongType(field, value))
            }
            return .success(.string(instant.salesforceDateTime))
        case .double:
            if let number = value.doubleValue { return .success(.double(number)) }
            if let text = value.stringValue, let number = Double(text) { return .success(.double(number)) }
            return .failure(.wrongType(field, value))
        case .boolean:
            guard case .bool = value else { return .failure(.wrongType(field, value)) }
            return .success(value)
        case .id, .reference:
            guard let text = value.stringValue, let id = SalesforceID.normalize(text) else {
                return .failure(
                    SalesforceError(
                        code: "MALFORMED_ID", message: "\(field.label): id value of incorrect type: \(value.displayText)",
                        fields: [field.name]))
            }
            guard let target = store.records[id], target.object == field.referenceTo else {
                return .failure(
                    SalesforceError(
                        code: "INVALID_CROSS_REFERENCE_KEY", message: "invalid cross reference id", fields: [field.name]))
            }
            return .success(.string(target.id))
        }
    }

    /// Resolves `{"EMR_Patient_Id__c": "123"}` through a lookup field to the one record it names.
    private func resolve(_ reference: WireObject, through field: SObjectField) -> Result<String, SalesforceError> {
        guard let targetName = field.referenceTo, let target = store.schema.object(named: targetName) else {
            return .failure(.invalidField(field.relationshipName ?? field.name, object: field.name))
        }
        let keys = reference.keys.filter { $0 != "attributes" }
        guard keys.count == 1, let key = keys.first, let externalField = target.field(named: key),
            externalField.externalId || externalField.name == "Id"
        else {
            return .failure(
                SalesforceError(
                    code: "INVALID_FIELD",
                    message: "The foreign key of \(field.relationshipName ?? field.name) must name exactly one "
                        + "external ID field of \(target.name)"))
        }
        guard let value = reference[key]?.stringValue else {
            return .failure(.wrongType(externalField, reference[key] ?? .null))
        }
        let matches =
            externalField.name == "Id"
            ? SalesforceID.normalize(value).flatMap { store.records[$0] }.map { [$0.id] } ?? []
            : store.ids(object: target.name, field: externalField.name, value: value)
        switch matches.count {
        case 1:
            return .success(matches[0])
        case 0:
            return .failure(
                SalesforceError(
                    code: "INVALID_FIELD",
                    message: "Foreign key external ID: \(value) not found for field \(externalField.name) in entity "
                        + target.name))
        default:
            return .failure(
                SalesforceError(
                    code: "INVALID_FIELD",
                    message: "More than 1 record found for External ID field: \(value) for field "
                        + "\(externalField.name) in entity \(target.name)"))
        }
    }

    static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), !text.contains(" ")
        else { return false }
        return true
    }
}
