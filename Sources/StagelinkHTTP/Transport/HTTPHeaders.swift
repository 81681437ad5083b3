/// Header fields in the order they were set, looked up without regard to case.
///
/// For example:
///
/// ```swift
/// var headers: HTTPHeaders = ["Accept": "application/fhir+json"]
/// headers["If-None-Exist"] = "identifier=https://example.org/sf|003xx"
/// headers["accept"]   // "application/fhir+json"
/// ```
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    private var fields: [Field] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { self[name] = value }
    }

    /// The first value of `name`; setting replaces every field of that name, nil removes them.
    public subscript(name: String) -> String? {
        get { fields.first { $0.name.lowercased() == name.lowercased() }?.value }
        set {
            let key = name.lowercased()
            var replaced = false
            var kept: [Field] = []
            for field in fields {
                guard field.name.lowercased() == key else {
                    kept.append(field)
                    continue
                }
                if let newValue, !replaced { kept.append(Field(name: name, value: newValue)) }
                replaced = true
            }
            if let newValue, !replaced { kept.append(Field(name: name, value: newValue)) }
            fields = kept
        }
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}
