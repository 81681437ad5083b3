/// One error as Salesforce reports it: `errorCode` on single calls, `statusCode` in collections, and the fields at fault.
///
/// For example:
///
/// ```swift
/// let error = SalesforceError(code: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [LastName]",
///                             fields: ["LastName"])
/// ```
public struct SalesforceError: Error, Sendable, Hashable {
    public var code: String
    public var message: String
    public var fields: [String]

    public init(code: String, message: String, fields: [String] = []) {
        self.code = code
        self.message = message
        self.fields = fields
    }

    /// `{"message","errorCode","fields"}`, as in the body of a failed single call.
    var restJSON: WireJSON {
        ["message": .string(message), "errorCode": .string(code), "fields": .array(fields.map(WireJSON.string))]
    }

    /// `{"statusCode","message","fields"}`, as in a collections result.
    var collectionJSON: WireJSON {
        ["statusCode": .string(code), "message": .string(message), "fields": .array(fields.map(WireJSON.string))]
    }

    static func invalidField(_ name: String, object: String) -> SalesforceError {
        SalesforceError(code: "INVALID_FIELD", message: "No such column '\(name)' on sobject of type \(object)")
    }

    static func notWritable(_ name: String) -> SalesforceError {
        SalesforceError(
            code: "INVALID_FIELD_FOR_INSERT_UPDATE",
            message: "Unable to create/update fields: \(name). Please check the security settings of this field and "
                + "verify that it is read/write for your profile or permission set.",
            fields: [name])
    }

    static func requiredMissing(_ names: [String]) -> SalesforceError {
        SalesforceError(
            code: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [\(names.joined(separator: ", "))]",
            fields: names)
    }

    static func wrongType(_ field: SObjectField, _ value: WireJSON) -> SalesforceError {
        SalesforceError(
            code: "INVALID_TYPE_ON_FIELD_IN_RECORD",
            message: "\(field.label): value not of required type: \(value.displayText)", fields: [field.name])
    }

    static func tooLong(_ field: SObjectField, _ text: String) -> SalesforceError {
        SalesforceError(
            code: "STRING_TOO_LONG",
            message: "\(field.label): data value too large: \(text) (max length=\(field.length ?? 0))",
            fields: [field.name])
    }

    static func badPicklist(_ field: SObjectField, _ text: String) -> SalesforceError {
        SalesforceError(
            code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            message: "\(field.label): bad value for restricted picklist field: \(text)", fields: [field.name])
    }

    static func invalidEmail(_ field: SObjectField, _ text: String) -> SalesforceError {
        SalesforceError(
            code: "INVALID_EMAIL_ADDRESS", message: "\(field.label): invalid email address: \(text)",
            fields: [field.name])
    }

    static func duplicateValue(_ field: SObjectField, existing id: String) -> SalesforceError {
        SalesforceError(
            code: "DUPLICATE_VALUE",
            message: "duplicate value found: \(field.name) duplicates value on record with id: \(id)",
            fields: [field.name])
    }

    static let sessionExpired = SalesforceError(code: "INVALID_SESSION_ID", message: "Session expired or invalid")
    static let limitExceeded = SalesforceError(code: "REQUEST_LIMIT_EXCEEDED", message: "TotalRequests Limit exceeded.")
    /// The limit on concurrent long-running requests (``LongRequestLimit``).
    static let concurrentLimitExceeded = SalesforceError(code: "REQUEST_LIMIT_EXCEEDED", message: "ConcurrentPerOrgLongTxn Limit exceeded.")
    static let notFound = SalesforceError(code: "NOT_FOUND", message: "The requested resource does not exist")
    /// A record in the Recycle Bin, read, written or deleted again.
    static let entityIsDeleted = SalesforceError(code: "ENTITY_IS_DELETED", message: "entity is deleted")
}

extension WireJSON {
    /// The value as Salesforce quotes it in an error message.
    var displayText: String {
        switch self {
        case .string(let text): return text
        case .null: return "null"
        default: return jsonText
        }
    }
}

/// Every error one record has, as a collections result lists them.
struct SalesforceErrorList: Error, Sendable {
    var errors: [SalesforceError]
}
