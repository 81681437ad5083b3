import Foundation
import StagelinkEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `STAGELINK_CRASH_AT=point:n`: the proof harness's switch. The process kills itself with
/// SIGKILL the n-th time it reaches that crash point (n defaults to 1), after one line on stderr
/// saying so; nothing is flushed, closed or rolled back, as in a power cut. Unset, it does nothing.
///
/// For example, dying between the EMR's create of a Patient and the record of its id:
///
/// ```
/// STAGELINK_CRASH_AT=emr.created:1 stagelink sync
/// ```
///
/// The points are listed by ``CrashPoint/all``; an unknown name is refused, so that a mistyped
/// schedule cannot pass by killing nothing.
enum CrashSwitch {
    static let variable = "STAGELINK_CRASH_AT"

    /// Installs the hook when the variable is set; throws on a value it cannot read.
    static func installFromEnvironment() throws {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return }
        let (point, times) = try parse(value)
        let reached = Atomic<Int>(0)
        CrashPoints.install { reachedPoint in
            guard reachedPoint == point else { return }
            let count = reached.add(1, ordering: .relaxed).newValue
            guard count == times else { return }
            let line = "stagelink: crash point \(point) reached (time \(count)): SIGKILL (\(variable))\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            kill(getpid(), SIGKILL)
        }
    }

    /// `name` or `name:n` → the point and n.
    static func parse(_ value: String) throws -> (CrashPoint, Int) {
        let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = parts.first, let point = CrashPoint.all.first(where: { $0.rawValue == name }) else {
            throw CrashSwitchError(value: value)
        }
        guard parts.count == 1 || Int(parts[1]).map({ $0 >= 1 }) == true else { throw CrashSwitchError(value: value) }
        return (point, parts.count == 2 ? Int(parts[1])! : 1)
    }
}

/// A `STAGELINK_CRASH_AT` value that names no crash point.
struct CrashSwitchError: Error, CustomStringConvertible {
    var value: String

    var description: String {
        "\(CrashSwitch.variable)=\(value) is not point[:n] with n ≥ 1; the points are \(CrashPoint.all.map(\.rawValue).joined(separator: ", "))"
    }
}
