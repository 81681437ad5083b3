import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import StagelinkEngine

/// The HTTP endpoints a monitor reads while `stagelink run` works (Hummingbird):
///
/// - `GET /metrics`: Prometheus text format 0.0.4, every figure read from the store (``MetricsExporter``);
/// - `GET /healthz`: 200 while the process is up;
/// - `GET /readyz`: 200 when the lease is held by this process (or it is a healthy standby) and the
///   last cycle finished within twice the schedule, 503 otherwise, with the reason;
/// - `GET /status`: the JSON of `stagelink status --json`, 200 when healthy or degraded, 503 when failing.
///
/// For example:
///
/// ```swift
/// let server = try await OperationsServer.start(listen: ListenAddress(port: 9464), exporter: exporter, status: status, readiness: readiness, logger: logger)
/// // curl http://127.0.0.1:9464/metrics
/// await server.stop()
/// ```
public final class OperationsServer: Sendable {
    /// The address it listens on (with the port the system chose when asked for port 0).
    public let address: ListenAddress
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// What `/status` answers: the JSON text and whether the level is failing.
    public typealias StatusReport = @Sendable () async throws -> (json: String, failing: Bool)
    /// What `/readyz` answers.
    public typealias ReadinessReport = @Sendable () async throws -> Readiness

    private init(address: ListenAddress, group: ServiceGroup, running: Task<Void, any Error>) {
        self.address = address
        self.group = group
        self.running = running
    }

    /// Binds the address and returns once it accepts connections; throws when it cannot bind.
    public static func start(
        listen: ListenAddress, exporter: MetricsExporter, status: @escaping StatusReport, readiness: @escaping ReadinessReport, logger: Logger
    ) async throws -> OperationsServer {
        let router = Router()
        router.get("/healthz") { _, _ in OperationsServer.text("ok\n", status: .ok) }
        router.get("/readyz") { _, _ in
            let answer = try await readiness()
            return OperationsServer.text((answer.ready ? "ready: " : "not ready: ") + answer.reason + "\n", status: answer.ready ? .ok : .serviceUnavailable)
        }
        router.get("/status") { _, _ in
            let report = try await status()
            return Response(
                status: report.failing ? .serviceUnavailable : .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: report.json + "\n")))
        }
        router.get("/metrics") { _, _ in
            let text = try await exporter.scrape()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        let (ports, announce) = AsyncStream.makeStream(of: Int?.self)
        let application = Application(
            router: router, configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { announce.yield($0.localAddress?.port) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: logger))
        let running = Task {
            defer { announce.yield(nil) }
            try await group.run()
        }
        var bound: Int?
        for await port in ports {
            bound = port
            break
        }
        guard let bound else {
            let failure = await running.result
            if case .failure(let error) = failure { throw error }
            throw OperationsServerError.didNotStart(listen)
        }
        logger.notice("operations endpoints listening", metadata: ["listen": "\(ListenAddress(host: listen.host, port: bound))"])
        return OperationsServer(address: ListenAddress(host: listen.host, port: bound), group: group, running: running)
    }

    /// Stops accepting connections and waits for the server to finish.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }

    private static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

public enum OperationsServerError: Error, Sendable, Hashable, CustomStringConvertible {
    case didNotStart(ListenAddress)

    public var description: String {
        switch self {
        case .didNotStart(let address): "the operations endpoints could not listen on \(address)"
        }
    }
}

/// `/readyz`'s answer: ready or not, and why.
public struct Readiness: Sendable, Hashable {
    public var ready: Bool
    public var reason: String

    public init(ready: Bool, reason: String) {
        self.ready = ready
        self.reason = reason
    }

    /// Ready when this process holds the live lease (or is a standby while a live holder has it)
    /// and its last cycle finished within twice the schedule.
    public static func assess(lease: Lease?, holder: LeaseHolder, standby: Bool, lastCycleAt: Date?, every: Duration, now: Date = Date()) -> Readiness {
        let live = lease.map { $0.expiresAt > now } ?? false
        if standby {
            guard let lease, live else { return Readiness(ready: false, reason: "standby, and no live service holds the lease") }
            return Readiness(ready: true, reason: "standby for \(lease.holder)")
        }
        guard let lease, live, lease.holder == holder else {
            return Readiness(ready: false, reason: lease.map { "the lease is held by \($0.holder)" } ?? "this process does not hold the lease")
        }
        guard let lastCycleAt else { return Readiness(ready: false, reason: "no cycle has finished yet") }
        let age = now.timeIntervalSince(lastCycleAt)
        guard age <= 2 * every.seconds else {
            return Readiness(ready: false, reason: "the last cycle finished \(AlertText.duration(age)) ago, more than twice the schedule (\(every.compactText))")
        }
        return Readiness(ready: true, reason: "lease held, last cycle \(AlertText.duration(age)) ago")
    }
}
