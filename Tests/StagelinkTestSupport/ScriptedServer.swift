import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP/1.1 server for transport tests: answers each request as a script says,
/// including the ways real servers fail (trickling, dropping the connection mid-body), and counts
/// the connections it accepted so that connection reuse can be seen.
public final class ScriptedServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var target: String
        public var headers: [String: String]
        public var body: [UInt8]
    }

    public struct Response: Sendable {
        public enum Behaviour: Sendable {
            case normal
            /// Waits before answering.
            case delay(Duration)
            /// Sends the headers, then one body byte per interval.
            case trickle(Duration)
            /// Sends the headers (full Content-Length) and this many body bytes, then closes.
            case drop(afterBodyBytes: Int)
        }

        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public var behaviour: Behaviour

        public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], behaviour: Behaviour = .normal) {
            self.status = status
            self.headers = headers
            self.body = body
            self.behaviour = behaviour
        }

        public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
        }
    }

    private struct State {
        var connections = 0
        var requests: [Request] = []
        var sockets: Set<Int32> = []
        var stopped = false
    }

    public let port: Int
    /// What the accepting and serving threads hold. They never hold the server itself, so a test
    /// that drops its server stops it (``deinit``): its threads end and its port closes.
    private let core: Core

    private final class Core: Sendable {
        let listener: Int32
        let state = Mutex(State())
        let handler: @Sendable (Request) -> Response

        init(listener: Int32, handler: @escaping @Sendable (Request) -> Response) {
            self.listener = listener
            self.handler = handler
        }
    }

    /// Serves `responses` in order, repeating the last one.
    public convenience init(responses: [Response]) {
        let script = Mutex(responses)
        self.init { _ in
            script.withLock { queue in queue.count > 1 ? queue.removeFirst() : queue[0] }
        }
    }

    public init(handler: @escaping @Sendable (Request) -> Response) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                _ = bind(listener, raw, length)
                _ = getsockname(listener, raw, &length)
            }
        }
        listen(listener, 64)
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let core = Core(listener: listener, handler: handler)
        self.core = core
        Thread.detachNewThread { Self.acceptLoop(core) }
    }

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }
    public var connectionCount: Int { core.state.withLock { $0.connections } }
    public var requests: [Request] { core.state.withLock { $0.requests } }

    /// Stops accepting and ends every open connection; the listening socket is closed by the
    /// accepting thread once it has left `accept`, so its descriptor is never reused under it.
    public func stop() {
        // Under the lock: a serving thread closes its socket under it too, so no descriptor is
        // shut down after another test has been given its number.
        core.state.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            shutdown(core.listener, Int32(SHUT_RDWR))
            for socket in state.sockets { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }

    deinit { stop() }

    private static func acceptLoop(_ core: Core) {
        defer { close(core.listener) }
        while true {
            let connection = accept(core.listener, nil, nil)
            guard connection >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let accepted = core.state.withLock { state in
                guard !state.stopped else { return false }
                state.connections += 1
                state.sockets.insert(connection)
                return true
            }
            guard accepted else {
                close(connection)
                return
            }
            Thread.detachNewThread { serve(connection, core) }
        }
    }

    private static func serve(_ connection: Int32, _ core: Core) {
        defer {
            core.state.withLock { state in
                state.sockets.remove(connection)
                close(connection)
            }
        }
        var buffer: [UInt8] = []
        while let request = readRequest(connection, buffer: &buffer) {
            core.state.withLock { $0.requests.append(request) }
            let response = core.handler(request)
            guard write(response, to: connection) else { return }
        }
    }

    private static func readRequest(_ connection: Int32, buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while true {
            if let end = buffer.firstRange(of: separator)?.upperBound {
                headerEnd = end
                break
            }
            guard receive(connection, into: &buffer) else { return nil }
        }
        guard let headerEnd else { return nil }
        let head = String(decoding: buffer[..<(headerEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < headerEnd + length {
            guard receive(connection, into: &buffer) else { return nil }
        }
        let body = Array(buffer[headerEnd..<(headerEnd + length)])
        buffer.removeFirst(headerEnd + length)
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
    }

    private static func receive(_ connection: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let count = recv(connection, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }

    /// Writes the answer; false when the connection must close afterwards.
    private static func write(_ response: Response, to connection: Int32) -> Bool {
        var head = "HTTP/1.1 \(response.status) Status\r\nContent-Length: \(response.body.count)\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        switch response.behaviour {
        case .normal:
            return sendAll(connection, Array(head.utf8) + response.body)
        case .delay(let duration):
            Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            return sendAll(connection, Array(head.utf8) + response.body)
        case .trickle(let interval):
            guard sendAll(connection, Array(head.utf8)) else { return false }
            for byte in response.body {
                Thread.sleep(forTimeInterval: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18)
                guard sendAll(connection, [byte]) else { return false }
            }
            return true
        case .drop(let count):
            _ = sendAll(connection, Array(head.utf8) + response.body.prefix(count))
            return false
        }
    }

    private static func sendAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }
}

/// A loopback port that is bound but not listening: connecting to it is refused for as long as
/// this lives, and no other server can take the port meanwhile.
public final class RefusingPort: Sendable {
    public let port: Int
    private let socketDescriptor: Int32

    public init() {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                _ = bind(descriptor, raw, length)
                _ = getsockname(descriptor, raw, &length)
            }
        }
        socketDescriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    public var url: URL { URL(string: "http://127.0.0.1:\(port)/refused")! }

    deinit { close(socketDescriptor) }
}
