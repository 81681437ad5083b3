/// The rules in force, read once per batch: `Contact.Birthdate` → `emr`.
public struct PolicyTable: Sendable, Hashable {
    private var rules: [String: OwnerRule]

    public init(_ rules: [PolicyRule]) {
        self.rules = Dictionary(rules.map { ($0.qualifiedField, $0.rule) }, uniquingKeysWith: { _, last in last })
    }

    /// The rules of an object's fields, in the order given (looked up once per batch, not per row).
    public func rules(object: String, fields: [String]) -> [OwnerRule] {
        fields.map { rule(object: object, field: $0) }
    }

    /// The rule for a field; a field the store has no rule for is held for a person, never guessed.
    public func rule(object: String, field: String) -> OwnerRule {
        rules["\(object).\(field)"] ?? .hold
    }
}
