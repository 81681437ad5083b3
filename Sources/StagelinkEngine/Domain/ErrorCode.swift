/// The catalogue of error codes: every code Stagelink produces, and every code of another system
/// that Stagelink recognises (acts on, retries, or documents for support staff), declared once
/// with its meaning, whether it is transient, and the system it comes from.
///
/// Code uses a code by name (`LinkError(.mappingWrongType, message: …)`,
/// `error.code == ErrorCode.multipleMatches.rawValue`), never as a string literal: a test scans
/// `Sources/` for code-shaped literals that are not declared here. `docs/operations.md`'s table of
/// codes is checked against this catalogue in both directions.
///
/// A remote system's own codes pass through unchanged (`LinkError.code` is a `String`): a
/// Salesforce `FIELD_CUSTOM_VALIDATION_EXCEPTION` reaches the row as Salesforce wrote it, whether
/// or not it is declared here. Declaring one says what Stagelink knows of it: that it is
/// transient (retried by itself), or what support staff should do about it.
///
/// **Adding a code** is two lines the compiler asks for together:
/// 1. a `case` in its system's group below (`case multipleMatches = "MULTIPLE_MATCHES"`);
/// 2. its line in `entry` (`case .multipleMatches: Entry(.stagelink, .lasting, "…")`);
///
/// then its row in `docs/operations.md`'s table of error codes (a test asks for it).
public enum ErrorCode: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    // MARK: Stagelink's own: the mapping's checks, before anything is sent
    case mappingInvalidJSON = "MAPPING_INVALID_JSON"
    case mappingWrongResource = "MAPPING_WRONG_RESOURCE"
    case mappingMissingField = "MAPPING_MISSING_FIELD"
    case mappingWrongType = "MAPPING_WRONG_TYPE"
    case mappingInvalidDate = "MAPPING_INVALID_DATE"
    case mappingPartialDate = "MAPPING_PARTIAL_DATE"
    case mappingUnknownCode = "MAPPING_UNKNOWN_CODE"
    case mappingTooLong = "MAPPING_TOO_LONG"
    case mappingInvalidReference = "MAPPING_INVALID_REFERENCE"
    case mappingControlCharacter = "MAPPING_CONTROL_CHARACTER"
    case mappingScoreOutOfRange = "MAPPING_SCORE_OUT_OF_RANGE"
    case mappingScoreMismatch = "MAPPING_SCORE_MISMATCH"
    case mappingUnknownInstrument = "MAPPING_UNKNOWN_INSTRUMENT"
    case mappingInvalidSecurityLabel = "MAPPING_INVALID_SECURITY_LABEL"
    case mappingNoMapping = "MAPPING_NO_MAPPING"
    case withheldByLabel = "WITHHELD_BY_LABEL"
    case waitingOnParent = "WAITING_ON_PARENT"

    // MARK: Stagelink's own: identities, writes and configuration
    case invalidIdentifier = "INVALID_IDENTIFIER"
    case identityMismatch = "IDENTITY_MISMATCH"
    case multipleMatches = "MULTIPLE_MATCHES"
    case mergeWithoutSurvivor = "MERGE_WITHOUT_SURVIVOR"
    case deletionCandidate = "DELETION_CANDIDATE"
    case counterpartRemoved = "COUNTERPART_REMOVED"
    case versionMoved = "VERSION_MOVED"
    case emrNotFound = "EMR_NOT_FOUND"
    case emrNotConfigured = "EMR_NOT_CONFIGURED"
    case salesforceNotConfigured = "SALESFORCE_NOT_CONFIGURED"
    case searchRefused = "SEARCH_REFUSED"
    case originNotAllowed = "ORIGIN_NOT_ALLOWED"
    case invalidQuery = "INVALID_QUERY"
    case recordTypeNotFound = "RECORD_TYPE_NOT_FOUND"
    case apiLimitShareReached = "API_LIMIT_SHARE_REACHED"
    case unknownFailure = "UNKNOWN_FAILURE"
    case bulkUnprocessed = "BULK_UNPROCESSED"
    case noErrorCode = "NO_ERROR_CODE"
    case unreadableCode = "UNREADABLE_CODE"

    // MARK: Stagelink's own: sign-in
    case tokenRequestFailed = "TOKEN_REQUEST_FAILED"
    case assertionSigningFailed = "ASSERTION_SIGNING_FAILED"
    case unauthorized = "UNAUTHORIZED"
    case scopeRefused = "SCOPE_REFUSED"
    case insecureTokenEndpoint = "INSECURE_TOKEN_ENDPOINT"
    case insecureInstanceURL = "INSECURE_INSTANCE_URL"

    // MARK: Stagelink's own: the transport (`HTTP_nnn` for any other status: `httpStatus(_:)`)
    case requestTimeout = "REQUEST_TIMEOUT"
    case connectionFailed = "CONNECTION_FAILED"
    case cancelled = "CANCELLED"
    case malformedResponse = "MALFORMED_RESPONSE"
    case http408 = "HTTP_408"
    case http429 = "HTTP_429"
    case http500 = "HTTP_500"
    case http502 = "HTTP_502"
    case http503 = "HTTP_503"
    case http504 = "HTTP_504"

    // MARK: Salesforce's (REST API `errorCode` / `statusCode`)
    case unableToLockRow = "UNABLE_TO_LOCK_ROW"
    case serverUnavailable = "SERVER_UNAVAILABLE"
    case unknownException = "UNKNOWN_EXCEPTION"
    case invalidSessionID = "INVALID_SESSION_ID"
    case requestLimitExceeded = "REQUEST_LIMIT_EXCEEDED"
    case invalidField = "INVALID_FIELD"
    case invalidTypeOnFieldInRecord = "INVALID_TYPE_ON_FIELD_IN_RECORD"
    case requiredFieldMissing = "REQUIRED_FIELD_MISSING"
    case stringTooLong = "STRING_TOO_LONG"
    case invalidOrNullForRestrictedPicklist = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    case duplicateValue = "DUPLICATE_VALUE"
    case entityIsDeleted = "ENTITY_IS_DELETED"
    case exceededIDLimit = "EXCEEDED_ID_LIMIT"
    case missingArgument = "MISSING_ARGUMENT"
    case insufficientAccess = "INSUFFICIENT_ACCESS"
    case apiDisabledForOrg = "API_DISABLED_FOR_ORG"

    // MARK: The EMR's (FHIR R4 OperationOutcome issue types, lowercase as FHIR writes them)
    case fhirTransient = "transient"
    case fhirException = "exception"
    case fhirTimeout = "timeout"
    case fhirThrottled = "throttled"
    case fhirLockError = "lock-error"
    case fhirValue = "value"
    case fhirInvalid = "invalid"
    case fhirStructure = "structure"
    case fhirRequired = "required"
    case fhirBusinessRule = "business-rule"
    case fhirProcessing = "processing"
    case fhirNotFound = "not-found"
    case fhirTooCostly = "too-costly"

    // MARK: Either system's token endpoint (OAuth 2.0, RFC 6749 §5.2)
    case oauthInvalidGrant = "invalid_grant"
    case oauthInvalidClient = "invalid_client"
    case oauthInvalidScope = "invalid_scope"

    /// Where a code comes from.
    public enum Origin: String, Sendable, CaseIterable {
        /// Stagelink's own checks, its names for transport failures and for answers it interprets.
        case stagelink
        /// Salesforce's REST API, passed through as Salesforce wrote it.
        case salesforce
        /// The EMR's `OperationOutcome` issue code, passed through as the EMR wrote it.
        case emr
        /// A token endpoint's OAuth error (Salesforce's or the EMR's), passed through.
        case oauth
    }

    /// What becomes of a row (or a job) that fails with a code.
    public enum Handling: String, Sendable, CaseIterable {
        /// The record was fine, the moment was not: the service tries again by itself.
        case transient
        /// Someone must fix the record, the mapping or the org; then retry.
        case lasting
        /// The row waits on another row (its parent) and links by itself once that one links: not
        /// retried on a timer, not a failure to fix by hand.
        case waiting
        /// A pull refused for how it asks, not for a record: the configuration must change. The
        /// job's message quotes the error in full (it names the fix and holds no record's data).
        case configuration
    }

    /// A code's declaration.
    public struct Entry: Sendable, Hashable {
        public var origin: Origin
        public var handling: Handling
        /// One sentence for support staff; `docs/operations.md` says what to do.
        public var meaning: String

        init(_ origin: Origin, _ handling: Handling, _ meaning: String) {
            self.origin = origin
            self.handling = handling
            self.meaning = meaning
        }
    }

    // swiftlint:disable:next function_body_length
    public var entry: Entry {
        switch self {
        case .mappingInvalidJSON: Entry(.stagelink, .lasting, "The payload is not valid JSON.")
        case .mappingWrongResource: Entry(.stagelink, .lasting, "The payload is not the resource the mapping reads.")
        case .mappingMissingField: Entry(.stagelink, .lasting, "A required value is absent.")
        case .mappingWrongType: Entry(.stagelink, .lasting, "A value has the wrong JSON type for its field.")
        case .mappingInvalidDate: Entry(.stagelink, .lasting, "A date that is not a real date, or a date-time without a zone.")
        case .mappingPartialDate: Entry(.stagelink, .lasting, "A partial FHIR date where the mapping wants a full one.")
        case .mappingUnknownCode: Entry(.stagelink, .lasting, "A code the mapping does not translate.")
        case .mappingTooLong: Entry(.stagelink, .lasting, "A value longer than the field allows.")
        case .mappingInvalidReference: Entry(.stagelink, .lasting, "A reference to another kind of resource than expected.")
        case .mappingControlCharacter: Entry(.stagelink, .lasting, "A text value holds a control character.")
        case .mappingScoreOutOfRange: Entry(.stagelink, .lasting, "An assessment answer or total outside the instrument's range.")
        case .mappingScoreMismatch: Entry(.stagelink, .lasting, "An assessment total that is not the sum of its answers.")
        case .mappingUnknownInstrument: Entry(.stagelink, .lasting, "A questionnaire the mapping does not score.")
        case .mappingInvalidSecurityLabel: Entry(.stagelink, .lasting, "A security label whose sensitivity cannot be judged: not sent.")
        case .mappingNoMapping: Entry(.stagelink, .lasting, "No mapping reads or writes this kind of record.")
        case .withheldByLabel: Entry(.stagelink, .lasting, "Withheld by a security label the mapping's sensitivity section blocks.")
        case .waitingOnParent: Entry(.stagelink, .waiting, "The other system refused the row while its parent is staged here and not linked yet: it links by itself once the parent does.")
        case .invalidIdentifier: Entry(.stagelink, .lasting, "An id that fails validation for its kind (FHIR id, Salesforce id): nothing was sent.")
        case .identityMismatch: Entry(.stagelink, .lasting, "The EMR delivered a resource under another resource's id or type.")
        case .multipleMatches: Entry(.stagelink, .lasting, "Several EMR resources carry the identifier a create names (412 on a conditional create).")
        case .mergeWithoutSurvivor: Entry(.stagelink, .lasting, "A record marked merged that names no record it was merged into (or not a valid id): nothing is moved or flagged.")
        case .deletionCandidate: Entry(.stagelink, .lasting, "A reconciliation found a linked record absent at its source, and that system's API did not report it deleted: held for a person, nothing was written.")
        case .counterpartRemoved: Entry(.stagelink, .lasting, "The record a write would reach was deleted or merged away in its system, and no survivor takes the write (the merge is held for a person, or the record was deleted): nothing was written.")
        case .versionMoved: Entry(.stagelink, .transient, "The EMR's record changed since it was read (412 on If-Match).")
        case .emrNotFound: Entry(.stagelink, .lasting, "The Patient a Contact is linked to is not in the EMR.")
        case .emrNotConfigured: Entry(.stagelink, .lasting, "A change for the EMR waits: no EMR connection is configured.")
        case .salesforceNotConfigured: Entry(.stagelink, .lasting, "A change for Salesforce waits: no Salesforce connection is configured.")
        case .searchRefused: Entry(.stagelink, .configuration, "The EMR refuses population searches: a bulk pull is needed.")
        case .originNotAllowed: Entry(.stagelink, .configuration, "A next link names another origin than the EMR's base URL.")
        case .invalidQuery: Entry(.stagelink, .lasting, "A Salesforce query could not be built from the values given.")
        case .recordTypeNotFound: Entry(.stagelink, .lasting, "The mapping's recordType names no active record type of its object in the org.")
        case .apiLimitShareReached: Entry(.stagelink, .lasting, "Stagelink's share of the org's daily API limit is used up: the job stops cleanly.")
        case .bulkUnprocessed: Entry(.stagelink, .transient, "A Salesforce Bulk API 2.0 job ended (failed or aborted) before it processed this record.")
        case .unknownFailure: Entry(.stagelink, .lasting, "Salesforce reported neither success nor an error for a record.")
        case .noErrorCode: Entry(.stagelink, .lasting, "A failed row that carries no error code (a failure group's name).")
        case .unreadableCode: Entry(.stagelink, .lasting, "A remote code that is not code-shaped, as an alert names it.")
        case .tokenRequestFailed: Entry(.stagelink, .lasting, "The token request failed.")
        case .assertionSigningFailed: Entry(.stagelink, .lasting, "The JWT assertion could not be signed with the configured key.")
        case .unauthorized: Entry(.stagelink, .lasting, "The service refused a freshly issued token.")
        case .scopeRefused: Entry(.stagelink, .lasting, "The EHR's token endpoint refused a SMART scope.")
        case .insecureTokenEndpoint: Entry(.stagelink, .lasting, "The EHR's token endpoint is not HTTPS.")
        case .insecureInstanceURL: Entry(.stagelink, .lasting, "Salesforce's token answer names an instance URL that is not HTTPS.")
        case .requestTimeout: Entry(.stagelink, .transient, "The other system did not answer in time.")
        case .connectionFailed: Entry(.stagelink, .transient, "The other system could not be reached.")
        case .cancelled: Entry(.stagelink, .transient, "The call was cancelled (the service is stopping).")
        case .malformedResponse: Entry(.stagelink, .transient, "The other system's answer could not be read.")
        case .http408: Entry(.stagelink, .transient, "HTTP 408 Request Timeout.")
        case .http429: Entry(.stagelink, .transient, "HTTP 429 Too Many Requests.")
        case .http500: Entry(.stagelink, .transient, "HTTP 500 Internal Server Error.")
        case .http502: Entry(.stagelink, .transient, "HTTP 502 Bad Gateway.")
        case .http503: Entry(.stagelink, .transient, "HTTP 503 Service Unavailable.")
        case .http504: Entry(.stagelink, .transient, "HTTP 504 Gateway Timeout.")
        case .unableToLockRow: Entry(.salesforce, .transient, "Someone else was writing the record.")
        case .serverUnavailable: Entry(.salesforce, .transient, "Salesforce is temporarily unavailable.")
        case .unknownException: Entry(.salesforce, .transient, "Salesforce failed internally.")
        case .invalidSessionID: Entry(.salesforce, .transient, "The session expired or was revoked: renewed by the client.")
        case .requestLimitExceeded: Entry(.salesforce, .transient, "The org's API limit is reached.")
        case .invalidField: Entry(.salesforce, .lasting, "No such field, or a foreign key external id not found.")
        case .invalidTypeOnFieldInRecord: Entry(.salesforce, .lasting, "A value of the wrong type for the org's field.")
        case .requiredFieldMissing: Entry(.salesforce, .lasting, "A field the org requires was not sent.")
        case .stringTooLong: Entry(.salesforce, .lasting, "A value longer than the org's field.")
        case .invalidOrNullForRestrictedPicklist: Entry(.salesforce, .lasting, "A picklist value the org does not have.")
        case .duplicateValue: Entry(.salesforce, .lasting, "Another record already has this external id.")
        case .entityIsDeleted: Entry(.salesforce, .lasting, "The Salesforce record was deleted.")
        case .exceededIDLimit: Entry(.salesforce, .lasting, "More records in one call than Salesforce takes.")
        case .missingArgument: Entry(.salesforce, .lasting, "A record without its external id or Id.")
        case .insufficientAccess: Entry(.salesforce, .lasting, "The integration user lacks a permission the request needs.")
        case .apiDisabledForOrg: Entry(.salesforce, .lasting, "The org's edition or the user's profile does not allow API access.")
        case .fhirTransient: Entry(.emr, .transient, "The EMR says: try again later.")
        case .fhirException: Entry(.emr, .transient, "The EMR failed internally.")
        case .fhirTimeout: Entry(.emr, .transient, "The EMR timed out.")
        case .fhirThrottled: Entry(.emr, .transient, "The EMR is throttling requests.")
        case .fhirLockError: Entry(.emr, .transient, "The EMR's record was locked.")
        case .fhirValue: Entry(.emr, .lasting, "The EMR refused a value.")
        case .fhirInvalid: Entry(.emr, .lasting, "The EMR refused the resource as invalid.")
        case .fhirStructure: Entry(.emr, .lasting, "The EMR refused the resource's structure.")
        case .fhirRequired: Entry(.emr, .lasting, "The EMR needs an element that was not sent.")
        case .fhirBusinessRule: Entry(.emr, .lasting, "The EMR refused the write by a business rule.")
        case .fhirProcessing: Entry(.emr, .lasting, "The EMR could not process the write.")
        case .fhirNotFound: Entry(.emr, .lasting, "The EMR has no such resource.")
        case .fhirTooCostly: Entry(.emr, .lasting, "The EMR refuses a search as too costly (read as SEARCH_REFUSED on a pull).")
        case .oauthInvalidGrant: Entry(.oauth, .lasting, "The token endpoint refused the assertion or the user.")
        case .oauthInvalidClient: Entry(.oauth, .lasting, "The token endpoint does not know the client.")
        case .oauthInvalidScope: Entry(.oauth, .lasting, "The token endpoint refuses a scope (read as SCOPE_REFUSED).")
        }
    }

    public var origin: Origin { entry.origin }
    public var isTransient: Bool { entry.handling == .transient }
    public var meaning: String { entry.meaning }
    public var description: String { rawValue }

    /// The catalogued codes with a handling, as the strings rows carry.
    public static func codes(_ handling: Handling) -> Set<String> {
        Set(allCases.filter { $0.entry.handling == handling }.map(\.rawValue))
    }

    /// The code of an HTTP status the client could not make more of (`HTTP_404`): the family
    /// `HTTP_nnn`, of which the transient members are declared above.
    public static func httpStatus(_ status: Int) -> String { "\(httpPrefix)\(status)" }

    /// The HTTP status an `HTTP_nnn` code names, if it is one.
    public static func httpStatus(in code: String) -> Int? {
        code.hasPrefix(httpPrefix) ? Int(code.dropFirst(httpPrefix.count)) : nil
    }

    /// How the docs name the `HTTP_nnn` family.
    public static let httpStatusFamily = "\(httpPrefix)nnn"

    private static let httpPrefix = "HTTP_"
}
