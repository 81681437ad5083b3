import Hummingbird
import Synchronization

/// The faults that act on an answer already made: a slow answer, a connection dropped mid-body,
/// and a truncated JSON body.
enum ResponseFaults {
    /// Thrown by a body writer to make the server close the connection mid-body.
    struct DroppedConnection: Error {}

    /// Applies `rule` to a response the handler made.
    static func apply(_ rule: FaultRule?, to response: Response, defaultDelay: Duration) async throws -> Response {
        guard let rule else { return response }
        switch rule.kind {
        case .slowResponse:
            try await Task.sleep(for: rule.delay ?? defaultDelay)
            return response
        case .droppedConnection:
            let bytes = try await collect(response)
            let half = max(1, bytes.count / 2)
            var headers = response.headers
            headers[.contentLength] = String(max(bytes.count, 2))
            let body = ResponseBody(contentLength: max(bytes.count, 2)) { writer in
                try await writer.write(ByteBuffer(bytes: bytes.prefix(half)))
                // Let the partial body reach the socket before the connection goes.
                try await Task.sleep(for: .milliseconds(50))
                throw DroppedConnection()
            }
            return Response(status: response.status, headers: headers, body: body)
        case .malformedJSON:
            let bytes = try await collect(response)
            var headers = response.headers
            let truncated = Array(bytes.prefix(max(1, bytes.count / 2)))
            headers[.contentLength] = String(truncated.count)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: truncated)))
        default:
            return response
        }
    }

    /// The bytes of a response body.
    static func collect(_ response: Response) async throws -> [UInt8] {
        let box = CollectedBytes()
        try await response.body.write(CollectingWriter(box: box))
        return box.bytes.withLock { $0 }
    }

    private final class CollectedBytes: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    private struct CollectingWriter: ResponseBodyWriter {
        let box: CollectedBytes

        mutating func write(_ buffer: ByteBuffer) async throws {
            box.bytes.withLock { $0.append(contentsOf: buffer.readableBytesView) }
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
