extension MappingDocument {
    /// Every key the mapping file accepts, by section; unknown keys are errors.
    static let rootKeys: Set<String> = ["version", "instruments", "inbound", "outbound", "sensitivity"]
    static let sensitivityKeys: Set<String> = ["block", "strip", "allow", "unlisted"]
    static let instrumentKeys: Set<String> = ["name", "questionnaire", "code", "totalCode", "items", "itemMax", "severity"]
    static let inboundKeys: Set<String> = ["name", "resource", "object", "externalId", "fields", "onDelete", "onMerge", "recordType"]
    static let fieldKeys: Set<String> = ["field", "path", "type", "required", "maxLength", "values", "resource", "owner", "partial", "from"]
    static let outboundKeys: Set<String> = ["admissions", "contacts"]
    static let admissionKeys: Set<String> = [
        "object", "stageField", "readyValue", "stages", "contactField", "patient", "serviceRequest",
    ]
    static let patientKeys: Set<String> = ["mapping", "identifierSystem"]
    static let serviceRequestKeys: Set<String> = ["identifierSystem", "externalIdField", "code", "fields"]
    static let contactKeys: Set<String> = ["object", "mapping", "onDelete"]

    init(reader root: YAMLReader) throws(ConfigurationError) {
        let document = try root.mapping(allowed: Self.rootKeys)
        let version = try document.required("version")
        guard try version.int() == 1 else { throw version.error("unsupported version (this Stagelink reads version 1)") }

        var instruments: [Instrument] = []
        for element in try document["instruments"]?.sequence() ?? [] {
            instruments.append(try Self.instrument(element))
        }

        var inbound: [InboundMapping] = []
        var fieldReaders: [String: [YAMLReader]] = [:]
        for element in try document.required("inbound").sequence() {
            let (mapping, readers) = try Self.inboundMapping(element, instruments: instruments)
            guard !inbound.contains(where: { $0.name == mapping.name || $0.resource == mapping.resource }) else {
                throw element.error("a second mapping named \"\(mapping.name)\" or for \(mapping.resource)")
            }
            try Self.checkOneWriterPerField(mapping, readers: readers, earlier: inbound)
            inbound.append(mapping)
            fieldReaders[mapping.name] = readers
        }

        var outbound = OutboundMappings(admissions: nil, contacts: nil)
        if let section = document["outbound"] {
            let keys = try section.mapping(allowed: Self.outboundKeys)
            if let admissions = keys["admissions"] {
                outbound.admissions = try Self.admissions(admissions, inbound: inbound)
            }
            if let contacts = keys["contacts"] {
                let entries = try contacts.mapping(allowed: Self.contactKeys)
                let mappingName = try entries.required("mapping").string()
                guard inbound.contains(where: { $0.name == mappingName }) else {
                    throw try entries.required("mapping").error("no inbound mapping is named \"\(mappingName)\"")
                }
                outbound.contacts = ContactOutbound(object: try Self.salesforceName(entries.required("object")), mapping: mappingName)
                if let rule = entries["onDelete"] {
                    let action = try rule.mapping(allowed: ["action"]).required("action")
                    let chosen = try action.enum(DeletionRule.Action.self, what: "onDelete action")
                    if chosen == .delete {
                        throw action.error("Stagelink never deletes a Patient in the EMR: use flag or deactivate (Patient.active = false) or ignore")
                    }
                    outbound.contacts?.onDelete = DeletionRule(action: chosen)
                }
            }
        }
        // A mapping that also writes the EMR must give each FHIR path one Salesforce field.
        for name in Set([outbound.admissions?.patientMapping, outbound.contacts?.mapping].compactMap { $0 }) {
            if let mapping = inbound.first(where: { $0.name == name }) {
                try Self.checkOneTarget(mapping.fields, readers: fieldReaders[name] ?? [], by: { $0.path?.description }, what: "FHIR path")
            }
        }
        // Patients created from Contacts carry the Contact's id under the push's identifier system.
        if let admissions = outbound.admissions, let index = inbound.firstIndex(where: { $0.name == admissions.patientMapping }) {
            inbound[index].salesforceID = try? FieldPath("identifier[system=\(admissions.patientIdentifierSystem)].value")
        }
        var sensitivity = SensitivityPolicy.none
        if let section = document["sensitivity"] { sensitivity = try Self.sensitivity(section, inbound: inbound) }
        self.init(file: root.file, instruments: instruments, inbound: inbound, outbound: outbound, sensitivity: sensitivity)
        try checkOwnersAgree(root)
    }

