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
    private let delegate = SessionDelegate()

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
        session = URLSession(configuration: settings, delegate: delegate, delegateQueue: nil)
    }

    deinit {
        session.invalidateAndCancel()
    }

    /// Sends one request and waits for its complete answer, at most `deadline`.
    func perform(_ request: HTTPRequest, deadline: Duration) async -> Result<HTTPResponse, TransportFailure> {
        let urlRequest = Self.urlRequest(for: request)
        return await withTaskGroup(of: Result<HTTPResponse, TransportFailure>.self) { group in
            group.addTask { request.streamsBody ? await self.open(urlRequest) : await self.exchange(urlRequest) }
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

    /// A data task whose body is handed on as it arrives: returns at the answer's head with the
    /// body as a stream when the status is 2xx; any other answer's (small) body is collected.
    private func open(_ urlRequest: URLRequest) async -> Result<HTTPResponse, TransportFailure> {
        let handle = TaskHandle()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPResponse, TransportFailure>, Never>) in
                let task = session.dataTask(with: urlRequest)
                let (pieces, sink) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
                sink.onTermination = { termination in
                    if case .cancelled = termination { handle.cancel() }
                }
                delegate.register(task.taskIdentifier, StreamedTask(sink: sink) { head in
                    switch head {
                    case .failure(let failure):
                        continuation.resume(returning: .failure(failure))
                    case .success(let response) where (200..<300).contains(response.statusCode):
                        continuation.resume(returning: .success(Self.response(response, data: nil, stream: HTTPBodyStream(pieces))))
                    case .success(let response):
                        Task {
                            var body: [UInt8] = []
                            do {
                                for try await piece in pieces { body += piece }
                                continuation.resume(returning: .success(Self.response(response, data: Data(body))))
                            } catch {
                                continuation.resume(returning: .failure(error as? TransportFailure ?? .cancellation))
                            }
                        }
                    }
                })
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

    private static func response(_ response: HTTPURLResponse, data: Data?, stream: HTTPBodyStream? = nil) -> HTTPResponse {
        var headers = HTTPHeaders()
        for (name, value) in response.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name] = value }
        }
        return HTTPResponse(status: response.statusCode, headers: headers, body: data.map { [UInt8]($0) } ?? [], bodyStream: stream)
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

/// A task whose body is streamed: where its head and pieces go.
private struct StreamedTask: Sendable {
    let sink: AsyncThrowingStream<[UInt8], any Error>.Continuation
    /// Called once, with the head or with the failure that came before it.
    let head: @Sendable (Result<HTTPURLResponse, TransportFailure>) -> Void
}

/// The session's delegate: refuses every redirect (the 3xx answer is returned as it is, and no
/// header, the bearer token least of all, is sent to wherever `Location` points), and hands the
/// head and the body pieces of streamed tasks to their readers.
///
/// FoundationNetworking cannot pause a transfer (libcurl's receive pause is not wired up), so
/// pieces the reader has not taken yet wait in the stream: memory is bounded by how far the
/// network runs ahead of the reader, not by the size of the body.
private final class SessionDelegate: NSObject, URLSessionDataDelegate, Sendable {
    private struct Streamed {
        var task: StreamedTask
        var headSent = false
    }

    private let streamed = Mutex<[Int: Streamed]>([:])

    func register(_ identifier: Int, _ task: StreamedTask) {
        streamed.withLock { $0[identifier] = Streamed(task: task) }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        completionHandler(.allow)
        sendHead(of: dataTask.taskIdentifier, response)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let task = streamed.withLock({ $0[dataTask.taskIdentifier]?.task }) else { return }
        sendHead(of: dataTask.taskIdentifier, dataTask.response)
        task.sink.yield([UInt8](data))
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        sendHead(of: task.taskIdentifier, error == nil ? task.response : nil, failure: error.map(TransportFailure.init(classifying:)))
        guard let streamed = streamed.withLock({ $0.removeValue(forKey: task.taskIdentifier) }) else { return }
        if let error {
            streamed.task.sink.finish(throwing: TransportFailure(classifying: error))
        } else {
            streamed.task.sink.finish()
        }
    }

    /// Hands the head on once: at the response, else at the first piece or the end.
    private func sendHead(of identifier: Int, _ response: URLResponse?, failure: TransportFailure? = nil) {
        let task = streamed.withLock { streamed -> StreamedTask? in
            guard let entry = streamed[identifier], !entry.headSent else { return nil }
            streamed[identifier]?.headSent = true
            return entry.task
        }
        guard let task else { return }
        if let response = response as? HTTPURLResponse {
            task.head(.success(response))
        } else {
            task.head(.failure(failure ?? TransportFailure(kind: .connectionLost, code: URLError.badServerResponse.rawValue)))
        }
    }
}
