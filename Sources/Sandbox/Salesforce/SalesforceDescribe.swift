/// The JSON of `GET /sobjects/{Object}/describe` (REST API Developer Guide, "sObject Describe";
/// the field keys are the SOAP API's `Field` properties, "API Field Properties"), as the user who
/// asks sees it: a field that user's field-level security leaves read-only is neither
/// `createable` nor `updateable`.
enum SalesforceDescribe {
    static func object(_ object: SObjectDescription, version: String) -> WireJSON {
        let base = "/services/data/\(version)/sobjects/\(object.name)"
        return [
            "name": .string(object.name), "label": .string(object.label), "labelPlural": .string(object.label + "s"),
            "keyPrefix": .string(object.keyPrefix), "custom": .bool(object.custom), "queryable": true,
            "createable": .bool(object.name != "User"), "updateable": .bool(object.name != "User"),
            "fields": .array(object.fields.map(field)),
            "urls": [
                "sobject": .string(base), "describe": .string("\(base)/describe"),
                "rowTemplate": .string("\(base)/{ID}"),
            ],
        ]
    }

    static func field(_ field: SObjectField) -> WireJSON {
        let soapType: String =
            switch field.type {
            case .id, .reference: "tns:ID"
            case .date: "xsd:date"
            case .datetime: "xsd:dateTime"
            case .double: "xsd:double"
            case .boolean: "xsd:boolean"
            default: "xsd:string"
            }
        return [
            "name": .string(field.name), "label": .string(field.label), "type": .string(field.type.rawValue),
            "soapType": .string(soapType), "length": .int(field.length ?? 0),
            "nillable": .bool(!field.required && field.type != .boolean && field.name != "Id"),
            // Audit fields and auto numbers are set by the org, booleans default to false.
            "defaultedOnCreate": .bool(field.system || field.type == .boolean),
            "createable": .bool(!field.system && !field.readOnlyForUser), "updateable": .bool(!field.system && !field.readOnlyForUser),
            "custom": .bool(field.name.hasSuffix("__c")), "externalId": .bool(field.externalId),
            "unique": .bool(field.unique), "idLookup": .bool(field.externalId || field.name == "Id"),
            "autoNumber": .bool(field.autoNumber), "calculated": false,
            "restrictedPicklist": .bool(field.restrictedPicklist),
            "picklistValues": .array(
                field.picklistValues.map {
                    ["active": true, "defaultValue": false, "label": .string($0), "value": .string($0), "validFor": nil]
                }),
            "referenceTo": .array(field.referenceTo.map { [.string($0)] } ?? []),
            "relationshipName": .string(orNull: field.relationshipName),
        ]
    }
}
