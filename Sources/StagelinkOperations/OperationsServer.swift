import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import StagelinkEngine

/// The HTTP endpoints a monitor reads while `stagelink run` works (Hummingbird):
///
/// - `GET /metrics`: Prometheus text format 0.0.4, every figure read from the store (``MetricsExporter``);
/// - `GET /healthz`: 200 while the process is up;
/// - `GET /readyz`: 200 when this process does its part: it holds the lease and its last cycle
///   finished within twice the schedule (role `active`), or it is a standby that reads the store and
///   waits to take over (role `standby`); 503 otherwise; a JSON body with the role and the reason;
/// - `GET /leader`: 200 only while this process holds the live lease, 503 otherwise (the same body):
///   for a load balancer or a script that must find the active service;
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
            return OperationsServer.json(answer.json, status: answer.ready ? .ok : .serviceUnavailable)
        }
        router.get("/leader") { _, _ in
            let answer = try await readiness()
            return OperationsServer.json(answer.json, status: answer.role == .active && answer.holdsLease ? .ok : .serviceUnavailable)
        }
        router.get("/status") { _, _ in
            let report = try await status()
            return OperationsServer.json(report.json, status: report.failing ? .serviceUnavailable : .ok)
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

    private static func json(_ json: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: json + "\n")))
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

/// `/readyz`'s answer: ready or not, the process's part (its role) and why.
///
/// A standby is ready: Kubernetes takes a pod whose readiness fails out of its Services' endpoints
/// ("If the readiness probe returns a failed state, Kubernetes removes the pod from all matching
/// service endpoints", kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes),
/// counts it unavailable in a rollout, and alerts on it; a healthy standby waiting to take over is
/// doing its part. Which process is active is a separate question, answered by `/leader` (as
/// Patroni's `/leader` answers 200 only on the node holding the leader lock, for load balancers:
/// patroni.readthedocs.io/en/latest/rest_api.html) and by the `role` field.
public struct Readiness: Sendable, Hashable {
    /// The process's part in an active/standby pair.
    public enum Role: String, Sendable, Hashable {
        /// Holds the store's lease and runs the cycles.
        case active
        /// Started with `--standby`: waits for the lease, ready to take over.
        case standby
        /// Neither: another process holds the lease (this one stops at its next write).
        case inactive
    }

    public var ready: Bool
    public var reason: String
    public var role: Role
    /// Who holds the live lease, when someone does.
    public var leaseHolder: String?

    public init(ready: Bool, reason: String, role: Role = .active, leaseHolder: String? = nil) {
        self.ready = ready
        self.reason = reason
        self.role = role
        self.leaseHolder = leaseHolder
    }

    /// Whether this process is the live lease's holder (its role is active and a holder is named).
    public var holdsLease: Bool { role == .active && leaseHolder != nil }

    /// The body of `/readyz` and `/leader`.
    public var json: String {
        var object: JSONObject = ["ready": .bool(ready), "role": .string(role.rawValue), "reason": .string(reason)]
        object["leaseHolder"] = leaseHolder.map(JSONValue.string) ?? .null
        return JSONWriter.compactString(.object(object))
    }

    /// Active (this process holds the live lease): ready when its last cycle finished within twice
    /// the schedule. Standby: ready while it waits (the caller read the lease from the store, so
    /// the store answers), whoever holds the lease. Otherwise not ready.
    public static func assess(lease: Lease?, holder: LeaseHolder, standby: Bool, lastCycleAt: Date?, every: Duration, now: Date = Date()) -> Readiness {
        let live = lease.flatMap { $0.expiresAt > now ? $0 : nil }
        let current = live.map { "\($0.holder)" }
        guard let live, live.holder == holder else {
            if standby {
                return Readiness(
                    ready: true, reason: live.map { "standby for \($0.holder)" } ?? "standby: no live service holds the lease, taking it over",
                    role: .standby, leaseHolder: current)
            }
            return Readiness(
                ready: false, reason: live.map { "the lease is held by \($0.holder)" } ?? "this process does not hold the lease", role: .inactive,
                leaseHolder: current)
        }
        guard let lastCycleAt else { return Readiness(ready: false, reason: "no cycle has finished yet", role: .active, leaseHolder: current) }
        let age = now.timeIntervalSince(lastCycleAt)
        guard age <= 2 * every.seconds else {
            return Readiness(
                ready: false, reason: "the last cycle finished \(AlertText.duration(age)) ago, more than twice the schedule (\(every.compactText))", role: .active,
                leaseHolder: current)
        }
        return Readiness(ready: true, reason: "lease held, last cycle \(AlertText.duration(age)) ago", role: .active, leaseHolder: current)
    }
}
