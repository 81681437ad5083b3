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
