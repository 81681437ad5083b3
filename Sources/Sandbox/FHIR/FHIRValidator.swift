/// The checks a real FHIR server makes on create and update: element types, required elements, code
/// values of required bindings, date formats, and that referenced Patients exist.
struct FHIRValidator {
    let patientExists: (String) -> Bool

    func validate(_ resource: WireObject, type: String) throws(FHIRError) {
        guard resource["resourceType"]?.stringValue == type else {
            throw .processing("resourceType must be \(type) on this endpoint")
        }
        try optionalType(resource, "id", type: type, check: \.stringValue)
        switch type {
        case "Patient": try patient(resource)
        case "EpisodeOfCare": try episode(resource)
        case "QuestionnaireResponse": try questionnaireResponse(resource)
        case "ServiceRequest": try serviceRequest(resource)
        case "Questionnaire":
            try code(resource, "status", of: ["draft", "active", "retired", "unknown"], type: type, required: true)
        default: break
        }
    }

    private func optionalType<T>(_ resource: WireObject, _ key: String, type: String, check: (WireJSON) -> T?)
        throws(FHIRError)
    {
        if let value = resource[key], check(value) == nil { throw .invalid("\(type).\(key)", "has the wrong JSON type") }
    }

    private func array(_ resource: WireObject, _ key: String, type: String) throws(FHIRError) -> [WireObject] {
        guard let value = resource[key] else { return [] }
        guard let elements = value.arrayValue else { throw .invalid("\(type).\(key)", "must be an array") }
        var objects: [WireObject] = []
        for (index, element) in elements.enumerated() {
            guard let object = element.objectValue else { throw .invalid("\(type).\(key)[\(index)]", "must be an object") }
            objects.append(object)
        }
        return objects
    }

    private func code(_ resource: WireObject, _ key: String, of values: Set<String>, type: String, required: Bool)
        throws(FHIRError)
    {
        guard let value = resource[key] else {
            if required { throw .invalid("\(type).\(key)", "is required") }
            return
        }
        guard let text = value.stringValue, values.contains(text) else {
            throw FHIRError(
                status: 400, code: "code-invalid",
                diagnostics: "\(type).\(key): unknown code, expected one of \(values.sorted().joined(separator: ", "))",
                expression: ["\(type).\(key)"])
        }
    }

    /// FHIR `date`: `YYYY`, `YYYY-MM` or a real calendar `YYYY-MM-DD`.
    static func isDate(_ text: String) -> Bool {
        switch text.count {
        case 4: return Int(text) != nil
        case 7: return CivilDate(text + "-01") != nil
        case 10: return CivilDate(text) != nil
        default: return false
        }
    }

    /// FHIR `dateTime`: a date, or a date-time with seconds and a zone.
    static func isDateTime(_ text: String) -> Bool {
        isDate(text) || SandboxInstant(iso8601: text) != nil
    }

    private func date(_ resource: WireObject, _ key: String, path: String, allowTime: Bool) throws(FHIRError) {
        guard let value = resource[key] else { return }
        guard let text = value.stringValue, allowTime ? Self.isDateTime(text) : Self.isDate(text) else {
            throw .invalid(path, "is not a valid \(allowTime ? "dateTime" : "date")")
        }
    }

    private func patientReference(_ resource: WireObject, _ key: String, type: String, required: Bool)
        throws(FHIRError)
    {
        guard let value = resource[key] else {
            if required { throw .invalid("\(type).\(key)", "is required") }
            return
        }
        guard let reference = value["reference"]?.stringValue else {
            throw .invalid("\(type).\(key)", "must be a Reference with a reference")
        }
        let parts = reference.split(separator: "/")
        guard parts.count == 2, parts[0] == "Patient" else {
            throw .invalid("\(type).\(key).reference", "must refer to a Patient")
        }
        guard patientExists(String(parts[1])) else {
            throw .processing("Resource Patient/\(parts[1]) not found, specified in path: \(type).\(key)")
        }
    }

    private func patient(_ resource: WireObject) throws(FHIRError) {
        try optionalType(resource, "active", type: "Patient", check: \.boolValue)
        for (index, name) in try array(resource, "name", type: "Patient").enumerated() {
            try optionalType(name, "family", type: "Patient.name[\(index)]", check: \.stringValue)
            if let given = name["given"], given.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
                throw .invalid("Patient.name[\(index)].given", "must be an array of strings")
            }
        }
        for (index, telecom) in try array(resource, "telecom", type: "Patient").enumerated() {
            try code(
                telecom, "system", of: ["phone", "fax", "email", "pager", "url", "sms", "other"],
                type: "Patient.telecom[\(index)]", required: false)
            try optionalType(telecom, "value", type: "Patient.telecom[\(index)]", check: \.stringValue)
        }
        for (index, address) in try array(resource, "address", type: "Patient").enumerated() {
            for key in ["city", "state", "postalCode", "country"] {
                try optionalType(address, key, type: "Patient.address[\(index)]", check: \.stringValue)
            }
        }
        _ = try array(resource, "identifier", type: "Patient")
        try code(resource, "gender", of: ["male", "female", "other", "unknown"], type: "Patient", required: false)
        try date(resource, "birthDate", path: "Patient.birthDate", allowTime: false)
    }

    private func period(_ resource: WireObject, type: String) throws(FHIRError) {
        guard let period = resource["period"] else { return }
        guard let object = period.objectValue else { throw .invalid("\(type).period", "must be a Period") }
        try date(object, "start", path: "\(type).period.start", allowTime: true)
        try date(object, "end", path: "\(type).period.end", allowTime: true)
    }

    private func episode(_ resource: WireObject) throws(FHIRError) {
        try code(
            resource, "status", of: ["planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"],
            type: "EpisodeOfCare", required: true)
        try patientReference(resource, "patient", type: "EpisodeOfCare", required: true)
        _ = try array(resource, "type", type: "EpisodeOfCare")
        try period(resource, type: "EpisodeOfCare")
    }

    private func questionnaireResponse(_ resource: WireObject) throws(FHIRError) {
        try code(
            resource, "status", of: ["in-progress", "completed", "amended", "entered-in-error", "stopped"],
            type: "QuestionnaireResponse", required: true)
        try optionalType(resource, "questionnaire", type: "QuestionnaireResponse", check: \.stringValue)
        try patientReference(resource, "subject", type: "QuestionnaireResponse", required: false)
        try date(resource, "authored", path: "QuestionnaireResponse.authored", allowTime: true)
        for (index, item) in try array(resource, "item", type: "QuestionnaireResponse").enumerated() {
            guard item["linkId"]?.stringValue != nil else {
                throw .invalid("QuestionnaireResponse.item[\(index)].linkId", "is required")
            }
            _ = try array(item, "answer", type: "QuestionnaireResponse.item[\(index)]")
        }
    }

    private func serviceRequest(_ resource: WireObject) throws(FHIRError) {
        try code(
            resource, "status",
            of: ["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"],
            type: "ServiceRequest", required: true)
        try code(
            resource, "intent",
            of: ["proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order",
                "instance-order", "option"], type: "ServiceRequest", required: true)
        try patientReference(resource, "subject", type: "ServiceRequest", required: true)
        _ = try array(resource, "identifier", type: "ServiceRequest")
    }
}
