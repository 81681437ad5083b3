import ArgumentParser
import Foundation
import StagelinkStore
import Testing
@testable import stagelink

/// The README and docs promise commands and configuration keys; these tests keep them honest.
struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func documents() throws -> [(name: String, text: String)] {
        let docs = root.appendingPathComponent("docs")
        let names = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
        return try [("README.md", String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8))]
            + names.map { ("docs/\($0)", try String(contentsOf: docs.appendingPathComponent($0), encoding: .utf8)) }
    }

    /// Every `stagelink <command> [<subcommand>]` written in the docs, as words.
    static func commandsNamed(in text: String) -> [[String]] {
        let pattern = try! NSRegularExpression(pattern: #"(?<![\w/.-])stagelink ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?"#)
        let range = NSRange(text.startIndex..., in: text)
        return pattern.matches(in: text, range: range).map { match in
            (1..<match.numberOfRanges).compactMap { index in Range(match.range(at: index), in: text).map { String(text[$0]) } }
        }
    }

    @Test func everyCommandTheDocsNameExists() throws {
        let commands = Stagelink.configuration.subcommands
        var named = 0
        for (name, text) in try Self.documents() {
            for words in Self.commandsNamed(in: text) {
                named += 1
                guard let command = commands.first(where: { $0._commandName == words[0] }) else {
                    Issue.record("\(name) names `stagelink \(words[0])`, which `stagelink --help` does not list")
                    continue
                }
                // For a command with subcommands (policy), a second word must be one of them.
                let subcommands = command.configuration.subcommands.map { $0._commandName }
                if words.count > 1, !subcommands.isEmpty, !subcommands.contains(words[1]) {
                    Issue.record("\(name) names `stagelink \(words[0]) \(words[1])`, which does not exist")
                }
            }
        }
        #expect(named > 20, "the docs name the commands they explain")
    }

    @Test func theConfigurationKeysDocumentedAreExactlyTheOnesTheLoaderAccepts() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"^\| `([a-zA-Z.]+)` \|"#, options: .anchorsMatchLines)
        let documented = Set(pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        })
        let accepted = StagelinkConfiguration.allKeyPaths
        #expect(documented.subtracting(accepted).sorted() == [], "documented but not accepted")
        #expect(accepted.subtracting(documented).sorted() == [], "accepted but not documented")
    }

    @Test func theConfigurationExampleInTheDocsLoads() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let start = try #require(text.range(of: "```yaml\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let temporary = try TemporaryFolder("docs-example")
        let file = temporary.url.appendingPathComponent("stagelink.yaml")
        try String(text[start.upperBound..<end.lowerBound]).write(to: file, atomically: true, encoding: .utf8)
        let environment = ProcessInfo.processInfo.environment.merging(["STAGELINK_SF_CONSUMER_KEY": "3MVG9-example"]) { $1 }
        let configuration = try StagelinkConfiguration.$environment.withValue(environment) {
            try StagelinkConfiguration.load(contentsOf: file.path)
        }
        #expect(configuration.every == .seconds(900))
        #expect(configuration.salesforce?.limitShare == 0.8)
        #expect(configuration.emr?.clientID == "stagelink-backend")
    }

    @Test func aBadConfigurationNamesTheFileLineAndKey() throws {
        let temporary = try TemporaryFolder("bad")
        let file = temporary.url.appendingPathComponent("stagelink.yaml")
        try "store: s.sqlite\nschedule:\n  every: 15 minutes\n".write(to: file, atomically: true, encoding: .utf8)
        #expect {
            _ = try StagelinkConfiguration.load(contentsOf: file.path)
        } throws: { error in
            "\(error)" == "\(file.path):3:10: schedule.every: \"15 minutes\" is not a duration (try 15m, 30s, 2h or 500ms)"
        }
    }

    @Test func everyCommandsHelpSaysWhatItDoesWithAnExample() throws {
        for command in Stagelink.configuration.subcommands {
            let help = command.helpMessage(columns: 200)
            #expect(!command.configuration.abstract.isEmpty, "\(command._commandName) has an abstract")
            #expect(command.configuration.abstract.hasSuffix("."), "\(command._commandName)'s abstract is a sentence")
            #expect(help.contains("Example"), "\(command._commandName) --help shows an example")
        }
    }
}
