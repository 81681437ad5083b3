import ArgumentParser
import Foundation
import StagelinkDefaults
import StagelinkEngine
import StagelinkOperations
import StagelinkStore
import Testing

@testable import stagelink

/// An installed binary carries its default mapping and themes, and `stagelink init` writes a
/// starter configuration that loads and names every key.
struct RunsFromAnywhereTests {
    static let root = DocumentationTests.root

    @Test func theBuiltInMappingIsTheRepositorysAndLoads() throws {
        let file = try String(contentsOf: Self.root.appendingPathComponent("config/mapping.yaml"), encoding: .utf8)
        #expect(BuiltInFiles.mapping == file)
        let document = try MappingDocument(yaml: BuiltInFiles.mapping, file: BuiltInFiles.mappingName)
        let loaded = try MappingDocument.load(contentsOf: Self.root.appendingPathComponent("config/mapping.yaml").path)
        #expect(document.inbound.count == loaded.inbound.count && document.instruments.count == loaded.instruments.count)
    }

    @Test func aNamedMappingMustExistAndNoneNamedFallsBackToTheBuiltInOne() throws {
        #expect(throws: ValidationError.self) { try MappingFile.load("/nonexistent/mapping.yaml") }
        let source = try MappingFile.source(nil)
        // Tests run in the repository, where ./config/mapping.yaml exists; elsewhere the built-in text is the same.
        #expect(source.yaml == BuiltInFiles.mapping)
    }

    @Test func aConfigurationWithoutAMappingKeyUsesTheBuiltInMappingWhenNoFileIsBesideIt() throws {
        let temporary = try TemporaryFolder("anywhere")
        let folder = temporary.url
        try "store: s.sqlite\n".write(to: folder.appendingPathComponent("stagelink.yaml"), atomically: true, encoding: .utf8)
        let configuration = try StagelinkConfiguration.load(contentsOf: folder.appendingPathComponent("stagelink.yaml").path)
        #expect(configuration.namedMapping == nil)
        try "mapping: mine.yaml\nstore: s.sqlite\n".write(to: folder.appendingPathComponent("stagelink.yaml"), atomically: true, encoding: .utf8)
        let named = try StagelinkConfiguration.load(contentsOf: folder.appendingPathComponent("stagelink.yaml").path)
        #expect(named.namedMapping == folder.appendingPathComponent("mine.yaml").path)
    }

    @Test func initWritesAStarterConfigurationThatLoadsAndNamesEveryKey() throws {
        let temporary = try TemporaryFolder("init")
        let folder = temporary.url.appendingPathComponent("starter")
        var command = try InitCommand.parse(["--dir", folder.path])
        try command.run()
        let configuration = try StagelinkConfiguration.load(contentsOf: folder.appendingPathComponent("stagelink.yaml").path)
        #expect(configuration.store == folder.appendingPathComponent("stagelink.sqlite").path)
        #expect(configuration.listen == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(configuration.salesforce != nil && configuration.emr != nil)
        let mapping = try MappingDocument.load(contentsOf: folder.appendingPathComponent("mapping.yaml").path)
        #expect(mapping.inbound.count == (try MappingDocument(yaml: BuiltInFiles.mapping, file: "x")).inbound.count)
        // Every key of docs/configuration.md appears in the starter file, set or commented.
        let text = StarterConfiguration.text
        for path in StagelinkConfiguration.allKeyPaths {
            let leaf = path.split(separator: ".").last.map(String.init) ?? path
            #expect(text.contains("\(leaf):"), "the starter stagelink.yaml does not mention \(path)")
        }
        // A second run leaves the edited files alone.
        command = try InitCommand.parse(["--dir", folder.path])
        #expect(throws: ExitCode.failure) { try command.run() }
    }

    @Test func theStartersAlertsBlockLoadsOnceUncommented() throws {
        let uncommented = StarterConfiguration.text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            line.hasPrefix("# alerts:") || line.hasPrefix("#   ") ? String(line.dropFirst(2)) : String(line)
        }.joined(separator: "\n")
        let temporary = try TemporaryFolder("init-alerts")
        let folder = temporary.url
        try uncommented.write(to: folder.appendingPathComponent("stagelink.yaml"), atomically: true, encoding: .utf8)
        let environment = ProcessInfo.processInfo.environment.merging(["STAGELINK_SLACK_WEBHOOK_URL": "https://hooks.example.org/services/T0/B0/x"]) { $1 }
        let configuration = try StagelinkConfiguration.$environment.withValue(environment) {
            try StagelinkConfiguration.load(contentsOf: folder.appendingPathComponent("stagelink.yaml").path)
        }
        #expect(configuration.alerts?.rules.count == AlertRule.Kind.allCases.count)
        #expect(configuration.alerts?.webhooks.first?.format == .slack)
    }
}
