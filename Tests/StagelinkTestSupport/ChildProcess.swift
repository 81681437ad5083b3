import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end with `posix_spawn`, for tests that run the built `stagelink`, without
/// Foundation's `Process`.
///
/// Why not `Process`: on Linux its `run()` finds the highest open descriptor by reading
/// `/proc/self/fd` and copies each entry's whole `d_name` (256 bytes) out of `readdir`'s buffer,
/// past the end of an entry near the end of that buffer. With about 1,300 descriptors open the
/// buffer is full and the copy can cross into an unmapped page: the test process, which holds
/// 2,700 descriptors at its peak (stores, sandboxes, connections of tests running at once), died
/// of it with signal 11 (`__memcpy_avx512_unaligned_erms` in `Process.run()`, the entries `1357`
/// and `1358` in the registers). It also blocks a thread in `waitUntilExit()`.
///
/// For example:
///
/// ```swift
/// let status = try await ChildProcess.run(
///     "/usr/bin/env", ["true"], environment: [:], directory: "/tmp", standardOutput: "/tmp/out", standardError: "/tmp/err")
/// ```
public enum ChildProcess {
    /// A program that could not be started.
    public struct SpawnError: Error, CustomStringConvertible {
        public var executable: String
        public var code: Int32
        public var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }

    /// Runs `executable` with `arguments` in `directory`, its standard output and error written to
    /// the files at those paths (created or truncated), its standard input empty, no other
    /// descriptor of this process inherited. Returns its exit status, or 128 + the signal that
    /// ended it. The wait is on a thread of its own, never on one of the tasks' threads.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], directory: String, standardOutput: String,
        standardError: String
    ) async throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard let changeDirectory else { throw SpawnError(executable: executable, code: ENOSYS) }
        _ = directory.withCString { changeDirectory(&actions, $0) }
        if let closeFrom { _ = closeFrom(&actions, 3) }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let code = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard code == 0 else { throw SpawnError(executable: executable, code: code) }
        let child = pid

        let status: Int32 = await withCheckedContinuation { finished in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(child, &status, 0) == -1, errno == EINTR {}
                finished.resume(returning: status)
            }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29 and later) and
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module does
    /// not declare (they need `_GNU_SOURCE`): looked up by name. Without the second, descriptors
    /// are inherited.
    private static let changeDirectory = glibc(
        "posix_spawn_file_actions_addchdir_np", as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
    private static let closeFrom = glibc(
        "posix_spawn_file_actions_addclosefrom_np", as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)

    private static func glibc<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }
}