    /// The same Salesforce field written by two mappings must have one owner.
    private func checkOwnersAgree(_ root: YAMLReader) throws(ConfigurationError) {
        var owners: [String: OwnerRule] = [:]
        for mapping in inbound {
            for field in mapping.fields {
                let key = "\(mapping.object).\(field.field)"
                if let earlier = owners[key], earlier != field.owner {
                    throw root.error("\(key) has owner \(earlier) in one mapping and \(field.owner) in \(mapping.name)")
                }
                owners[key] = field.owner
            }
        }
    }

    private static func instrument(_ reader: YAMLReader) throws(ConfigurationError) -> Instrument {
        let keys = try reader.mapping(allowed: instrumentKeys)
        var bands: [SeverityBand] = []
        for band in try keys.required("severity").sequence() {
            let entries = try band.mapping(allowed: ["upTo", "label"])
            bands.append(SeverityBand(upTo: try entries.required("upTo").int(in: 0...1_000_000), label: try entries.required("label").string()))
        }
        let instrument = Instrument(
            name: try keys.required("name").string(), questionnaire: try keys.required("questionnaire").string(),
            code: try keys.required("code").string(), totalCode: try keys.required("totalCode").string(),
            items: try keys.required("items").int(in: 1...1_000), itemMax: try keys.required("itemMax").int(in: 1...1_000), severity: bands)
        guard bands.last?.upTo == instrument.maximumScore else {
            throw try keys.required("severity").error("the last band must end at the maximum score \(instrument.maximumScore)")
        }
        return instrument
    }

    /// One inbound mapping and the reader of each of its fields (for messages that point at one).
    private static func inboundMapping(
        _ reader: YAMLReader, instruments: [Instrument]
    ) throws(ConfigurationError) -> (InboundMapping, [YAMLReader]) {
        let keys = try reader.mapping(allowed: inboundKeys)
        var fields: [FieldMapping] = []
        let elements = try keys.required("fields").sequence()
        for element in elements {
            let field = try fieldMapping(element)
            if field.type.isComputed && instruments.isEmpty {
                throw element.error("a \(field.type) field needs the instruments section")
            }
            fields.append(field)
        }
        // The same Salesforce field twice in one mapping: the second path would overwrite the first's value.
        try checkOneTarget(fields, readers: elements, by: { $0.field }, what: "Salesforce field")
        let mapping = InboundMapping(
            name: try keys.required("name").string(), resource: try fhirResourceType(keys.required("resource")),
            object: try salesforceName(keys.required("object")), externalID: try keys.required("externalId").string(), fields: fields,
            onDelete: try keys["onDelete"].map { reader throws(ConfigurationError) in try deletionRule(reader) },
            onMerge: try keys["onMerge"].map { reader throws(ConfigurationError) in try mergeRule(reader) },
            recordType: try keys["recordType"].map { reader throws(ConfigurationError) in try salesforceName(reader) })
        guard mapping.externalIDField != nil else {
            throw try keys.required("externalId").error("the external id \(mapping.externalID) is not one of the mapped fields")
        }
        return (mapping, elements)
    }

    /// `onDelete: { action: flag|delete|ignore, field: … }`. `deactivate` needs an active field,
    /// which a Salesforce object does not have: it is refused here, naming the choices.
    private static func deletionRule(_ reader: YAMLReader) throws(ConfigurationError) -> DeletionRule {
        let keys = try reader.mapping(allowed: ["action", "field"])
        let actionReader = try keys.required("action")
        let action = try actionReader.enum(DeletionRule.Action.self, what: "onDelete action")
        if action == .deactivate {
            throw actionReader.error("deactivate sets a FHIR Patient's active flag; a Salesforce record has none: use flag, delete or ignore")
        }
        let field = try keys["field"].map { field throws(ConfigurationError) in try salesforceName(field) }
        if action == .flag {
            return DeletionRule(action: .flag, field: field ?? DeletionRule.defaultFlagField)
        }
        if let extra = keys["field"] { throw extra.error("only the flag action sets a field") }
        return DeletionRule(action: action)
    }

