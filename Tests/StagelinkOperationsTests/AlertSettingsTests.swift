import Foundation
import Logging
import StagelinkEngine
import Testing

@testable import StagelinkOperations

/// `alerts:` in stagelink.yaml: every rule and webhook key read, every mistake named by file, line and key.
struct AlertSettingsTests {
    /// Reads `yaml` as the `alerts:` section of a stagelink.yaml.
    static func read(_ yaml: String) throws(ConfigurationError) -> AlertSettings {
        let indented = yaml.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        let root = try YAMLReader.parse("alerts:\n" + indented, file: "stagelink.yaml")
        return try AlertSettings(reader: root.mapping(allowed: ["alerts"]).required("alerts"), expand: { reader throws(ConfigurationError) in try reader.string() })
    }

    @Test func everyRuleAndWebhookKeyIsRead() throws {
        let settings = try Self.read(
            """
            repeat: 2h
            evaluateEvery: 15s
            rules:
              newErrorCode: {}
              failedRows: { above: 100 }
              noSuccessfulPull: { for: 1h, severity: warning }
              watermarkLag: { above: 2h }
              signInRefused: {}
              apiShare: { above: 0.8 }
              conflictsHeld: { above: 20 }
              exportStuck: { for: 30m }
            webhooks:
              - { name: ops-slack, url: "https://hooks.example.org/services/T0/B0/x", format: slack, maxAttempts: 5, timeout: 20s }
              - { name: pager, url: "http://127.0.0.1:9999/alerts" }
            """)
        #expect(settings.repeatInterval == .seconds(7200))
        #expect(settings.evaluateEvery == .seconds(15))
        #expect(settings.rules.map(\.rule) == [
            .newErrorCode, .failedRows(above: 100), .noSuccessfulPull(for: .seconds(3600)), .watermarkLag(above: .seconds(7200)), .signInRefused,
            .apiShare(above: 0.8), .conflictsHeld(above: 20), .exportStuck(for: .seconds(1800)),
        ])
        #expect(settings.rules[2].severity == .warning)
        #expect(settings.rules[4].severity == .critical)
        #expect(settings.webhooks.map(\.name) == ["ops-slack", "pager"])
        #expect(settings.webhooks[0].format == .slack && settings.webhooks[0].maxAttempts == 5 && settings.webhooks[0].timeout == .seconds(20))
        #expect(settings.webhooks[1].format == .generic && settings.webhooks[1].maxAttempts == 4)
    }

    @Test(arguments: [
        ("rules:\n  failedRows: { above: -1 }\n", "stagelink.yaml:3:"), ("rules:\n  failedRows: { above: -1 }\n", "alerts.rules.failedRows.above: must be 0 or more"),
        ("rules:\n  failedRows: { for: 1h }\n", "alerts.rules.failedRows: missing required key \"above\""),
        ("rules:\n  signInRefused: { above: 2 }\n", "alerts.rules.signInRefused.above: this rule takes no threshold"),
        ("rules:\n  apiShare: { above: 80 }\n", "alerts.rules.apiShare.above: must be a share of the daily limit, above 0 and at most 1 (0.8 for 80%)"),
        ("rules:\n  failedRowz: {}\n", "failedRowz: unknown key"),
        ("webhooks:\n  - { name: a, url: \"http://hooks.example.org/x?token=SECRET\" }\n", "webhooks are posted over https"),
        ("webhooks:\n  - { name: \"a b\", url: \"https://x.example.org\" }\n", "a webhook name is 1 to 64"),
        ("webhooks:\n  - { name: a, url: \"https://x.example.org\" }\n  - { name: a, url: \"https://y.example.org\" }\n", "another webhook is already named \"a\""),
    ])
    func aMistakeIsNamedByLineAndKey(yaml: String, message: String) {
        #expect {
            _ = try Self.read(yaml)
        } throws: { error in
            let text = "\(error)"
            return text.contains(message) && !text.contains("SECRET")
        }
    }
}
