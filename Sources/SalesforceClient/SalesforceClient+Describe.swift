import Foundation
import StagelinkEngine
import StagelinkHTTP

/// An object as `GET /services/data/vXX.X/sobjects/{Object}/describe` reports it to the
/// integration user: what `stagelink check` compares the mapping with.
///
/// Only the keys the check reads are kept (REST API Developer Guide, "sObject Describe"; the
/// field keys are those of the `Field` type of the SOAP API's `describeSObjects()` result).
///
/// For example:
///
/// ```swift
/// let contact = try await salesforce.describe("Contact")
/// contact.field(named: "EMR_Patient_Id__c")?.externalID   // true
/// ```
public struct SObjectSchema: Sendable, Hashable {
    public var name: String
    public var createable: Bool
    public var updateable: Bool
    public var fields: [Field]

    /// One field, as describe reports it to the user who asked (field-level security applied:
    /// a field the user may not edit is neither `createable` nor `updateable`).
    public struct Field: Sendable, Hashable {
        public var name: String
        /// `string`, `textarea`, `picklist`, `date`, `datetime`, `double`, `reference`, …
        public var type: String
        /// The maximum length of a text value (0 for other types).
        public var length: Int
        public var externalID: Bool
        public var unique: Bool
        public var createable: Bool
        public var updateable: Bool
        public var nillable: Bool
        /// The org gives the field a value on create when none is sent (a default, an audit field, a boolean).
        public var defaultedOnCreate: Bool
        public var restrictedPicklist: Bool
        /// The active picklist values.
        public var picklistValues: [String]
        public var referenceTo: [String]
        public var relationshipName: String?

        public init(
            name: String, type: String, length: Int = 0, externalID: Bool = false, unique: Bool = false, createable: Bool = true,
            updateable: Bool = true, nillable: Bool = true, defaultedOnCreate: Bool = false, restrictedPicklist: Bool = false, picklistValues: [String] = [],
            referenceTo: [String] = [], relationshipName: String? = nil
        ) {
            self.name = name
            self.type = type
            self.length = length
            self.externalID = externalID
            self.unique = unique
            self.createable = createable
            self.updateable = updateable
            self.nillable = nillable
            self.defaultedOnCreate = defaultedOnCreate
            self.restrictedPicklist = restrictedPicklist
            self.picklistValues = picklistValues
            self.referenceTo = referenceTo
            self.relationshipName = relationshipName
        }
    }

    public init(name: String, createable: Bool = true, updateable: Bool = true, fields: [Field]) {
        self.name = name
        self.createable = createable
        self.updateable = updateable
        self.fields = fields
    }

    /// The field with this API name; Salesforce matches API names without regard to case.
    public func field(named name: String) -> Field? {
        let wanted = name.lowercased()
        return fields.first { $0.name.lowercased() == wanted }
    }

    /// The reference field whose relationship is `relationshipName` (`Contact__r`).
    public func field(relationship relationshipName: String) -> Field? {
        let wanted = relationshipName.lowercased()
        return fields.first { $0.relationshipName?.lowercased() == wanted }
    }

    /// Reads a describe answer; nil when it is not one.
    static func parse(_ value: JSONValue) -> SObjectSchema? {
        guard let name = value["name"]?.stringValue, let fields = value["fields"]?.arrayValue else { return nil }
        let parsed = fields.compactMap { field -> Field? in
            guard let name = field["name"]?.stringValue, let type = field["type"]?.stringValue else { return nil }
            let values = (field["picklistValues"]?.arrayValue ?? []).filter { $0["active"]?.flag ?? true }.compactMap { $0["value"]?.stringValue }
            return Field(
                name: name, type: type, length: field["length"]?.integer ?? 0, externalID: field["externalId"]?.flag ?? false,
                unique: field["unique"]?.flag ?? false, createable: field["createable"]?.flag ?? false,
                updateable: field["updateable"]?.flag ?? false, nillable: field["nillable"]?.flag ?? true,
                defaultedOnCreate: field["defaultedOnCreate"]?.flag ?? false,
                restrictedPicklist: field["restrictedPicklist"]?.flag ?? false, picklistValues: values,
                referenceTo: (field["referenceTo"]?.arrayValue ?? []).compactMap(\.stringValue),
                relationshipName: field["relationshipName"]?.stringValue)
        }
        return SObjectSchema(
            name: name, createable: value["createable"]?.flag ?? false, updateable: value["updateable"]?.flag ?? false, fields: parsed)
    }
}

extension SalesforceClient {
    /// Signs in (or reuses the session) and answers the integration user's id: what a check of
    /// the credentials does first.
    public func signIn() async throws(RemoteCallError) -> String {
        try await integrationUserID()
    }

    /// `GET …/sobjects/{object}/describe`. An object the org does not have (or the user may not
    /// see) is answered 404 `NOT_FOUND`, a ``RemoteCallError`` of kind `rejected`.
    public func describe(_ object: String) async throws(RemoteCallError) -> SObjectSchema {
        try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.get, url: try dataURL(session, ["sobjects", object, "describe"]), headers: Self.jsonHeaders, retry: .idempotent)
        } decode: { (response) throws(RemoteCallError) -> SObjectSchema in
            guard let value = try? JSONValue(parsing: response.body), let schema = SObjectSchema.parse(value) else {
                throw SalesforceErrors.malformed("the describe answer of \(object) has no name or fields")
            }
            return schema
        }
    }

    /// The org's daily API requests, used and allowed, from `GET …/limits` (`DailyApiRequests`:
    /// `Max` and `Remaining`; REST API Developer Guide, "Limits").
    public func dailyAPIUsage() async throws(RemoteCallError) -> APIUsage {
        try await call { (session) throws(RemoteCallError) -> HTTPRequest in
            HTTPRequest(.get, url: try dataURL(session, ["limits"]), headers: Self.jsonHeaders, retry: .idempotent)
        } decode: { (response) throws(RemoteCallError) -> APIUsage in
            let daily = (try? JSONValue(parsing: response.body))?["DailyApiRequests"]
            guard let max = daily?["Max"]?.integer, let remaining = daily?["Remaining"]?.integer, max >= 0, remaining >= 0 else {
                throw SalesforceErrors.malformed("the limits answer has no DailyApiRequests Max and Remaining")
            }
            return APIUsage(used: Swift.max(0, max - remaining), limit: max)
        }
    }
}

extension JSONValue {
    /// A JSON boolean; nil for anything else.
    var flag: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// A JSON number that is a whole number; nil for anything else.
    var integer: Int? {
        if case .number(let lexeme) = self { return Int(lexeme) ?? Double(lexeme).flatMap { $0 == $0.rounded() ? Int(exactly: $0) : nil } }
        return nil
    }
}
