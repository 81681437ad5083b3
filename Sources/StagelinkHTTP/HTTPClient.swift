import Foundation
import Logging
import StagelinkEngine

/// The transport both clients share: sends a request, retries what is worth retrying, counts
/// every attempt in the ``APIMeter`` and logs it without its query, headers or body.
///
/// Retried: 408, 429 (and what the metering says is a throttle), 5xx, idle timeouts, the whole-request deadline and dropped connections,
/// with exponential backoff and jitter or after `Retry-After`, up to `retry.maximumAttempts`.
/// A call whose outcome is unknown (a timeout, a connection dropped after sending, a 500) is sent
/// again only when its ``HTTPRequest/RetrySafety`` allows it; a 429 or 503, which say the server
/// did not act, and a connection that could not be made are retried for any call. An answer the
/// caller cannot read (`.malformedResponse` from `decode`) is retried like a dropped connection.
///
/// For example:
///
/// ```swift
/// let http = HTTPClient(configuration: HTTPConfiguration(), meter: APIMeter(), logger: logger)
/// let bundle = try await http.send(HTTPRequest(.get, url: url, retry: .idempotent)) { response throws(RemoteCallError) in
///     try BundlePage(response)
/// }
/// ```
///
/// ## Topics
/// - ``HTTPRequest``
/// - ``HTTPResponse``
/// - ``HTTPConfiguration``
/// - ``RetryPolicy``
/// - ``BearerTokenHolder``
public final class HTTPClient: Sendable {
    public let configuration: HTTPConfiguration
    public let meter: APIMeter
    let metering: any RequestMetering
    let logger: Logger
    private let transport: URLSessionTransport

    public init(configuration: HTTPConfiguration, meter: APIMeter, metering: any RequestMetering = .unmetered, logger: Logger) {
        self.configuration = configuration
        self.meter = meter
        self.metering = metering
        self.logger = logger
        self.transport = URLSessionTransport(configuration: configuration)
    }

    /// Sends `request` until it gets an answer that is not worth retrying, and returns it,
    /// whatever its status.
    public func send(_ request: HTTPRequest) async throws(RemoteCallError) -> HTTPResponse {
        try await send(request) { (response) throws(RemoteCallError) -> HTTPResponse in response }
    }

    /// Sends `request` and reads the answer with `decode`; an answer `decode` finds malformed is
    /// asked for again (within the retry budget) when the request is safe to repeat.
    public func send<Value>(
        _ request: HTTPRequest, decode: (HTTPResponse) throws(RemoteCallError) -> Value
    ) async throws(RemoteCallError) -> Value {
        var random = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            try metering.admit(request)
            let started = ContinuousClock.now
            let result = await transport.perform(request, deadline: request.timeout ?? configuration.requestTimeout)
            let elapsed = ContinuousClock.now - started
            let usage = (try? result.get()).flatMap { metering.usage(in: $0) }
            meter.recordCall(usage: usage)

            let retry: (reason: String, after: Duration?, error: RemoteCallError)
            switch result {
            case .success(let response):
                log(request, status: response.status, elapsed: elapsed, attempt: attempt)
                let throttle = metering.throttle(in: response)
                // What the linkers' concurrency windows shrink on (retried or not).
                if response.status == 429 || throttle != nil { meter.recordThrottle() }
                if let refusal = Self.retryableRefusal(response, safety: request.retry) ?? throttle {
                    retry = (String(response.status), RetryAfter.parse(response.headers["Retry-After"]), refusal)
                } else if Self.isRetryableStatus(response.status) {
                    throw Self.statusError(response)
                } else {
                    do {
                        return try decode(response)
                    } catch where error.kind == .malformedResponse && request.retry.allowsRetryWithUnknownOutcome {
                        retry = ("malformed answer", nil, error)
                    }
                }
            case .failure(let failure):
                log(request, failure: failure, elapsed: elapsed, attempt: attempt)
                let error = RemoteCallError(.transient, LinkError(failure.linkErrorCode, message: failure.description))
                guard failure.isRetryable, failure.surelyNotSent || request.retry.allowsRetryWithUnknownOutcome else {
                    throw error
                }
                retry = (failure.kind.rawValue, nil, error)
            }

            guard let delay = configuration.retry.delay(afterAttempt: attempt, retryAfter: retry.after, using: &random) else {
                throw retry.error
            }
            logger.info(
                "retrying HTTP call",
                metadata: [
                    "http.method": "\(request.method.rawValue)", "http.path": "\(request.loggablePath)",
                    "http.attempt": "\(attempt)", "http.reason": "\(retry.reason)", "http.retry_in_ms": "\(Self.milliseconds(delay))",
                ])
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw RemoteCallError(.transient, LinkError(.cancelled, message: TransportFailure.cancellation.description))
            }
            attempt += 1
        }
    }

    // MARK: - Classifying answers

    static func isRetryableStatus(_ status: Int) -> Bool {
        status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504
    }

    /// The error to retry with when `response` is worth retrying for a call of this safety.
    static func retryableRefusal(_ response: HTTPResponse, safety: HTTPRequest.RetrySafety) -> RemoteCallError? {
        guard isRetryableStatus(response.status) else { return nil }
        // 408, 429 and 503 say the server did not act; the others leave the outcome unknown.
        let serverDidNotAct = response.status == 408 || response.status == 429 || response.status == 503
        guard serverDidNotAct || safety.allowsRetryWithUnknownOutcome else { return nil }
        return statusError(response)
    }

    /// A 429 or 5xx that retries did not cure, as the transient error the rows get.
    static func statusError(_ response: HTTPResponse) -> RemoteCallError {
        let message = response.status == 429 ? "the server is rate limiting calls" : "the server answered \(response.status)"
        return RemoteCallError(.transient, LinkError(code: ErrorCode.httpStatus(response.status), message: message, remoteBody: response.bodyText))
    }

    // MARK: - Logging

    private func log(_ request: HTTPRequest, status: Int, elapsed: Duration, attempt: Int) {
        var metadata = baseMetadata(request, elapsed: elapsed, attempt: attempt)
        metadata["http.status"] = "\(status)"
        logger.debug("HTTP call", metadata: metadata)
    }

    private func log(_ request: HTTPRequest, failure: TransportFailure, elapsed: Duration, attempt: Int) {
        var metadata = baseMetadata(request, elapsed: elapsed, attempt: attempt)
        metadata["http.failure"] = "\(failure.kind.rawValue)"
        logger.debug("HTTP call failed", metadata: metadata)
    }

    private func baseMetadata(_ request: HTTPRequest, elapsed: Duration, attempt: Int) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "http.method": "\(request.method.rawValue)", "http.path": "\(request.loggablePath)",
            "http.duration_ms": "\(Self.milliseconds(elapsed))", "http.attempt": "\(attempt)",
        ]
        if let count = request.recordCount { metadata["http.records"] = "\(count)" }
        return metadata
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        RetryPolicy.nanoseconds(duration) / 1_000_000
    }
}
