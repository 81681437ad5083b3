import Foundation
import Glibc
import Logging
import StagelinkBenchmarks
import StagelinkEngine
import StagelinkPostgres

/// `stagelink bench --only failover`: how long a standby takes to take over from a lease holder
/// that dies (issue 20, item 9), measured as the proof harness's two-service crash test measures
/// it (Tests/Proof/failover.py): from the SIGKILL of the holder to the first job the standby
/// committed to the store (a job that ended succeeded, partial or failed), median of 5 kills.
///
/// Two `stagelink run --standby` processes of this very binary run against a sandbox and a schema
/// of their own on the PostgreSQL server, each as a host of its own (`unshare --uts` gives each
/// its own host name), so that the standby cannot see the holder's death and takes the lease over
/// only when it lapses: the path a real second host takes. A killed holder comes back at once as
/// the next standby, as a service manager restarts it.
struct FailoverBenchmark {
    var location: PostgresLocation
    var kills = 5
    var leaseTTL: Duration
    var logger: Logger

    /// The figure: the median beside the goal (lease.ttl + 5 s), with min and max in its name.
    func run() async throws -> BenchmarkFigure {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stagelink-failover-\(UUID().uuidString.prefix(8))")
        var server = location
        server.schema = "bench_failover_" + UUID().uuidString.prefix(8).lowercased()
        var quiet = logger
        quiet.logLevel = .warning
        let environment = try await DemoEnvironment.start(
            DemoEnvironment.Options(folder: folder.path, patients: 300, badShare: 0, seed: 20, every: .seconds(1), faultRate: 0, server: server), logger: quiet)
        let store = environment.context.store
        let config = folder.appendingPathComponent("stagelink.yaml")
        try FileHandle(forWritingTo: config).appendingLine("lease: { ttl: \(leaseTTL.compactText) }")
        let twoHosts = Self.canSetHostName()
        var services: [Service] = []
        var failovers: [Double] = []
        do {
            for _ in 0..<2 { services.append(try Service.start(config: config, in: folder, host: twoHosts ? "failover-host-\(services.count + 1)" : nil)) }
            _ = try await firstCommittedJob(after: Date.distantPast, in: store, within: .seconds(120))
            for kill in 1...kills {
                guard let holder = try await store.currentLease()?.holder, let index = services.firstIndex(where: { $0.pid == holder.pid }) else {
                    throw FailoverBenchmarkError.noHolder
                }
                // Kill inside the holder's work: a moment after one of its jobs committed.
                _ = try await firstCommittedJob(after: Date(), in: store, within: .seconds(60))
                let killedAt = Date()
                services[index].kill()
                let committed = try await firstCommittedJob(after: killedAt, in: store, within: leaseTTL + .seconds(120))
                let seconds = committed.timeIntervalSince(killedAt)
                failovers.append(seconds)
                logger.notice("failover \(kill) of \(kills): \(String(format: "%.1f", seconds)) s from the kill of pid \(holder.pid) to the standby's first committed job")
                services[index] = try Service.start(config: config, in: folder, host: twoHosts ? "failover-host-\(2 + kill)" : nil)
            }
        } catch {
            // The services' logs stay in the folder, for what went wrong.
            await Self.stop(services)
            try? await (store as? PostgresStore)?.dropSchema()
            await environment.sandbox.stop()
            throw error
        }
        await Self.stop(services)
        try await (store as? PostgresStore)?.dropSchema()
        await environment.sandbox.stop()
        try? FileManager.default.removeItem(at: folder)
        let sorted = failovers.sorted()
        let median = sorted[sorted.count / 2]
        let goal = leaseTTL.seconds + 5
        return BenchmarkFigure(
            name: "failover on PostgreSQL (\(location.host)): SIGKILL of the lease holder → the standby's first committed job, median of \(kills) "
                + "(min \(String(format: "%.1f", sorted[0])) s, max \(String(format: "%.1f", sorted[sorted.count - 1])) s; "
                + (twoHosts ? "two hosts" : "one host: the standby sees the holder die") + ", lease.ttl \(leaseTTL.compactText))",
            value: median, unit: "s", target: "≤ lease.ttl + 5 s (\(String(format: "%.0f", goal)) s)", meetsTarget: median <= goal)
    }

    /// When the first job that finished after `instant` with a committed status finished.
    private func firstCommittedJob(after instant: Date, in store: any SyncStore, within limit: Duration) async throws -> Date {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let finished = try await store.jobs(before: nil, limit: 50).compactMap { job -> Date? in
                guard [.succeeded, .partial, .failed].contains(job.status), let at = job.finishedAt, at > instant else { return nil }
                return at
            }
            if let first = finished.min() { return first }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FailoverBenchmarkError.noCommittedJob(limit)
    }

    /// Whether `unshare --uts` may give a process a host name of its own here.
    static func canSetHostName() -> Bool {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = Service.onHost("failover-probe", ["true"])
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }

    private static func stop(_ services: [Service]) async {
        for service in services { service.terminate() }
        for service in services { service.wait() }
    }

    /// One `stagelink run --standby` of this binary, its output in a log file of the folder.
    struct Service {
        let process: Process

        var pid: Int32 { process.processIdentifier }

        static func start(config: URL, in folder: URL, host: String?) throws -> Service {
            // This binary's own path: a child's /proc/self/exe would be the child's.
            let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let command = [binary, "run", "--standby", "--skip-checks", "--config", config.path]
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = host.map { onHost($0, command) } ?? command
            process.currentDirectoryURL = folder
            let log = folder.appendingPathComponent("service-\(UUID().uuidString.prefix(6)).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            return Service(process: process)
        }

        /// The command in a UTS namespace of its own named `host` (with a user namespace when not
        /// root), as Tests/Proof/failover.py's `on_host` does; the shell `exec`s, so the pid stays.
        static func onHost(_ host: String, _ command: [String]) -> [String] {
            let user = getuid() == 0 ? [] : ["-r"]
            return ["unshare", "--uts"] + user + ["sh", "-c", "hostname \"$0\" && exec \"$@\"", host] + command
        }

        func kill() {
            _ = Glibc.kill(pid, SIGKILL)
            process.waitUntilExit()
        }

        func terminate() {
            if process.isRunning { _ = Glibc.kill(pid, SIGTERM) }
        }

        func wait() { process.waitUntilExit() }
    }
}

enum FailoverBenchmarkError: Error, CustomStringConvertible {
    case noHolder
    case noCommittedJob(Duration)

    var description: String {
        switch self {
        case .noHolder: "the failover benchmark found no live lease holder among its two services"
        case .noCommittedJob(let limit): "no job was committed within \(limit.compactText): the services did not run (their logs stay in the benchmark's folder under the temporary directory)"
        }
    }
}

extension FileHandle {
    /// Appends `line` and a newline at the end of the file, and closes it.
    fileprivate func appendingLine(_ line: String) throws {
        try seekToEnd()
        try write(contentsOf: Data(("\n" + line + "\n").utf8))
        try close()
    }
}
