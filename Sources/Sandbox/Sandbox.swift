import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// The Salesforce REST simulator and the FHIR R4 simulator, served over HTTP on loopback, over one
/// in-memory state with seed data, a mutation driver, fault injection and inspection.
///
/// For example:
///
/// ```swift
/// let credentials = try SandboxCredentials.generate()
/// let sandbox = try await Sandbox.start(SandboxConfiguration(credentials: credentials), logger: logger)
/// print(sandbox.salesforceURL, sandbox.fhirURL)  // http://127.0.0.1:PORT, http://127.0.0.1:PORT/fhir
/// try sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .fhirSearch, trigger: .nextCalls(1)))
/// await sandbox.stop()
/// ```
///
/// ## Topics
/// - ``SandboxConfiguration``
/// - ``SandboxInspection``
/// - ``FaultInjector``
/// - ``MutationDriver``
public final class Sandbox: Sendable {
    /// The FHIR resource types the EMR simulator serves, besides the `Group` of a Bulk Data export:
    /// what a client's SMART scopes name, one type at a time, on the `certified` profile.
    public static var fhirResourceTypes: [String] { EMRStore.resourceTypes }

    /// The Salesforce simulator's base URL (the `instance_url` its tokens name), `http://127.0.0.1:PORT`.
    public let salesforceURL: String
    /// The FHIR simulator's base URL, `http://127.0.0.1:PORT/fhir`.
    public let fhirURL: String
    /// The Salesforce OAuth token endpoint, at the org's My Domain.
    public var salesforceTokenURL: String { salesforceURL + "/services/oauth2/token" }
    /// The Salesforce simulator's generic login host (it plays login.salesforce.com),
    /// `http://127.0.0.1:PORT` on a port of its own: JWT bearer with `aud`
    /// `https://login.salesforce.com` works there, client credentials do not.
    public let salesforceLoginURL: String
    /// The SMART Backend Services token endpoint.
    public var fhirTokenURL: String { fhirURL + "/auth/token" }

    /// Counts, seeded truth, write histories, records, reset.
    public var inspection: SandboxInspection { SandboxInspection(world: world) }
    /// Fault rules per endpoint group.
    public var faults: FaultInjector { world.faults }
    /// The mutation driver.
    public var mutations: MutationDriver { world.mutations }
    /// The webhook receiver for alerts (`/_sandbox/webhooks/{slack|teams|generic}/{name}` on either simulator).
    public var webhooks: WebhookReceiver { world.webhooks }
    /// The sandbox's clock, which tests may advance.
    public var clock: SandboxClock { world.clock }
    /// The configuration it started with.
    public var configuration: SandboxConfiguration { world.configuration }

    let world: SandboxWorld
    private let serviceGroup: ServiceGroup
    private let running: Task<Void, any Error>

    private init(
        world: SandboxWorld, serviceGroup: ServiceGroup, running: Task<Void, any Error>, salesforceURL: String, salesforceLoginURL: String,
        fhirURL: String
    ) {
        self.world = world
        self.serviceGroup = serviceGroup
        self.running = running
        self.salesforceURL = salesforceURL
        self.salesforceLoginURL = salesforceLoginURL
        self.fhirURL = fhirURL
    }

    /// Seeds the state, binds both servers and returns once they accept connections.
    ///
    /// - Parameter stopOnSignals: stop gracefully on SIGINT and SIGTERM (for the `stagelink sandbox` command).
    public static func start(
        _ configuration: SandboxConfiguration, logger: Logger = Logger(label: "stagelink.sandbox"),
        stopOnSignals: Bool = false
    ) async throws -> Sandbox {
        let world = SandboxWorld(configuration: configuration, logger: logger)
        let salesforcePort = PortAnnouncement()
        let fhirPort = PortAnnouncement()
        let loginPort = PortAnnouncement()
        let salesforceApp = Application(
            router: SalesforceRoutes.router(world: world),
            configuration: .init(address: .hostname(configuration.host, port: configuration.salesforcePort), serverName: nil),
            onServerRunning: { salesforcePort.announce($0.localAddress?.port) }, logger: logger)
        let fhirApp = Application(
            router: FHIRRoutes.router(world: world),
            configuration: .init(address: .hostname(configuration.host, port: configuration.fhirPort), serverName: nil),
            onServerRunning: { fhirPort.announce($0.localAddress?.port) }, logger: logger)
        let loginApp = Application(
            router: SalesforceRoutes.loginRouter(world: world),
            configuration: .init(address: .hostname(configuration.host, port: 0), serverName: nil),
            onServerRunning: { loginPort.announce($0.localAddress?.port) }, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [salesforceApp, fhirApp, loginApp], gracefulShutdownSignals: stopOnSignals ? [.sigint, .sigterm] : [],
                logger: logger))
        let running = Task { try await group.run() }
        Task {
            // A server that cannot bind never announces its port: announce that it has none.
            _ = await running.result
            salesforcePort.announce(nil)
            fhirPort.announce(nil)
            loginPort.announce(nil)
        }
        guard let sfPort = await salesforcePort.port(), let emrPort = await fhirPort.port(), let sfLoginPort = await loginPort.port() else {
            running.cancel()
            throw SandboxError.serverDidNotStart("sandbox")
        }
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        let salesforceURL = "http://\(host):\(sfPort)"
        let fhirURL = "http://\(host):\(emrPort)/fhir"
        let salesforceLoginURL = "http://\(host):\(sfLoginPort)"
        world.setBaseURLs(salesforce: salesforceURL, salesforceLogin: salesforceLoginURL, fhir: fhirURL)
        if let interval = configuration.mutationInterval { world.mutations.start(every: interval) }
        logger.info("sandbox started", metadata: ["sandbox.salesforce": "\(salesforceURL)", "sandbox.fhir": "\(fhirURL)"])
        return Sandbox(
            world: world, serviceGroup: group, running: running, salesforceURL: salesforceURL, salesforceLoginURL: salesforceLoginURL, fhirURL: fhirURL)
    }

    /// Stops the mutation driver and both servers, and waits for them to finish.
    public func stop() async {
        world.mutations.stop()
        await serviceGroup.triggerGracefulShutdown()
        let waiter = Task { [running] in _ = await running.result }
        let deadline = Task {
            try? await Task.sleep(for: .seconds(5))
            running.cancel()
        }
        await waiter.value
        deadline.cancel()
    }

    /// Waits until the servers have stopped (after `stop()`, or a signal when started with `stopOnSignals`).
    public func waitUntilStopped() async {
        _ = await running.result
        world.mutations.stop()
    }
}

/// Hands the port a server bound to the task that started it.
private final class PortAnnouncement: Sendable {
    private let state = Mutex<(port: Int?, announced: Bool, waiter: CheckedContinuation<Int?, Never>?)>((nil, false, nil))

    func announce(_ port: Int?) {
        let waiter = state.withLock { state -> CheckedContinuation<Int?, Never>? in
            guard !state.announced else { return nil }
            state.port = port
            state.announced = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: port)
    }

    func port() async -> Int? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> (Bool, Int?) in
                if state.announced { return (true, state.port) }
                state.waiter = continuation
                return (false, nil)
            }
            if ready.0 { continuation.resume(returning: ready.1) }
        }
    }
}
