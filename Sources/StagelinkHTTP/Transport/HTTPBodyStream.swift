import StagelinkEngine

/// The body of a 2xx answer to a request with ``HTTPRequest/streamsBody``, handed on in pieces as
/// the network delivers them, so that a large file (a Bulk Data NDJSON output) is read as it
/// arrives instead of being held whole.
///
/// A connection that breaks mid-body ends the iteration with a transient ``RemoteCallError``;
/// whether to fetch the body again is the reader's decision, since it has already used the pieces.
/// Abandoning the iteration (or dropping the stream) cancels the transfer, and so does releasing
/// the ``HTTPClient`` that sent the request: read the body while the client is held.
///
/// For example:
///
/// ```swift
/// var request = HTTPRequest(.get, url: fileURL, retry: .idempotent)
/// request.streamsBody = true
/// let response = try await http.send(request)
/// for try await piece in response.bodyStream ?? .complete(response.body) { lines.feed(piece) }
/// ```
public struct HTTPBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let pieces: AsyncThrowingStream<[UInt8], any Error>

    init(_ pieces: AsyncThrowingStream<[UInt8], any Error>) { self.pieces = pieces }

    /// A body already received whole, as one piece.
    public static func complete(_ body: [UInt8]) -> HTTPBodyStream {
        HTTPBodyStream(AsyncThrowingStream { continuation in
            if !body.isEmpty { continuation.yield(body) }
            continuation.finish()
        })
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator

        public mutating func next() async throws(RemoteCallError) -> [UInt8]? {
            do {
                return try await base.next()
            } catch {
                // Fixed text per kind: libcurl's own text can name hosts and files.
                let failure = error as? TransportFailure ?? TransportFailure(kind: .connectionLost, code: 0)
                throw RemoteCallError(.transient, LinkError(failure.linkErrorCode, message: "the answer's body broke off: \(failure)"))
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: pieces.makeAsyncIterator()) }
}
