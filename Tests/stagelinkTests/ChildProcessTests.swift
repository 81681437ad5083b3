import Foundation
import StagelinkTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How the command tests run the built `stagelink` (``ChildProcess``): the exit status or the
/// signal comes back, the output lands in its files, and nothing of the test process's many
/// descriptors is handed to the child.
struct ChildProcessTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)")

    func run(_ script: String) async throws -> (status: Int32, stdout: String, stderr: String) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let out = folder.appendingPathComponent("out").path
        let err = folder.appendingPathComponent("err").path
        let status = try await ChildProcess.run(
            "/bin/sh", ["-c", script], environment: ["GREETING": "hello"], directory: folder.path, standardOutput: out, standardError: err)
        return (status, try String(contentsOfFile: out, encoding: .utf8), try String(contentsOfFile: err, encoding: .utf8))
    }

    @Test func theExitStatusTheStreamsTheDirectoryAndTheEnvironmentAreTheChilds() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try await run("echo \"$GREETING\"; pwd; echo oops >&2; exit 3")
        #expect(result.status == 3)
        #expect(result.stdout == "hello\n\(folder.path)\n")
        #expect(result.stderr == "oops\n")
    }

    @Test func aChildEndedByASignalIs128PlusTheSignal() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try await run("kill -9 $$").status == 128 + 9)
    }

    /// With 1,500 more descriptors open than usual (Foundation's `Process.run()` reads past
    /// `/proc/self/fd`'s entries at about 1,300), the child still starts and holds only its three.
    @Test func manyOpenDescriptorsAreNeitherAProblemNorInherited() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let opened = (0..<1_500).map { _ in open("/dev/null", O_RDONLY) }
        defer { for descriptor in opened where descriptor >= 0 { close(descriptor) } }
        #expect(opened.allSatisfy { $0 >= 0 })
        let result = try await run("ls /proc/$$/fd")
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").map(String.init).sorted() == ["0", "1", "2"], "\(result.stdout)")
    }
}
