#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a process of this host still runs, for taking over the lease of a crashed service.
enum LocalProcess {
    /// True unless the system says there is no process `pid` (one we may not signal still runs).
    static func isRunning(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno != ESRCH
    }
}

extension Lease {
    /// Whether the holder was a process of `host` that no longer runs (it crashed or was
    /// killed): its lease may be taken over now, and nobody is there to answer a sync request.
    public func isAbandoned(onHost host: String) -> Bool {
        holder.host == host && !LocalProcess.isRunning(holder.pid)
    }
}
