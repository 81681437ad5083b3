import Sandbox
import StagelinkEngine

/// The sandbox org's custom fields, read from the engine's mapping document, so that the simulator has
/// exactly the fields, picklist values, lengths and external ids that the mapping file names.
///
/// It lives here, beside the other code that joins the sandbox to the engine, because the sandbox
/// itself does not know the engine; the demo, `stagelink sandbox` and the benchmarks use it.
extension CustomFieldSpec {
    /// The custom fields (`…__c`, and a person account's `…__pc`, which the sandbox keeps on Contact as
    /// `…__c`) of every object the mapping reads or writes; standard fields stay the sandbox's own.
    /// Lookups point at the object the referenced resource's mapping writes (`Contact`, or `Account`).
    public static func fields(of mapping: MappingDocument) -> [CustomFieldSpec] {
        func isCustom(_ name: String) -> Bool { name.hasSuffix("__c") || name.hasSuffix("__pc") }
        func object(of resource: String?) -> String { mapping.inbound(forResource: resource ?? "Patient")?.object ?? "Contact" }
        var specs: [String: CustomFieldSpec] = [:]
        var order: [String] = []
        func add(_ spec: CustomFieldSpec) {
            let key = "\(spec.object).\(spec.field.name)"
            if specs[key] == nil { order.append(key) }
            specs[key] = specs[key] ?? spec
        }
        let severities = mapping.instruments.flatMap { $0.severity.map(\.label) }.reduce(into: [String]()) {
            if !$0.contains($1) { $0.append($1) }
        }
        for inbound in mapping.inbound {
            for field in inbound.fields {
                if field.field.hasSuffix("__r.\(inbound.externalID)") || field.field.contains("__r.") {
                    let lookup = String(field.field.prefix { $0 != "." }).replacingOccurrences(of: "__r", with: "__c")
                    add(CustomFieldSpec(object: inbound.object, name: lookup, type: .reference, referenceTo: object(of: field.referenceResource)))
                    continue
                }
                guard isCustom(field.field) else { continue }
                let isExternalID = field.field == inbound.externalID
                let type: SObjectField.FieldType
                var values: [String] = []
                switch field.type {
                case .date: type = .date
                case .datetime: type = .datetime
                case .integer, .decimal, .score: type = .double
                case .boolean: type = .boolean
                case .code, .instrument:
                    type = .picklist
                    values = field.values.map(\.label)
                case .severity:
                    type = .picklist
                    values = severities
                default: type = .string
                }
                add(
                    CustomFieldSpec(
                        object: inbound.object, name: field.field, type: type,
                        maxLength: field.maxLength ?? (isExternalID ? 64 : nil),
                        required: field.required && !isExternalID, values: values,
                        externalId: isExternalID, unique: isExternalID))
            }
        }
        // The fields the onDelete and onMerge rules write: a checkbox and a text field.
        for inbound in mapping.inbound {
            if inbound.onDelete.action == .flag, let field = inbound.onDelete.field, isCustom(field) {
                add(CustomFieldSpec(object: inbound.object, name: field, type: .boolean))
            }
            if let merge = inbound.onMerge, isCustom(merge.field) {
                add(CustomFieldSpec(object: inbound.object, name: merge.field, maxLength: 255))
            }
        }
        if let admissions = mapping.outbound.admissions {
            let people = mapping.inbound(named: admissions.patientMapping)?.object ?? "Contact"
            add(CustomFieldSpec(object: admissions.object, name: admissions.contactField, type: .reference, referenceTo: people))
            add(CustomFieldSpec(object: admissions.object, name: admissions.stageField, type: .picklist, required: true, values: admissions.stages))
            add(CustomFieldSpec(object: admissions.object, name: admissions.serviceRequest.externalIDField, maxLength: 64, externalId: true))
            for field in admissions.serviceRequest.fields where field.field.hasSuffix("__c") {
                add(CustomFieldSpec(object: admissions.object, name: field.field, maxLength: field.maxLength))
            }
        }
        return order.compactMap { specs[$0] }
    }
}

extension SalesforcePeople {
    /// Where the mapping keeps people: Person Accounts when its patients mapping writes `Account`
    /// with a record type, Contacts otherwise; admissions look them up through the admissions' contact field.
    public static func of(_ mapping: MappingDocument) -> SalesforcePeople {
        let patients = mapping.peopleMapping
        let lookup = mapping.outbound.admissions?.contactField
        guard let patients, patients.object == "Account", let recordType = patients.recordType else {
            return lookup.map { SalesforcePeople(object: "Contact", recordType: nil, admissionField: $0) } ?? .contacts
        }
        return SalesforcePeople(object: "Account", recordType: recordType, admissionField: lookup ?? "Account__c")
    }
}
