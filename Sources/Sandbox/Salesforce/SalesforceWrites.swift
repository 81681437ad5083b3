/// The outcome of one record of a write: the id it has, whether it was created, the values set, or its errors.
struct RecordWriteOutcome: Sendable {
    var id: String?
    var created: Bool
    var errors: [SalesforceError]
    var changes: WireObject

    var success: Bool { errors.isEmpty }

    static func failed(_ errors: [SalesforceError]) -> RecordWriteOutcome {
        RecordWriteOutcome(id: nil, created: false, errors: errors, changes: WireObject())
    }

    /// `{"id","success","errors"[,"created"]}` as an sObject Collections result.
    func collectionJSON(includeCreated: Bool) -> WireJSON {
        var object = WireObject([
            ("id", .string(orNull: id)), ("success", .bool(success)),
            ("errors", .array(errors.map(\.collectionJSON))),
        ])
        if includeCreated { object["created"] = .bool(created) }
        return .object(object)
    }
}

/// Create, update and upsert of single records on a store, with the validation an org does first.
extension SalesforceStore {
    /// The body member named like `field`, without regard to case.
    static func member(_ body: WireObject, named field: String) -> (key: String, value: WireJSON)? {
        let wanted = field.lowercased()
        return body.first { $0.key.lowercased() == wanted }
    }

    private static func changes(_ values: [String: WireJSON], order body: WireObject, object: SObjectDescription)
        -> WireObject
    {
        var changes = WireObject()
        for (key, _) in body {
            let name = object.field(named: key)?.name ?? object.referenceField(relationship: key)?.name ?? key
            if let value = values[name] { changes[name] = value }
        }
        return changes
    }

    mutating func create(_ object: SObjectDescription, body: WireObject, actor: String, at now: SandboxInstant)
        -> RecordWriteOutcome
    {
        let personAccount = object.name == "Account" ? personAccountErrors(body, existing: nil) : nil
        switch SalesforceValidator(store: self, actor: actor).prepare(body, for: object, existing: nil) {
        case .failure(let list):
            return .failed((personAccount?.errors ?? []) + list.errors)
        case .success(let values):
            if let personAccount, !personAccount.errors.isEmpty { return .failed(personAccount.errors) }
            let record = insert(object, values: values, actor: actor, at: now)
            if let personAccount { settlePersonAccount(record.id, person: personAccount.person, created: true, actor: actor, at: now) }
            return RecordWriteOutcome(
                id: record.id, created: true, errors: [],
                changes: Self.changes(values, order: body, object: object))
        }
    }

    mutating func update(
        _ object: SObjectDescription, id: String, body: WireObject, actor: String, at now: SandboxInstant,
        ignoring: Set<String> = []
    ) -> RecordWriteOutcome {
        guard let existing = liveRecord(id), existing.object == object.name else {
            return .failed([.entityIsDeleted])
        }
        if let refusal = personContactRefusal(existing) { return .failed([refusal]) }
        var checked = body
        for key in ignoring { checked[key] = nil }
        let personAccount = object.name == "Account" ? personAccountErrors(checked, existing: existing) : nil
        switch SalesforceValidator(store: self, actor: actor).prepare(body, for: object, existing: existing, ignoring: ignoring) {
        case .failure(let list):
            return .failed((personAccount?.errors ?? []) + list.errors)
        case .success(let values):
            if let personAccount, !personAccount.errors.isEmpty { return .failed(personAccount.errors) }
            update(id: existing.id, values: values, actor: actor, at: now)
            if let personAccount { settlePersonAccount(existing.id, person: personAccount.person, created: false, actor: actor, at: now) }
            return RecordWriteOutcome(
                id: existing.id, created: false, errors: [],
                changes: Self.changes(values, order: body, object: object))
        }
    }

    /// Upserts by external id: creates when no record has `value`, updates the one that has it.
    /// Several matches fail with `MULTIPLE_RECORDS_FOUND` (a single upsert answers 300 instead).
    mutating func upsert(
        _ object: SObjectDescription, field: SObjectField, value: String, body: WireObject, actor: String,
        at now: SandboxInstant
    ) -> RecordWriteOutcome {
        var body = body
        if let member = Self.member(body, named: field.name) {
            if member.value.stringValue != value {
                return .failed([
                    SalesforceError(
                        code: "INVALID_FIELD",
                        message: "The external ID value in the body does not match the one of the request",
                        fields: [field.name])
                ])
            }
            body[member.key] = nil
        }
        let matches = ids(object: object.name, field: field.name, value: value)
        switch matches.count {
        case 0:
            var createBody = body
            createBody[field.name] = .string(value)
            return create(object, body: createBody, actor: actor, at: now)
        case 1:
            return update(object, id: matches[0], body: body, actor: actor, at: now)
        default:
            return .failed([
                SalesforceError(
                    code: "MULTIPLE_RECORDS_FOUND",
                    message: "Multiple records found with \(field.name) = \(value): "
                        + matches.joined(separator: ", "),
                    fields: [field.name])
            ])
        }
    }
}
