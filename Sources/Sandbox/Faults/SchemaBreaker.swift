/// Makes a resource schema-invalid the way a broken EMR would: elements with the wrong JSON types.
enum SchemaBreaker {
    static func broken(_ resource: WireObject) -> WireJSON {
        var broken = resource
        switch resource["resourceType"]?.stringValue {
        case "Patient":
            broken["birthDate"] = .int(19_850_101)
            broken["name"] = .string("not-a-HumanName")
            broken["active"] = .string("yes")
        case "QuestionnaireResponse":
            broken["status"] = .int(1)
            broken["item"] = .string("not-a-list")
        default:
            broken["status"] = .array([.int(1)])
            broken["meta"] = .string("not-a-Meta")
        }
        return .object(broken)
    }
}
