import ArgumentParser
import Foundation
import StagelinkStore
import Testing
@testable import stagelink

/// `stagelink.yaml` values that used to crash a command or load silently are refused with the
/// file, line and key, and the options that take the same values are bounded the same way.
struct ConfigurationLimitsTests {
    /// A temporary folder holding `stagelink.yaml` with `text`, and the files it names.
    struct Folder {
        /// Removed with everything in it when the last copy of this folder goes.
        let temporary: TemporaryFolder
        var url: URL { temporary.url }

        init(files: [String: String] = [:], modes: [String: Int] = [:]) throws {
            temporary = try TemporaryFolder("config-limits")
            for (name, text) in files {
                let path = url.appendingPathComponent(name).path
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: modes[name] ?? 0o600], ofItemAtPath: path)
            }
        }

        var configuration: String { url.appendingPathComponent("stagelink.yaml").path }

        func load(_ yaml: String) throws -> StagelinkConfiguration {
            try yaml.write(toFile: configuration, atomically: true, encoding: .utf8)
            return try StagelinkConfiguration.load(contentsOf: configuration)
        }

        func error(_ yaml: String) -> String? {
            do {
                _ = try load(yaml)
                return nil
            } catch {
                return "\(error)"
            }
        }
    }

    static let emr = """
        emr:
          baseURL: https://emr.example.org/fhir
          clientID: stagelink
          privateKeyFile: emr.pem

        """

    @Test(arguments: [
        ("every: 9999999999999h", "3:10: schedule.every: \"9999999999999h\" is out of range (between 1s and 168h)"),
        ("every: 1e17", "3:10: schedule.every: \"1e17\" is out of range (between 1s and 168h)"),
        ("every: 500ms", "3:10: schedule.every: \"500ms\" is out of range (between 1s and 168h)"),
        ("overlap: 99999999999999999h", "3:12: schedule.overlap: \"99999999999999999h\" is out of range (between 0ms and 24h)"),
        ("automaticRetries: -1", "3:21: schedule.automaticRetries: expected a whole number between 0 and 100, found \"-1\""),
        ("pageSize: 1e17", "3:13: schedule.pageSize: expected a whole number between 1 and 2000, found \"1e17\""),
        ("every: ~", "3:10: schedule.every: has no value (it is empty, ~ or null); give a value or leave the key out"),
    ])
    func aScheduleValueOutOfRangeIsRefusedNamingFileLineAndKey(line: String, expected: String) throws {
        let folder = try Folder()
        #expect(folder.error("store: s.sqlite\nschedule:\n  \(line)\n") == "\(folder.configuration):\(expected)")
    }

    @Test func theLeaseTTLIsThirtySecondsUnlessSetAndBoundedBothWays() throws {
        let folder = try Folder()
        #expect(try folder.load("store: s.sqlite\n").leaseTTL == .seconds(30))
        #expect(try folder.load("store: s.sqlite\nlease:\n  ttl: 10s\n").leaseTTL == .seconds(10))
        #expect(folder.error("store: s.sqlite\nlease:\n  ttl: 1s\n")?.contains("lease.ttl: \"1s\" is out of range (between 3s and 10m)") == true)
        #expect(folder.error("store: s.sqlite\nlease:\n  ttl: 2h\n")?.contains("out of range") == true)
    }

    @Test func aRequiredKeyWithNoValueIsRefused() throws {
        let folder = try Folder()
        #expect(folder.error("store: ~\n") == "\(folder.configuration):1:8: store: has no value (it is empty, ~ or null); give a value or leave the key out")
    }

    @Test(arguments: [
        ("maxConnections: 0", "maxConnections: expected a whole number between 1 and 64, found \"0\""),
        ("maxAttempts: 99999999999999999999", "maxAttempts: expected a whole number between 1 and 10, found \"99999999999999999999\""),
        ("requestTimeout: 9999999999999h", "requestTimeout: \"9999999999999h\" is out of range (between 1s and 1h)"),
        ("idleTimeout: 0s", "idleTimeout: \"0s\" is out of range (between 1s and 1h)"),
    ])
    func anHTTPValueOutOfRangeIsRefused(line: String, expected: String) throws {
        let folder = try Folder(files: ["emr.pem": "key"])
        let error = try #require(folder.error("store: s.sqlite\n\(Self.emr)  http:\n    \(line)\n"))
        #expect(error.hasPrefix("\(folder.configuration):7:"))
        #expect(error.hasSuffix("emr.http.\(expected)"))
    }

    @Test func anUnclosedVariableIsRefused() throws {
        let folder = try Folder()
        #expect(folder.error("store: ${UNCLOSED\n") == "\(folder.configuration):1:8: store: an unclosed ${ (write ${NAME} for the environment variable NAME)")
        #expect(folder.error("store: \"${NOT A NAME}\"\n")?.hasSuffix("store: ${NOT A NAME} does not name an environment variable (letters, digits and _)") == true)
    }

    /// `${NAME}` is tested through ``StagelinkConfiguration/environment`` bound for the test's task:
    /// a test that set the process's environment raced with another starting a process, and the
    /// suite crashed in Foundation's `Process.run`.
    @Test func noTestChangesTheProcesssEnvironment() throws {
        let tests = DocumentationTests.root.appendingPathComponent("Tests")
        let files = try #require(FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil))
        var offenders: [String] = []
        for case let file as URL in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for call in ["setenv(", "unsetenv(", "putenv("] where text.contains(call) && file.lastPathComponent != "ConfigurationLimitsTests.swift" {
                offenders.append("\(file.lastPathComponent): \(call)")
            }
        }
        #expect(offenders == [])
    }

    @Test func aValueWithALineBreakIsRefusedWhereverItComesFrom() throws {
        let folder = try Folder(files: ["emr.pem": "key"])
        let fromEnvironment = StagelinkConfiguration.$environment.withValue(["STAGELINK_TEST_TWO_LINES": "stagelink\nX-Injected: 1"]) {
            folder.error("store: s.sqlite\n\(Self.emr.replacingOccurrences(of: "clientID: stagelink", with: "clientID: ${STAGELINK_TEST_TWO_LINES}"))")
        }
        #expect(fromEnvironment == "\(folder.configuration):4:13: emr.clientID: holds a line break or another control character (a value must be one line)")
        let fromFile = folder.error("store: s.sqlite\n\(Self.emr.replacingOccurrences(of: "clientID: stagelink", with: "clientID: \"stage\\u001blink\""))")
        #expect(fromFile?.hasSuffix("emr.clientID: holds a line break or another control character (a value must be one line)") == true)
    }

    @Test func aPlainHTTPEndpointIsRefusedNamingTheRealKeyAndItsLine() throws {
        let folder = try Folder(files: ["emr.pem": "key"])
        let yaml = "store: s.sqlite\n" + Self.emr.replacingOccurrences(of: "https://emr.example.org/fhir", with: "http://emr.example.org/fhir")
        let error = try #require(folder.error(yaml))
        #expect(error.hasPrefix("\(folder.configuration):3:12: emr.baseURL: \"http://emr.example.org/fhir\" must use https"))
        let loopback = "store: s.sqlite\n" + Self.emr.replacingOccurrences(of: "https://emr.example.org/fhir", with: "http://127.0.0.1:8080/fhir")
        #expect(try folder.load(loopback).emr?.baseURL.absoluteString == "http://127.0.0.1:8080/fhir")
    }

    @Test func aKeyFileOthersMayReadIsAWarningNamingTheKey() throws {
        let folder = try Folder(files: ["emr.pem": "key", "open.pem": "key"], modes: ["open.pem": 0o644])
        #expect(try folder.load("store: s.sqlite\n\(Self.emr)").warnings == [])
        let open = try folder.load("store: s.sqlite\n\(Self.emr.replacingOccurrences(of: "emr.pem", with: "open.pem"))")
        let path = folder.url.appendingPathComponent("open.pem").standardized.path
        #expect(open.warnings == [
            "\(folder.configuration):5:19: emr.privateKeyFile: \(path) may be read by its group or others (mode 0644): make it private with chmod 600"
        ])
    }

    /// The message the command line would print for `arguments`, or nil when they parse.
    static func refusal(_ arguments: [String]) -> String? {
        do {
            _ = try Stagelink.parseAsRoot(arguments)
            return nil
        } catch {
            return Stagelink.message(for: error)
        }
    }

    @Test(arguments: ["99999999999999999h", "1e17", "0s", "soon"])
    func runAndDemoRefuseAnEveryOutOfRangeBeforeDoingAnything(every: String) {
        #expect(Self.refusal(["run", "--store", "s.sqlite", "--every", every])?.hasPrefix("--every: \"\(every)\" is") == true)
        #expect(Self.refusal(["demo", "--every", every])?.hasPrefix("--every: \"\(every)\" is") == true)
    }

    @Test(arguments: [
        ("--mutation-interval=inf", "--mutation-interval is between"), ("--mutation-interval=1e300", "--mutation-interval is between"),
        ("--daily-api-limit=-9223372036854775808", "--daily-api-limit is between"), ("--patients=99999999999", "--patients is between"),
    ])
    func theSandboxRefusesOptionsThatWouldOverflow(option: String, message: String) {
        #expect(Self.refusal(["sandbox", option])?.hasPrefix(message) == true)
    }
}
