/// A kind of failure the sandbox can inject, each as the real service shows it on the wire.
public enum FaultKind: String, CaseIterable, Sendable, Hashable {
    /// 500: Salesforce `UNKNOWN_EXCEPTION`, FHIR `OperationOutcome` code `exception`.
    case internalServerError = "500"
    /// 503 with `Retry-After`.
    case serviceUnavailable = "503"
    /// 429 with `Retry-After`.
    case tooManyRequests = "429"
    /// Salesforce 403 `REQUEST_LIMIT_EXCEEDED`: the daily limit (`TotalRequests Limit exceeded.`).
    case requestLimitExceeded = "request-limit-exceeded"
    /// Salesforce 403 `REQUEST_LIMIT_EXCEEDED` for too many concurrent long requests
    /// (`ConcurrentPerOrgLongTxn Limit exceeded.`, ``LongRequestLimit``).
    case concurrentRequestLimit = "concurrent-request-limit"
    /// 401 as for an expired token: Salesforce `INVALID_SESSION_ID`, FHIR `OperationOutcome` with `WWW-Authenticate`.
    case expiredToken = "expired-token"
    /// The request is served (writes happen) but the answer waits past a client's timeout.
    case slowResponse = "slow-response"
    /// The request is served, then the connection closes after part of the body.
    case droppedConnection = "dropped-connection"
    /// The request is served, and answered 200 with a truncated JSON body.
    case malformedJSON = "malformed-json"
    /// A search page or read whose resource has elements of the wrong JSON type.
    case schemaInvalidResource = "schema-invalid-resource"
    /// Some records of a collection fail with `UNABLE_TO_LOCK_ROW`; the others succeed.
    case rowLock = "unable-to-lock-row"

    /// Whether this kind can happen on `endpoint`.
    public func applies(to endpoint: SandboxEndpoint) -> Bool {
        switch self {
        case .requestLimitExceeded, .concurrentRequestLimit: return endpoint.isSalesforce && !endpoint.isToken
        case .expiredToken: return !endpoint.isToken
        case .schemaInvalidResource: return endpoint == .fhirSearch || endpoint == .fhirRead
        case .rowLock: return endpoint == .salesforceCollections
        default: return true
        }
    }

    /// Whether the request still reaches its handler (and so may write) under this fault.
    var servesRequest: Bool {
        switch self {
        case .slowResponse, .droppedConnection, .malformedJSON, .schemaInvalidResource, .rowLock: return true
        default: return false
        }
    }
}

/// One fault to inject: which kind, on which endpoint group, and when it fires.
///
/// For example:
///
/// ```swift
/// let rule = FaultRule(.tooManyRequests, on: .salesforceCollections, trigger: .rate(0.2))
/// let once = FaultRule(.droppedConnection, on: .fhirSearch, trigger: .nextCalls(1))
/// ```
public struct FaultRule: Sendable, Hashable {
    /// When a rule fires.
    public enum Trigger: Sendable, Hashable {
        /// On each call with this probability (0...1), drawn from the sandbox's seeded generator.
        case rate(Double)
        /// On each of the next `n` calls, then the rule is spent.
        case nextCalls(Int)
    }

    public var kind: FaultKind
    public var endpoint: SandboxEndpoint
    public var trigger: Trigger
    /// How long a slow response waits; nil uses the configuration's `slowResponseDelay`.
    public var delay: Duration?
    /// The `Retry-After` seconds of 429 and 503.
    public var retryAfterSeconds: Int
    /// The share of a collection's records that a row-lock fault fails (at least one, never all of several).
    public var affectedShare: Double

    public init(
        _ kind: FaultKind, on endpoint: SandboxEndpoint, trigger: Trigger, delay: Duration? = nil,
        retryAfterSeconds: Int = 2, affectedShare: Double = 0.3
    ) {
        self.kind = kind
        self.endpoint = endpoint
        self.trigger = trigger
        self.delay = delay
        self.retryAfterSeconds = retryAfterSeconds
        self.affectedShare = affectedShare
    }
}
