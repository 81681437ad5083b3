import StagelinkEngine

/// Finds the lines of a payload that an error is about.
///
/// An error names fields as the target system names them (`Birthdate`), while an EMR payload is
/// FHIR (`birthDate`). The mapping file says where each field sits (`name[0].family`,
/// `telecom[system=phone].value`); this resolves that path against the payload itself into the
/// concrete path that `JSONWriter.prettyLines` puts on each line (`telecom[1].value`). When the
/// mapping does not know the field, the error message's `Field (path)` form is read instead. A
/// value that is missing from the payload highlights the nearest part that is there.
///
/// For example:
///
/// ```swift
/// let locator = FailingFieldLocator(mapping: mapping)
/// locator.locations(for: row, error: error, payload: patient)   // [Location(path: "birthDate", isPresent: true)]
/// ```
struct FailingFieldLocator {
    var mapping: MappingDocument?

    /// A concrete payload path, and whether the value is there or only its nearest ancestor.
    struct Location: Hashable {
        var path: String
        var isPresent: Bool
    }

    func locations(for row: StagedRow, error: LinkError, payload: JSONValue) -> [Location] {
        var found: [Location] = []
        for field in error.fields {
            guard let path = fieldPath(field, row: row, message: error.message) else { continue }
            let location = resolve(path, in: payload)
            if !location.path.isEmpty && !found.contains(location) { found.append(location) }
        }
        return found
    }

    /// Whether a pretty-printed line with `linePath` shows (part of) the value at `path`.
    static func line(_ linePath: String, isWithin path: String) -> Bool {
        guard linePath.hasPrefix(path) else { return false }
        let rest = linePath.dropFirst(path.count)
        return rest.isEmpty || rest.hasPrefix(".") || rest.hasPrefix("[")
    }

    private func fieldPath(_ field: String, row: StagedRow, message: String) -> FieldPath? {
        if row.system == .salesforce { return try? FieldPath(field) }
        if let mapped = mapping?.inbound(forResource: row.resourceType)?.fields.first(where: { $0.field == field })?.path { return mapped }
        // The engine writes a failing field as `Birthdate (birthDate)`: take the path in brackets.
        if let start = message.range(of: "\(field) ("), let end = message[start.upperBound...].firstIndex(of: ")") {
            return try? FieldPath(String(message[start.upperBound..<end]))
        }
        return try? FieldPath(field)
    }

    private func resolve(_ path: FieldPath, in payload: JSONValue) -> Location {
        var current = payload
        var concrete = ""
        for step in path.steps {
            switch step {
            case .key(let key):
                guard let next = current[key] else { return Location(path: concrete, isPresent: false) }
                concrete += concrete.isEmpty ? key : ".\(key)"
                current = next
            case .index(let index):
                guard let next = current[index] else { return Location(path: concrete, isPresent: false) }
                concrete += "[\(index)]"
                current = next
            case .match(let key, let value):
                guard let index = current.arrayValue?.firstIndex(where: { $0[key]?.stringValue == value }) else {
                    return Location(path: concrete, isPresent: false)
                }
                concrete += "[\(index)]"
                current = current[index] ?? .null
            }
        }
        return Location(path: concrete, isPresent: true)
    }
}
