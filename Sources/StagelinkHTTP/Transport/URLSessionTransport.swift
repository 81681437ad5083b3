import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One URLSession (and so one libcurl connection pool) per client, with nothing kept on disk.
///
/// The session is ephemeral with caching, cookies and credential storage off: answers hold
/// patient data and tokens, and none of it may land in a cache file. Redirects are refused, so a
/// bearer token never follows a `Location` to another host. TLS verification is libcurl's default
/// against the system trust store, and nothing here can turn it off.
final class URLSessionTransport: Sendable {
    private let session: URLSession

    init(configuration: HTTPConfiguration) {
        let settings = URLSessionConfiguration.ephemeral
        settings.timeoutIntervalForRequest = Self.seconds(configuration.idleTimeout)
        settings.timeoutIntervalForResource = Self.seconds(configuration.requestTimeout)
        settings.httpMaximumConnectionsPerHost = max(1, configuration.maximumConnectionsPerHost)
        settings.urlCache = nil
        settings.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        settings.httpCookieStorage = nil
        settings.httpShouldSetCookies = false
        settings.httpCookieAcceptPolicy = .never
        settings.urlCredentialStorage = nil
        session = URLSession(configuration: settings, delegate: RedirectRefusal(), delegateQueue: nil)
    }

    deinit {
        session.invalidateAndCancel()
    }

    /// Sends one request and waits for its complete answer, at most `deadline`.
    func perform(_ request: HTTPRequest, deadline: Duration) async -> Result<HTTPResponse, TransportFailure> {
        let urlRequest = Self.urlRequest(for: request)
        return await withTaskGroup(of: Result<HTTPResponse, TransportFailure>.self) { group in
            group.addTask { await self.exchange(urlRequest) }
            group.addTask {
                do {
                    try await Task.sleep(for: deadline)
                    return .failure(.deadline)
                } catch {
                    return .failure(.cancellation)
                }
            }
            let first = await group.next() ?? .failure(.cancellation)
            group.cancelAll()
            return first
        }
    }

    /// A data task whose cancellation follows the calling task's.
    private func exchange(_ urlRequest: URLRequest) async -> Result<HTTPResponse, TransportFailure> {
        let handle = TaskHandle()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPResponse, TransportFailure>, Never>) in
                let task = session.dataTask(with: urlRequest) { data, response, error in
                    if let error {
                        continuation.resume(returning: .failure(TransportFailure(classifying: error)))
                    } else if let response = response as? HTTPURLResponse {
                        continuation.resume(returning: .success(Self.response(response, data: data)))
                    } else {
                        continuation.resume(returning: .failure(TransportFailure(kind: .connectionLost, code: URLError.badServerResponse.rawValue)))
                    }
                }
                handle.start(task)
            }
        } onCancel: {
            handle.cancel()
        }
    }

    private static func urlRequest(for request: HTTPRequest) -> URLRequest {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method.rawValue
        for field in request.headers {
            urlRequest.setValue(field.value, forHTTPHeaderField: field.name)
        }
        if let body = request.body {
            urlRequest.httpBody = Data(body)
        }
        return urlRequest
    }

    private static func response(_ response: HTTPURLResponse, data: Data?) -> HTTPResponse {
        var headers = HTTPHeaders()
        for (name, value) in response.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name] = value }
        }
        return HTTPResponse(status: response.statusCode, headers: headers, body: data.map { [UInt8]($0) } ?? [])
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

/// The data task of one exchange, cancelled even when cancellation comes before it started.
private final class TaskHandle: Sendable {
    private struct State {
        var task: URLSessionDataTask?
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(_ task: URLSessionDataTask) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        task.resume()
        if cancelled { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }
}

/// Refuses every redirect: the 3xx answer is returned as it is, and no header (the bearer token
/// least of all) is sent to wherever `Location` points.
private final class RedirectRefusal: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