    /// `onMerge: { action: relink, field: … }`.
    private static func mergeRule(_ reader: YAMLReader) throws(ConfigurationError) -> MergeRule {
        let keys = try reader.mapping(allowed: ["action", "field"])
        let action = try keys.required("action").enum(MergeRule.Action.self, what: "onMerge action")
        let field = try keys["field"].map { field throws(ConfigurationError) in try salesforceName(field) }
        return MergeRule(action: action, field: field ?? MergeRule.defaultFlagField)
    }

    /// Refuses two fields of one list with the same target (`key`), pointing at the second and
    /// naming the line of the first.
    private static func checkOneTarget(
        _ fields: [FieldMapping], readers: [YAMLReader], by key: (FieldMapping) -> String?, what: String
    ) throws(ConfigurationError) {
        var first: [String: Int] = [:]
        for (index, field) in fields.enumerated() {
            guard let target = key(field) else { continue }
            if let earlier = first[target], readers.indices.contains(index), readers.indices.contains(earlier) {
                let line = readers[earlier].node.mark.map { " (line \($0.line))" } ?? ""
                throw readers[index].error(
                    "\(what) \(target) is already the target of \(readers[earlier].keyPath)\(line): each \(what) may have one source, "
                        + "or one value would overwrite the other")
            }
            first[target] = index
        }
    }

    /// Two inbound mappings into one object may share only their external id (the field both
    /// match on); any other field written by both would be overwritten by whichever links last.
    private static func checkOneWriterPerField(
        _ mapping: InboundMapping, readers: [YAMLReader], earlier: [InboundMapping]
    ) throws(ConfigurationError) {
        for other in earlier where other.object == mapping.object {
            for (index, field) in mapping.fields.enumerated() where other.fields.contains(where: { $0.field == field.field }) {
                let sharedExternalID = field.field == mapping.externalID && field.field == other.externalID
                guard !sharedExternalID else { continue }
                throw readers[index].error(
                    "\(mapping.object).\(field.field) is also written by the mapping \"\(other.name)\": only the external id both "
                        + "match on may be shared, or one value would overwrite the other")
            }
        }
    }

    /// A Salesforce object or field name, checked against Salesforce's API name rules.
    private static func salesforceName(_ reader: YAMLReader) throws(ConfigurationError) -> String {
        let name = try reader.string()
        if let problem = MappingNames.salesforceProblem(name) { throw reader.error("\"\(name)\" \(problem)") }
        return name
    }

    /// A FHIR R4 resource type.
    private static func fhirResourceType(_ reader: YAMLReader) throws(ConfigurationError) -> String {
        let name = try reader.string()
        guard MappingNames.isFHIRResourceType(name) else {
            throw reader.error("\"\(name)\" is not a FHIR R4 resource type (Patient, EpisodeOfCare, QuestionnaireResponse, …)")
        }
        return name
    }

    static func fieldMapping(_ reader: YAMLReader) throws(ConfigurationError) -> FieldMapping {
        let keys = try reader.mapping(allowed: fieldKeys)
        let type = try keys["type"]?.enum(FieldType.self, what: "type") ?? .string
        var path: FieldPath?
        if let pathReader = keys["path"] {
            let text = try pathReader.string()
            do {
                path = try FieldPath(text)
            } catch {
                throw pathReader.error(error.message)
            }
        } else if !type.isComputed {
            throw reader.error("missing required key \"path\" (only instrument, score and severity are computed)")
        }
        var values: [CodeValue] = []
        if let valuesReader = keys["values"] {
            for (code, label) in try valuesReader.pairs() { values.append(CodeValue(code: code, label: try label.string())) }
        }
        if type == .code && values.isEmpty { throw reader.error("a code field needs its values (FHIR code: Salesforce value)") }
        let resource = try keys["resource"].map(fhirResourceType)
        if type == .reference && resource == nil { throw reader.error("a reference field needs the resource it refers to") }
        // Salesforce's longest text field (a long text area) holds 131,072 characters.
        let maxLength = try keys["maxLength"]?.int(in: 1...131_072)
        var field = FieldMapping(
            field: try salesforceName(keys.required("field")), path: path, type: type, required: try keys["required"]?.bool() ?? false,
            maxLength: maxLength, values: values, referenceResource: resource,
            owner: try keys.required("owner").enum(OwnerRule.self, what: "rule"))
        for (key, reader) in [("partial", keys["partial"]), ("from", keys["from"])] where reader != nil && type != .date {
            throw reader!.error("\(key) is an option of date fields")
        }
        if let reader = keys["partial"] { field.partialDates = try reader.enum(PartialDates.self, what: "partial") }
        if let reader = keys["from"] {
            field.dateSource = try reader.enum(FieldType.self, what: "from")
            guard field.dateSource == .date || field.dateSource == .datetime else { throw reader.error("from is date or datetime") }
        }
        return field
    }

