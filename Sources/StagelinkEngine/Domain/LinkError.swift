/// Why a record could not be linked: what the other system (or the mapping) said about it.
///
/// Carried on the failed staged row and on each attempt, so support staff see the evidence. The
/// `message` never quotes a field's value; `remoteBody` is the other system's answer verbatim and
/// stays in the store.
public struct LinkError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// A stable code: Salesforce's (`INVALID_FIELD`, `UNABLE_TO_LOCK_ROW`), FHIR's OperationOutcome
    /// code (`invalid`, `conflict`), or one of Stagelink's own (`MAPPING_INVALID_DATE`). The ones
    /// Stagelink produces or recognises are declared in ``ErrorCode``; a remote system's others
    /// pass through unchanged.
    public var code: String
    public var message: String
    /// The fields at fault, named as the target system names them (`Birthdate`).
    public var fields: [String]
    /// The other system's answer for this record, verbatim, when there was one.
    public var remoteBody: String?
    /// The record's other problems, found in the same pass (the mapping checks every field before
    /// it fails a record), in the order found; none of them holds further ones. The row's code is
    /// this error's, the first found; support staff see them all at once.
    public var further: [LinkError]

    public init(code: String, message: String, fields: [String] = [], remoteBody: String? = nil, further: [LinkError] = []) {
        self.code = code
        self.message = message
        self.fields = fields
        self.remoteBody = remoteBody
        self.further = further
    }

    /// One error for several problems of a record: the first, holding the others; nil for none.
    public init?(combining problems: [LinkError]) {
        guard var first = problems.first else { return nil }
        first.further += problems.dropFirst().flatMap(\.all)
        self = first
    }

    /// Every problem, this one first, each on its own.
    public var all: [LinkError] {
        var first = self
        first.further = []
        return [first] + further
    }

    public var description: String {
        let first = fields.isEmpty ? "\(code): \(message)" : "\(code) [\(fields.joined(separator: ", "))]: \(message)"
        return further.isEmpty ? first : "\(first) (and \(further.count) more: \(further.map(\.code).joined(separator: ", ")))"
    }

    private enum CodingKeys: String, CodingKey { case code, message, fields, remoteBody, further }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        code = try container.decode(String.self, forKey: .code)
        message = try container.decode(String.self, forKey: .message)
        fields = try container.decode([String].self, forKey: .fields)
        remoteBody = try container.decodeIfPresent(String.self, forKey: .remoteBody)
        further = try container.decodeIfPresent([LinkError].self, forKey: .further) ?? []
    }
}

extension LinkError {
    /// An error with one of the catalogue's codes.
    public init(_ code: ErrorCode, message: String, fields: [String] = [], remoteBody: String? = nil) {
        self.init(code: code.rawValue, message: message, fields: fields, remoteBody: remoteBody)
    }

    /// This error's code as the catalogue declares it; nil for a remote code it does not know.
    public var catalogued: ErrorCode? { ErrorCode(rawValue: code) }

    /// Codes worth trying again on their own: the record was fine, the moment was not.
    public static let transientCodes: Set<String> = ErrorCode.codes(.transient)

    /// Codes of a pull refused for how it asks, not for a record: the job's message quotes the
    /// error in full (it names the fix and holds no record's data).
    public static let configurationCodes: Set<String> = ErrorCode.codes(.configuration)

    /// Whether the service retries this failure by itself on a later cycle.
    public var isTransient: Bool { catalogued?.isTransient ?? false }
}

extension LinkError {
    /// This error, with the fields it is about inferred from its message when the other system did
    /// not name them (Salesforce names a missing external-id reference only in its message:
    /// "Foreign key external ID: 42 not found for field EMR_Patient_Id__c in entity Contact").
    public func namingFields(amongst sent: [String]) -> LinkError {
        guard fields.isEmpty else { return self }
        var copy = self
        copy.fields = sent.filter { name in
            message.contains(name) || (name.contains(".") && message.contains(String(name.split(separator: ".").last!)))
        }
        return copy
    }
}