    private static func admissions(_ reader: YAMLReader, inbound: [InboundMapping]) throws(ConfigurationError) -> AdmissionOutbound {
        let keys = try reader.mapping(allowed: admissionKeys)
        let patient = try keys.required("patient").mapping(allowed: patientKeys)
        let patientMapping = try patient.required("mapping").string()
        guard inbound.contains(where: { $0.name == patientMapping }) else {
            throw try patient.required("mapping").error("no inbound mapping is named \"\(patientMapping)\"")
        }
        let request = try keys.required("serviceRequest").mapping(allowed: serviceRequestKeys)
        var fields: [FieldMapping] = []
        let elements = try request["fields"]?.sequence() ?? []
        for element in elements { fields.append(try fieldMapping(element)) }
        try checkOneTarget(fields, readers: elements, by: { $0.field }, what: "Salesforce field")
        try checkOneTarget(fields, readers: elements, by: { $0.path?.description }, what: "FHIR path")
        let stages = try keys["stages"]?.strings() ?? []
        let readyValue = try keys.required("readyValue").string()
        if !stages.isEmpty && !stages.contains(readyValue) {
            throw try keys.required("readyValue").error("\"\(readyValue)\" is not one of the stages")
        }
        return AdmissionOutbound(
            object: try salesforceName(keys.required("object")), stageField: try salesforceName(keys.required("stageField")),
            readyValue: readyValue, stages: stages, contactField: try salesforceName(keys.required("contactField")), patientMapping: patientMapping,
            patientIdentifierSystem: try patient.required("identifierSystem").string(),
            serviceRequest: ServiceRequestOutbound(
                identifierSystem: try request.required("identifierSystem").string(),
                externalIDField: try salesforceName(request.required("externalIdField")), code: try request.required("code").string(), fields: fields))
    }

    /// The `sensitivity:` section: label rules by system and code, each label named once.
    private static func sensitivity(_ reader: YAMLReader, inbound: [InboundMapping]) throws(ConfigurationError) -> SensitivityPolicy {
        let keys = try reader.mapping(allowed: sensitivityKeys)
        var rules: [SensitivityPolicy.Rule] = []
        var readers: [YAMLReader] = []
        for (key, action) in [("block", SensitivityPolicy.Action.block), ("strip", .strip([])), ("allow", .allow)] {
            for element in try keys[key]?.sequence() ?? [] {
                let entries = try element.mapping(allowed: key == "strip" ? ["system", "code", "fields"] : ["system", "code"])
                let label = SecurityLabel(system: try entries.required("system").string(), code: try entries.required("code").string())
                var ruleAction = action
                if key == "strip" {
                    let fieldsReader = try entries.required("fields")
                    let fields = try fieldsReader.strings()
                    guard !fields.isEmpty else { throw fieldsReader.error("a strip rule names the Salesforce fields it removes") }
                    for field in fields {
                        let writers = inbound.filter { mapping in mapping.fields.contains { $0.field == field } }
                        guard !writers.isEmpty else { throw fieldsReader.error("\(field) is not a field of any inbound mapping") }
                        if let mapping = writers.first(where: { $0.externalID == field }) {
                            throw fieldsReader.error("\(field) is the external id of \(mapping.name): a record without it cannot be matched; block the label instead")
                        }
                    }
                    ruleAction = .strip(fields)
                }
                if let earlier = rules.firstIndex(where: { $0.label == label }) {
                    let line = readers[earlier].node.mark.map { " (line \($0.line))" } ?? ""
                    throw element.error("the label \(label) already has a rule at \(readers[earlier].keyPath)\(line): each label has one")
                }
                rules.append(SensitivityPolicy.Rule(label: label, action: ruleAction))
                readers.append(element)
            }
        }
        var unlisted = SensitivityPolicy.Action.allow
        if let value = keys["unlisted"] {
            switch try value.string() {
            case "allow": unlisted = .allow
            case "block": unlisted = .block
            case let other: throw value.error("unknown value \"\(other)\" for unlisted (expected allow or block)")
            }
        }
        return SensitivityPolicy(rules: rules, unlisted: unlisted)
    }
}
